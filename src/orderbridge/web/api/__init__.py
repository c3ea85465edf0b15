"""REST API v1: the same permissions as the pages, for browser sessions and scoped API tokens."""

from __future__ import annotations

from fastapi import APIRouter

from orderbridge.web.api import alerts, catalog, contacts, meta, orders, outbox, settlements, stock

router = APIRouter(prefix="/api/v1")
for module in (meta, orders, contacts, catalog, stock, alerts, settlements, outbox):
    router.include_router(module.router)

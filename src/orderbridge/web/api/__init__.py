"""REST API v1: the same permissions as the pages, for browser sessions and scoped API tokens."""

from __future__ import annotations

from fastapi import APIRouter

from orderbridge.web.api import meta

router = APIRouter(prefix="/api/v1")
router.include_router(meta.router)

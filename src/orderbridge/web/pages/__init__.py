"""Server-rendered pages (owned by the pages work): each module's router is listed in `routers`."""

from __future__ import annotations

from fastapi import APIRouter

from orderbridge.web.pages import (
    alerts,
    catalog,
    channels,
    contacts,
    dashboard,
    inbound,
    orders,
    outbox,
    privacy,
    returns,
    search,
    settlements,
    shipping,
    stock,
    users,
)

routers: list[APIRouter] = [
    dashboard.router,
    alerts.router,
    shipping.router,  # before orders: /orders/ship is not an order id
    orders.router,
    contacts.router,
    catalog.router,
    stock.router,
    returns.router,
    inbound.router,
    settlements.router,
    outbox.router,
    channels.router,
    privacy.router,
    users.router,
    search.router,
]

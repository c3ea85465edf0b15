"""Every table of orderbridge: importing this registers all models on `Base.metadata` (for Alembic)."""

from orderbridge.amazon import (
    accounts,
    booking_records,
    calls,
    channel,
    cursors,
    inbox,
    leases,
    listings,
    quotas,
    stock_push,
)
from orderbridge.book import (
    alerts,
    catalog,
    channels,
    contacts,
    credits,
    custom_fields,
    inventory,
    payments,
    tax,
    transfers,
)
from orderbridge.book.orders import model
from orderbridge.db import Base
from orderbridge.outbox import models as outbox_models
from orderbridge.privacy import models as privacy_models
from orderbridge.web import users as web_users

MODULES = (
    inbox,
    cursors,
    leases,
    booking_records,
    channel,
    listings,
    accounts,
    calls,
    quotas,
    alerts,
    catalog,
    channels,
    contacts,
    credits,
    custom_fields,
    inventory,
    model,
    payments,
    tax,
    transfers,
    privacy_models,
    outbox_models,
    stock_push,
    web_users,
)
metadata = Base.metadata

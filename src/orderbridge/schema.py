"""Every table of orderbridge: importing this registers all models on `Base.metadata` (for Alembic)."""

from orderbridge.amazon import (
    accounts,
    booking_records,
    calls,
    channel,
    cursors,
    fba_claims,
    fba_ledger,
    fba_opening,
    inbound,
    inbox,
    leases,
    listings,
    quotas,
    report_inbox,
    returns,
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
    settlements,
    tax,
    transfers,
)
from orderbridge.book.orders import model
from orderbridge.db import Base
from orderbridge.notify import notices
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
    report_inbox,
    alerts,
    catalog,
    channels,
    contacts,
    credits,
    custom_fields,
    inventory,
    model,
    payments,
    settlements,
    tax,
    transfers,
    privacy_models,
    outbox_models,
    stock_push,
    web_users,
    inbound,
    notices,
    fba_ledger,
    fba_opening,
    fba_claims,
    returns,
)
metadata = Base.metadata

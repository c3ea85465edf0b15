"""Every table of orderbridge: importing this registers all models on `Base.metadata` (for Alembic)."""

from orderbridge.amazon import accounts, channel, fba_warehouses, leases, listings
from orderbridge.amazon.api import calls, quotas
from orderbridge.amazon.fba import claims as fba_claims
from orderbridge.amazon.fba import records as fba_records
from orderbridge.amazon.orders import cursors, inbox
from orderbridge.amazon.orders import records as order_records
from orderbridge.amazon.outbound import listing_quantities
from orderbridge.amazon.reports import inbox as report_inbox
from orderbridge.amazon.reports import returns
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
from orderbridge.book.orders import carriers, model
from orderbridge.db import Base
from orderbridge.notify import notices
from orderbridge.outbox import models as outbox_models
from orderbridge.privacy import models as privacy_models
from orderbridge.web import users as web_users

MODULES = (
    inbox,
    cursors,
    leases,
    order_records,
    channel,
    fba_warehouses,
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
    carriers,
    payments,
    settlements,
    tax,
    transfers,
    privacy_models,
    outbox_models,
    listing_quantities,
    web_users,
    notices,
    fba_records,
    fba_claims,
    returns,
)
metadata = Base.metadata

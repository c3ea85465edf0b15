"""A small seller's book for the browser tests, booked the way a sync books it: one Amazon UK account,
an order ready to ship, and an order in quarantine because its SKU is not connected to any product
(EU prices include tax, and the only tax rule is for the products' tax class)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from orderbridge.amazon.accounts import NewAccount, add_account
from orderbridge.amazon.channel import ChannelSettings, channel_for, save_settings
from orderbridge.amazon.listings import Listing, SeenListing, connect_listing, record_seen
from orderbridge.amazon.orders.inbox import InboxItem, InboxStatus, store_orders
from orderbridge.amazon.orders.sync import SyncDeps, book_inbox
from orderbridge.book.catalog import save_product
from orderbridge.book.inventory import MovementReason, add_warehouse, move_stock
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.orders.statuses import ensure_default_statuses
from orderbridge.book.tax import add_nominal_code, add_tax_code, add_tax_rule, company
from tests.amazon.orders.test_mapping_payloads import Line, Spec, order
from tests.web.conftest import WebApp

UK = "A1F83G8C2ARO7P"
READY_ORDER = "202-1000001-1000001"
QUARANTINED_ORDER = "202-1000002-1000002"
BUYER = "Ann Example"


@dataclass(frozen=True)
class World:
    ready_order_id: int
    unconnected_listing_id: int
    account_id: int


def _never(_account: object) -> object:
    raise AssertionError("the browser world never calls Amazon")


def build_world(web: WebApp) -> World:
    created = web.clock().timestamp() - 3600
    with web.sessions.begin() as session:
        ensure_default_statuses(session)
        add_tax_code(session, "T20", "Standard 20%", Decimal("0.20"))
        add_tax_rule(session, "T20", tax_class="standard")
        add_nominal_code(session, "4000", "Sales")
        company(session).sales_nominal_code = "4000"
        account = add_account(
            session,
            web.keys,
            NewAccount(
                selling_partner_id="A2SELLERUK01",
                name="UK shop",
                region="EU",
                lwa_client_id="amzn1.application-oa2-client.browser",
                client_secret="client-secret",
                refresh_token="Atzr|browser",
                marketplaces=["UK"],
            ),
            clock=web.clock,
        )
        channel = channel_for(session, UK)
        warehouse = add_warehouse(session, "MAIN", "Main warehouse")
        mug = save_product(session, "MUG-1", "Blue mug", tax_class="standard", sales_nominal_code="4000")
        save_product(session, "TEA-1", "Breakfast tea", tax_class="standard", sales_nominal_code="4000")
        session.flush()
        move_stock(
            session, mug, warehouse, 10, reason=MovementReason.RECEIPT, reference="opening", now=web.clock()
        )
        save_settings(session, channel, ChannelSettings(fbm_warehouse="MAIN"))
        connect_listing(session, channel, "AMZ-MUG", "MUG-1", now=web.clock())
        record_seen(
            session, channel, [SeenListing("AMZ-TEA", title="Breakfast tea, 80 bags")], now=web.clock()
        )
        docs = [
            order(
                Spec(
                    order_id=READY_ORDER, name=BUYER, lines=[Line(sku="AMZ-MUG", quantity=2)], created=created
                )
            ),
            order(Spec(order_id=QUARANTINED_ORDER, name=BUYER, lines=[Line(sku="AMZ-TEA")], created=created)),
        ]
        store_orders(session, account.id, docs, now=web.clock())
        account_id = account.id
    book_inbox(
        account_id, SyncDeps(sessions=web.sessions, client_factory=_never, clock=web.clock, keys=web.keys)
    )  # type: ignore[arg-type]
    with web.sessions() as session:
        ready = session.scalar(select(SalesOrder.id).where(SalesOrder.external_ref == READY_ORDER))
        held = session.scalar(select(InboxItem).where(InboxItem.natural_id == QUARANTINED_ORDER))
        listing = session.scalar(select(Listing.id).where(Listing.seller_sku == "AMZ-TEA"))
        assert ready is not None and listing is not None
        assert held is not None and held.status == InboxStatus.QUARANTINED, held and held.reason
    return World(ready, listing, account_id)

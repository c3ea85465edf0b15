"""`map_order`: one v2026-01-01 Order plus channel settings and looked-up facts -> a MappedOrder (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from orderbridge.amazon.channel import ChannelBook, ChannelSettings
from orderbridge.amazon.marketplaces import by_id
from orderbridge.amazon.orders.mapping.at_amazon import EASY_SHIP, at_amazon
from orderbridge.amazon.orders.mapping.commands import (
    AlertSpec,
    AmazonState,
    FieldValue,
    MappedOrder,
    OrderFacts,
    Outcome,
)
from orderbridge.amazon.orders.mapping.customer import customer
from orderbridge.amazon.orders.mapping.fields import Reader
from orderbridge.amazon.orders.mapping.rows import (
    RowPlan,
    add_item,
    check_total,
    cod_fee_row,
    delivery_tip_row,
    shipping_row,
)
from orderbridge.book.orders.commands import NewOrder
from orderbridge.book.orders.model import Fulfilment

# Model: FulfillmentStatus. Pending orders may still be cancelled by the buyer (O1).
PENDING = frozenset({"PENDING", "PENDING_AVAILABILITY"})
READY = frozenset({"UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"})
# Model: OrderFulfillment.shipByWindow / deliverByWindow (DateTimeRange): the end of each window.
SHIP_BY = "fulfillment.shipByWindow.latestDateTime"
DELIVER_BY = "fulfillment.deliverByWindow.latestDateTime"


def map_order(doc: object, book: ChannelBook, facts: OrderFacts) -> MappedOrder:
    """Every rule of REQUIREMENTS.md that the order itself decides; raises MappingError if malformed."""
    r = Reader(doc)
    updated = r.timestamp(r.doc, "lastUpdatedTime", "lastUpdatedTime")
    placed = r.timestamp(r.doc, "createdTime", "createdTime")
    status = r.text(r.doc, "fulfillment.fulfillmentStatus", "fulfillment.fulfillmentStatus", required=True)
    marketplace = r.text(r.doc, "salesChannel.marketplaceId", "salesChannel.marketplaceId")
    if marketplace is not None and marketplace != book.marketplace_id:
        raise r.fail(
            "salesChannel.marketplaceId", f"{marketplace} is not this channel's {book.marketplace_id}"
        )
    head = MappedOrder(r.order_id, book.channel_id, updated, state=AmazonState.READY, outcome=Outcome.BOOK)
    skipped = skip_reason(r, status or "")
    if skipped is not None:
        return replace(head, outcome=Outcome.SKIP, reason=skipped)
    quantities = _quantities(r)
    requested = _cancellation_requested(r)
    head = replace(head, at_amazon=at_amazon(r, status or "", updated))
    if status == "CANCELLED":
        # O21 (while Pending, pending download on) or O22 (after Ready): the apply step decides.
        return replace(
            head,
            state=AmazonState.CANCELLED,
            outcome=Outcome.CANCEL,
            reason="cancelled at Amazon",
            item_quantities=quantities,
            cancellation_requested=requested,
        )
    pending = status in PENDING
    if pending and not book.settings.download_pending:
        reason = "pending at Amazon (payment not yet confirmed): it is booked once Amazon releases it"
        return replace(head, state=AmazonState.PENDING, outcome=Outcome.WAIT, reason=reason)
    return _book(
        r, book, facts, placed=placed, pending=pending, head=head, quantities=quantities, requested=requested
    )


def skip_reason(r: Reader, status: str) -> str | None:
    """O19: orders the book does not take as sales, with the reason the operator sees."""
    if status not in PENDING | READY | {"CANCELLED", "UNFULFILLABLE"}:
        raise r.fail("fulfillment.fulfillmentStatus", f"unknown status {status!r}")
    if r.text(r.doc, "salesChannel.channelName", "salesChannel.channelName", required=True) == "NON_AMAZON":
        return (
            "a multi-channel fulfilment order (sold elsewhere, shipped by Amazon): not a sale on this "
            "marketplace"
        )
    if status == "UNFULFILLABLE":
        return "Amazon cannot fulfil this order: not a sale on this marketplace"
    for n, association in enumerate(r.items(r.doc, "associatedOrders", "associatedOrders")):
        kind = r.text(association, "associationType", f"associatedOrders.{n}.associationType")
        if kind in ("REPLACEMENT_ORIGINAL_ID", "EXCHANGE_ORIGINAL_ID"):
            by = r.text(r.doc, "fulfillment.fulfilledBy", "fulfillment.fulfilledBy")
            original = r.text(association, "orderId", f"associatedOrders.{n}.orderId") or "?"
            label = "FBA" if by == "AMAZON" else "FBM"
            return f"a replacement {label} order for {original}: not a new sale"
    return None


def _book(
    r: Reader,
    book: ChannelBook,
    facts: OrderFacts,
    *,
    placed: datetime,
    pending: bool,
    head: MappedOrder,
    quantities: dict[str, int],
    requested: bool,
) -> MappedOrder:
    settings = book.settings
    programs = set(r.texts(r.doc, "programs", "programs"))
    by_amazon = r.text(r.doc, "fulfillment.fulfilledBy", "fulfillment.fulfilledBy") == "AMAZON"
    prime = "PRIME" in programs
    sfp = prime and not by_amazon  # Seller Fulfilled Prime (O20)
    # O24: Amazon collects Easy Ship orders; an SFP order may be confirmed by another system (O20).
    no_confirmation = EASY_SHIP in programs or (sfp and settings.skip_sfp_shipment_confirmation)
    plan = RowPlan(currency=_currency(r, book), pending=pending)
    for index, item in enumerate(r.items(r.doc, "orderItems", "orderItems")):
        add_item(r, plan, item, index=index, book=book, facts=facts)
    method = shipping_method_name(r)
    extra = (
        shipping_row(plan, book, facts, method),
        cod_fee_row(plan, book, facts),
        delivery_tip_row(r, plan.currency, book),
    )
    rows = tuple(plan.rows) + tuple(row for row in extra if row is not None)
    if not rows:
        raise r.fail("orderItems", "no item with a quantity to book")
    if not pending:
        check_total(r, plan.currency, rows)
    who = customer(r, book, facts, pending=pending)
    order = NewOrder(
        channel_id=book.channel_id,
        external_ref=r.order_id,
        contact_id=who.contact_id,
        status_id=_status_id(r, book, status_name(settings, pending=pending, prime=prime, fba=by_amazon)),
        currency=plan.currency,
        placed_at=placed,
        rows=rows,
        billing=who.billing,
        delivery=who.delivery,
        fulfilment=Fulfilment.CHANNEL if by_amazon else Fulfilment.SELLER,
        warehouse_id=book.fba_warehouse_id if by_amazon else book.fbm_warehouse_id,
        price_list_id=book.price_list_id,
        withheld_tax=plan.withheld_tax,
        notes=_notes(r),
        note_source="amazon",
        channel_programs=" ".join(sorted(programs))[:300] or None,
        confirm_shipments=not no_confirmation,
        # O24: the promised windows, kept where a seller filters by them (the late and due-today lists)
        ship_by=r.optional_timestamp(r.doc, SHIP_BY, SHIP_BY),
        deliver_by=r.optional_timestamp(r.doc, DELIVER_BY, DELIVER_BY),
    )
    values, alerts = _field_values(r, settings, plan, programs=programs, sfp=sfp)
    if requested:
        alerts.append(
            AlertSpec(
                "cancellation_requested",
                f"The buyer asked Amazon to cancel Amazon order {r.order_id}. Cancel the order in the book "
                "if it has not shipped yet, or ship it and clear this alert",
            )
        )
    return MappedOrder(  # every field: cheaper than dataclasses.replace on the hot path
        head.amazon_order_id,
        head.channel_id,
        head.last_updated,
        state=AmazonState.PENDING if pending else AmazonState.READY,
        outcome=Outcome.BOOK,
        order=order,
        new_contact=who.new_contact,
        shipping_method=method,
        field_values=tuple(values),
        alerts=tuple(plan.alerts + alerts),
        item_quantities=quantities,
        cancellation_requested=requested,
        seen_listings=tuple(plan.seen),
        seller_fulfilled_prime=sfp,
        skip_shipment_confirmation=no_confirmation,
        at_amazon=head.at_amazon,
    )


def status_name(settings: ChannelSettings, *, pending: bool, prime: bool, fba: bool) -> str:
    """O3: pending status; else Seller Fulfilled Prime's if set; else FBA's if set; else the new-order
    status. v2026 marks FBA orders PRIME too, so only PRIME on a merchant-fulfilled order is the seed's
    "Prime order" (SFP, shipped first by the seller); an FBA order takes the FBA status whatever its
    programs."""
    if pending:
        return settings.status_pending
    if prime and not fba and settings.status_new_prime:
        return settings.status_new_prime
    if fba and settings.status_new_fba:
        return settings.status_new_fba
    return settings.status_new


def _status_id(r: Reader, book: ChannelBook, name: str) -> int:
    status_id = book.status_ids.get(name)
    if status_id is None:
        raise r.fail(
            "fulfillment.fulfillmentStatus", f"order status {name!r} of the channel settings is gone"
        )
    return status_id


def shipping_method_name(r: Reader) -> str:
    """O8: the name Amazon sends. v2026 has no free-text service level (SPAPI.md §5): the package's
    shipping service when there is one, else the service-level category."""
    for n, package in enumerate(r.items(r.doc, "packages", "packages")):
        service = r.text(package, "shippingService", f"packages.{n}.shippingService")
        if service:
            return service[:200]
    level = r.text(r.doc, "fulfillment.fulfillmentServiceLevel", "fulfillment.fulfillmentServiceLevel")
    return level or "STANDARD"


def _currency(r: Reader, book: ChannelBook) -> str:
    total = r.money(r.doc, "proceeds.grandTotal", "proceeds.grandTotal")
    if total is not None:
        return total[1]
    for n, item in enumerate(r.items(r.doc, "orderItems", "orderItems")):
        unit = r.money(item, "product.price.unitPrice", f"orderItems.{n}.product.price.unitPrice")
        if unit is not None:
            return unit[1]
    # Pending orders hold no prices yet: the marketplace's currency (SPAPI.md §1).
    market = by_id(book.marketplace_id)
    if market is None:
        raise r.fail("proceeds.grandTotal", f"no money and no known currency for {book.marketplace_id}")
    return market.currency


def _quantities(r: Reader) -> dict[str, int]:
    found = {}
    for n, item in enumerate(r.items(r.doc, "orderItems", "orderItems")):
        item_id = r.text(item, "orderItemId", f"orderItems.{n}.orderItemId", required=True) or ""
        found[item_id] = r.integer(item, "quantityOrdered", f"orderItems.{n}.quantityOrdered")
    return found


def _cancellation_requested(r: Reader) -> bool:
    """O22: a buyer's cancellation request on an item (the order is not cancelled by it)."""
    items = r.items(r.doc, "orderItems", "orderItems")
    return any(r.get(item, "cancellation.cancellationRequest") for item in items)


def _notes(r: Reader) -> tuple[str, ...]:
    """O11: the buyer's delivery instructions are the order-level free text v2026 carries (buyer PII, P2)."""
    preference = r.obj(r.doc, "recipient.deliveryPreference", "recipient.deliveryPreference")
    notes = []
    instruction = r.text(preference, "addressInstruction", "recipient.deliveryPreference.addressInstruction")
    if instruction:
        notes.append(f"Delivery instructions: {instruction}")
    drop_off = r.text(preference, "dropOffLocation", "recipient.deliveryPreference.dropOffLocation")
    if drop_off:
        notes.append(f"Drop-off location: {drop_off}")
    return tuple(notes)


def _field_values(
    r: Reader, settings: ChannelSettings, plan: RowPlan, *, programs: set[str], sfp: bool
) -> tuple[list[FieldValue], list[AlertSpec]]:
    values: list[FieldValue] = []
    alerts: list[AlertSpec] = []

    def put(setting: str, value: str | bool | None) -> None:
        code = getattr(settings, setting)
        if code is not None and value is not None and value != "":
            values.append(FieldValue(setting, code, value))

    if plan.gift_messages:  # O12
        if settings.gift_message_field is None:
            # A setting missing for the whole channel: one warning on the channel (channel_warnings.py).
            alerts.append(AlertSpec("gift_message_unmapped", "gift messages unmapped", channel_wide=True))
        put("gift_message_field", "\n".join(plan.gift_messages))
    if "AMAZON_BUSINESS" in programs:  # O18
        put("business_field", True)
        put(
            "po_number_field",
            r.text(r.doc, "buyer.buyerPurchaseOrderNumber", "buyer.buyerPurchaseOrderNumber"),
        )
        put("buyer_vat_field", _buyer_vat(r))
    if sfp:  # O20: a permanent prime flag
        put("prime_flag_field", True)
    return values, alerts


def _buyer_vat(r: Reader) -> str | None:
    """O18: the buyer's VAT (else business) registration number from the order's tax registrations."""
    registrations = r.items(r.doc, "tax.taxRegistrations", "tax.taxRegistrations")
    buyers = [reg for reg in registrations if reg.get("entityType") == "BUYER"]
    buyers.sort(key=lambda reg: reg.get("taxRegistrationType") != "VAT")
    for reg in buyers:
        number = reg.get("taxRegistrationNumber")
        if isinstance(number, str) and number.strip():
            return number.strip()[:255]
    return None

"""FBA inventory events: customer returns, replacements, reimbursements, lost / damaged / found / disposed."""

from __future__ import annotations

from decimal import Decimal

from orderbridge.simulator import lifecycle
from orderbridge.simulator.errors import invalid_input
from orderbridge.simulator.marketplaces import BY_ID, Marketplace
from orderbridge.simulator.order_builder import Cart, CartLine
from orderbridge.simulator.world import FbaEvent, FinancialEvent, LedgerEvent, SimOrder, World

# Ledger adjustment reason codes (SPAPI.md §8.3): kind -> [(reason, sign, disposition)].
ADJUSTMENTS: dict[str, list[tuple[str, int, str]]] = {
    "lost": [("M", -1, "SELLABLE")],
    "found": [("F", 1, "SELLABLE")],
    "damaged": [("E", -1, "SELLABLE"), ("P", 1, "WAREHOUSE_DAMAGED")],
    "disposed": [("D", -1, "SELLABLE")],
}
CLAIMABLE = frozenset({"M", "5", "E", "6", "7", "H", "K", "U"})  # lost / damaged at Amazon
RETURN_DISPOSITIONS = ("SELLABLE", "DAMAGED", "CUSTOMER_DAMAGED", "DEFECTIVE", "CARRIER_DAMAGED", "EXPIRED")


def _country(world: World, seller_id: str) -> Marketplace:
    return BY_ID[world.accounts[seller_id].marketplace_ids[0]]


def receive(world: World, seller_id: str, sku: str, quantity: int, *, fc: str, shipment_id: str) -> None:
    """Units received at an FC from an inbound shipment: ledger Receipts."""
    world.record_ledger(
        LedgerEvent(
            seller_id,
            world.now,
            sku,
            "Receipts",
            shipment_id,
            quantity,
            fc,
            country=_country(world, seller_id).country_code,
        )
    )


def adjust(world: World, seller_id: str, sku: str, kind: str, *, quantity: int, fc: str) -> None:
    """Lost, found, damaged or disposed units: ledger Adjustments rows with Amazon's reason codes."""
    if kind not in ADJUSTMENTS:
        raise invalid_input(f"unknown adjustment kind {kind!r}; use one of {sorted(ADJUSTMENTS)}")
    reference = f"{world.rng.randint(10**7, 10**8 - 1)}"
    if kind == "found":
        reconcile(world, seller_id, sku, quantity)
    for reason, sign, disposition in ADJUSTMENTS[kind]:
        world.record_ledger(
            LedgerEvent(
                seller_id,
                world.now,
                sku,
                "Adjustments",
                reference,
                sign * quantity,
                fc,
                disposition,
                reason,
                _country(world, seller_id).country_code,
                reconciled=0 if reason in CLAIMABLE else None,
            )
        )


def reconcile(world: World, seller_id: str, sku: str, quantity: int) -> None:
    """Units reimbursed or found resolve the oldest open lost / damaged ledger rows of the SKU."""
    for event in world.ledger:
        if quantity <= 0:
            return
        if event.seller_id == seller_id and event.sku == sku and event.reconciled is not None:
            taken = min(abs(event.quantity) - event.reconciled, quantity)
            event.reconciled += taken
            quantity -= taken


def customer_return(
    world: World,
    order: SimOrder,
    sku: str,
    quantity: int,
    *,
    disposition: str = "SELLABLE",
    reason: str = "UNWANTED",
) -> None:
    """A buyer returns shipped units: returns report row, ledger (FBA) and a settlement refund."""
    item = next((i for i in order.doc["orderItems"] if i["product"]["sellerSku"] == sku), None)
    if item is None or item["fulfillment"]["quantityFulfilled"] < quantity:
        raise invalid_input(f"order {order.order_id} has not shipped {quantity} of {sku}")
    mkt = BY_ID[order.marketplace_id]
    fields = {"disposition": disposition, "reason": reason, "status": "Unit returned to inventory"}
    if order.fulfilled_by == "AMAZON":
        fc = mkt.fulfillment_centers[0]
        fields["fc"] = fc
        fields["lpn"] = f"LPN{world.rng.randint(10**9, 10**10 - 1)}"
        world.fba_events.append(
            FbaEvent(order.seller_id, "RETURN", world.now, sku, order.order_id, quantity, fields)
        )
        world.record_ledger(
            LedgerEvent(
                order.seller_id,
                world.now,
                sku,
                "CustomerReturns",
                order.order_id,
                quantity,
                fc,
                disposition,
                "",
                mkt.country_code,
            )
        )
    else:
        fields["rma"] = f"D{world.rng.randint(10**8, 10**9 - 1)}"
        world.fba_events.append(
            FbaEvent(order.seller_id, "MFN_RETURN", world.now, sku, order.order_id, quantity, fields)
        )
    lifecycle.refund(world, order, sku, quantity)


def replace_order(world: World, order: SimOrder, sku: str, quantity: int, reason_code: str = "5") -> SimOrder:
    """Amazon ships a free replacement from FBA stock: a replacement order and a replacements row."""
    mkt = BY_ID[order.marketplace_id]
    listing = world.listing(order.seller_id, sku)
    buyer = world.buyers.get(order.buyer_id)
    if listing is None or buyer is None:
        raise invalid_input(f"cannot replace {sku} of order {order.order_id}: unknown listing or buyer")
    cart = Cart(
        order.seller_id,
        mkt,
        buyer,
        [CartLine(listing, quantity)],
        world.now,
        fulfilled_by="AMAZON",
        replaces_order_id=order.order_id,
    )
    replacement = lifecycle.place(world, cart)
    lifecycle.make_ready(world, replacement)
    lifecycle.ship_by_amazon(world, replacement)
    fc = mkt.fulfillment_centers[0]
    fields = {
        "fc": fc,
        "original_fc": fc,
        "reason": reason_code,
        "replacement_order_id": replacement.order_id,
    }
    world.fba_events.append(
        FbaEvent(order.seller_id, "REPLACEMENT", world.now, sku, order.order_id, quantity, fields)
    )
    return replacement


def reimburse(
    world: World,
    seller_id: str,
    sku: str,
    quantity: int,
    *,
    reason: str = "Lost_Warehouse",
    order_id: str = "",
    inventory: bool = False,
    amount_per_unit: Decimal | None = None,
) -> None:
    """Amazon pays for (or replaces) lost / damaged units: reimbursements row, settlement row, ledger N."""
    listing = world.listing(seller_id, sku)
    mkt = _country(world, seller_id)
    if listing is None:
        raise invalid_input(f"unknown SKU {sku}")
    unit = amount_per_unit if amount_per_unit is not None else listing.prices.get(mkt.code, Decimal("10")) / 2
    unit = unit.quantize(Decimal("0.01"))
    reimbursement_id = f"{world.rng.randint(10**9, 10**10 - 1)}"
    cash = 0 if inventory else quantity
    fields = {
        "reimbursement_id": reimbursement_id,
        "reason": reason,
        "currency": mkt.currency,
        "amount_per_unit": str(unit),
        "amount_total": str(unit * cash),
        "cash": str(cash),
        "inventory": str(quantity - cash),
        "case_id": "",
    }
    world.fba_events.append(FbaEvent(seller_id, "REIMBURSEMENT", world.now, sku, order_id, quantity, fields))
    reconcile(world, seller_id, sku, quantity)
    if cash:
        description = "WAREHOUSE_DAMAGED" if reason.startswith("Damaged") else "WAREHOUSE_LOST"
        world.financial_events.append(
            FinancialEvent(
                seller_id,
                mkt.marketplace_id,
                world.now,
                "other-transaction",
                order_id,
                "FBA Inventory Reimbursement",
                description,
                unit * cash,
                sku=sku,
                quantity=cash,
                adjustment_id=reimbursement_id,
            )
        )
    else:
        world.record_ledger(
            LedgerEvent(
                seller_id,
                world.now,
                sku,
                "Adjustments",
                reimbursement_id,
                quantity,
                mkt.fulfillment_centers[0],
                "SELLABLE",
                "N",
                mkt.country_code,
            )
        )

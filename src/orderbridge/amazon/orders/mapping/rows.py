"""Order rows from Amazon order items: product, bundle or free-text rows, gift wrap, shipping, and money."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from orderbridge.amazon.channel import ChannelBook, TaxBehaviour
from orderbridge.amazon.listings import ListingFulfilment, SeenListing
from orderbridge.amazon.orders.mapping.commands import AlertSpec, ListingFact, OrderFacts, TaxChoice
from orderbridge.amazon.orders.mapping.fields import Doc, Reader
from orderbridge.book.money import round_money, split_gross
from orderbridge.book.orders.commands import NewRow
from orderbridge.book.orders.model import RowKind

ZERO = Decimal(0)
# Model: ItemProceedsBreakdown.type; ITEM, DISCOUNT, COD_FEE and OTHER book on the goods row.
GOODS_PARTS = ("ITEM", "DISCOUNT", "COD_FEE", "OTHER")


@dataclass
class RowPlan:
    """Rows of an order as they are built item by item; shipping is one row at the end (O9)."""

    currency: str
    pending: bool = False
    rows: list[NewRow] = field(default_factory=list)
    shipping_net: Decimal = ZERO
    shipping_tax: Decimal = ZERO
    shipping_gross: Decimal = ZERO
    withheld_tax: Decimal = ZERO
    gift_messages: list[str] = field(default_factory=list)
    seen: list[SeenListing] = field(default_factory=list)
    alerts: list[AlertSpec] = field(default_factory=list)


@dataclass(frozen=True)
class ItemMoney:
    """An item's amounts by proceeds type, and its tax by detailed subtype (as Amazon sent them)."""

    parts: dict[str, Decimal]
    taxes: dict[str, Decimal]

    def part(self, *names: str) -> Decimal:
        return sum((self.parts.get(name, ZERO) for name in names), ZERO)

    def tax(self, *names: str) -> Decimal:
        return sum((self.taxes.get(name, ZERO) for name in names), ZERO)


def item_money(r: Reader, item: Doc, where: str, currency: str, quantity: int) -> ItemMoney:
    """Proceeds by type; a Pending item has none, so its unit price (if any) stands in (O2)."""
    parts: dict[str, Decimal] = {}
    taxes: dict[str, Decimal] = {}
    for n, breakdown in enumerate(r.items(item, "proceeds.breakdowns", f"{where}.proceeds.breakdowns")):
        at = f"{where}.proceeds.breakdowns.{n}"
        kind = r.text(breakdown, "type", f"{at}.type", required=True) or ""
        amount = _amount(r, breakdown, "subtotal", f"{at}.subtotal", currency)
        parts[kind] = parts.get(kind, ZERO) + amount
        if kind == "TAX":
            for m, detail in enumerate(r.items(breakdown, "detailedBreakdowns", f"{at}.detailedBreakdowns")):
                sub = r.text(detail, "subtype", f"{at}.detailedBreakdowns.{m}.subtype", required=True) or ""
                value = _amount(r, detail, "value", f"{at}.detailedBreakdowns.{m}.value", currency)
                taxes[sub] = taxes.get(sub, ZERO) + value
    if parts.get("TAX", ZERO) != sum(taxes.values(), ZERO):
        # No (or incomplete) detail: the tax not attributed belongs to the goods (SPAPI.md §14 O14).
        taxes["ITEM"] = taxes.get("ITEM", ZERO) + parts.get("TAX", ZERO) - sum(taxes.values(), ZERO)
    if not parts:
        unit = r.money(item, "product.price.unitPrice", f"{where}.product.price.unitPrice")
        if unit is not None:
            _same_currency(r, unit[1], currency, f"{where}.product.price.unitPrice")
            parts["ITEM"] = unit[0] * quantity
    return ItemMoney(parts, taxes)


def _amount(r: Reader, node: Doc, key: str, where: str, currency: str) -> Decimal:
    money = r.money(node, key, where)
    if money is None:
        raise r.fail(where, "missing")
    _same_currency(r, money[1], currency, where)
    return money[0]


def _same_currency(r: Reader, found: str, currency: str, where: str) -> None:
    if found != currency:
        raise r.fail(f"{where}.currencyCode", f"{found} differs from the order's currency {currency}")


def add_item(
    r: Reader, plan: RowPlan, item: Doc, *, index: int, book: ChannelBook, facts: OrderFacts
) -> None:
    """The goods row of one item (O5-O7), its gift-wrap row below it (O10), its shipping share (O9)."""
    where = f"orderItems.{index}"
    item_id = r.text(item, "orderItemId", f"{where}.orderItemId", required=True) or ""
    quantity = r.integer(item, "quantityOrdered", f"{where}.quantityOrdered")
    sku = r.text(item, "product.sellerSku", f"{where}.product.sellerSku", required=True) or ""
    title = r.text(item, "product.title", f"{where}.product.title")
    fulfilled_by = r.text(r.doc, "fulfillment.fulfilledBy", "fulfillment.fulfilledBy")
    plan.seen.append(
        SeenListing(
            sku,
            r.text(item, "product.asin", f"{where}.product.asin"),
            title,
            ListingFulfilment.FBA if fulfilled_by == "AMAZON" else ListingFulfilment.FBM,
        )
    )
    listing = facts.listings.get(sku)
    tax_class = listing.tax_class if listing is not None else None
    choice = _tax_choice(r, book, facts, tax_class, f"{where}.product.sellerSku")
    nominal = (listing.sales_nominal_code if listing else None) or book.sales_nominal_code
    if quantity == 0:  # O21: every unit cancelled: the row stays, quantity and price 0
        plan.rows.append(
            _goods_row(
                item_id,
                sku,
                title=title,
                quantity=0,
                listing=listing,
                net=ZERO,
                tax=ZERO,
                choice=choice,
                nominal=nominal,
            )
        )
        return
    if not plan.pending and r.get(item, "proceeds") is None:
        # A Ready order carries its money (includedData PROCEEDS); booking it at 0 would be wrong.
        raise r.fail(f"{where}.proceeds", "missing on a Ready order (ask for includedData PROCEEDS)")
    money = item_money(r, item, where, plan.currency, quantity)
    goods_net, goods_tax = _net_and_tax(
        book, choice, plan.currency, money.part(*GOODS_PARTS), money.tax(*GOODS_PARTS)
    )
    plan.rows.append(
        _goods_row(
            item_id,
            sku,
            title=title,
            quantity=quantity,
            listing=listing,
            net=goods_net,
            tax=goods_tax,
            choice=choice,
            nominal=nominal,
        )
    )
    if listing is None:
        plan.alerts.append(
            AlertSpec(
                "unconnected_listing",
                f"SKU {sku} is not connected to a product, so the order row was booked as free text and "
                "holds no stock. Connect the listing to a product on the Listings page",
            )
        )
    wrap_net, wrap_tax = _net_and_tax(
        book, choice, plan.currency, money.part("GIFT_WRAP"), money.tax("GIFT_WRAP")
    )
    level = r.text(item, "fulfillment.packing.giftOption.giftWrapLevel", f"{where}.fulfillment.packing")
    if level is not None or wrap_net + wrap_tax != ZERO:
        plan.rows.append(
            NewRow(
                kind=RowKind.GIFT_WRAP,
                name=f"Gift wrap ({level})" if level else "Gift wrap",
                quantity=1,
                net=wrap_net,
                tax=wrap_tax,
                sku=sku,
                tax_code=choice.code if choice else None,
                nominal_code=nominal,
                external_ref=f"{item_id}:gift-wrap",
            )
        )
    message = r.text(item, "fulfillment.packing.giftOption.giftMessage", f"{where}.fulfillment.packing")
    if message:
        plan.gift_messages.append(f"{sku}: {message}")  # O12: prefixed with the item's SKU
    plan.shipping_net += money.part("SHIPPING")
    plan.shipping_tax += money.tax("SHIPPING")
    plan.shipping_gross += money.part("SHIPPING")
    if _facilitator(r, item, where):
        # O16: Amazon withholds and remits this item's tax as marketplace facilitator.
        plan.withheld_tax += goods_tax + wrap_tax + _shipping_tax_of(book, money)


def _shipping_tax_of(book: ChannelBook, money: ItemMoney) -> Decimal:
    return money.tax("SHIPPING") if book.tax_behaviour == TaxBehaviour.NET_AS_SENT else ZERO


def _facilitator(r: Reader, item: Doc, where: str) -> bool:
    collections = r.items(item, "tax.taxCollections", f"{where}.tax.taxCollections")
    return any(c.get("model") == "MARKETPLACE_FACILITATOR" for c in collections)


def _goods_row(
    item_id: str,
    sku: str,
    *,
    title: str | None,
    quantity: int,
    listing: ListingFact | None,
    net: Decimal,
    tax: Decimal,
    choice: TaxChoice | None,
    nominal: str | None,
) -> NewRow:
    if listing is None:  # O6: a free-text row: no product, no allocation, cannot be shipped
        kind, name, product_id = RowKind.FREE_TEXT, title or sku, None
    else:  # O5 / O7: the booking expands a bundle into its components
        kind = RowKind.BUNDLE if listing.is_bundle else RowKind.PRODUCT
        name, product_id = listing.name, listing.product_id
    return NewRow(
        kind=kind,
        name=name[:500],
        quantity=quantity,
        net=net,
        tax=tax,
        sku=sku,
        product_id=product_id,
        tax_code=choice.code if choice else None,
        nominal_code=nominal,
        external_ref=item_id,
    )


def _tax_choice(
    r: Reader, book: ChannelBook, facts: OrderFacts, tax_class: str | None, where: str
) -> TaxChoice | None:
    choice = facts.tax.get(tax_class)
    if choice is None and book.tax_behaviour == TaxBehaviour.GROSS_RECALCULATED:
        # O15 needs a rate to take the tax out of Amazon's gross: a settings problem, retried after a fix.
        raise r.fail(
            where, f"no tax code for tax class {tax_class!r} on {book.marketplace_id}; add a tax rule"
        )
    return choice


def _net_and_tax(
    book: ChannelBook, choice: TaxChoice | None, currency: str, amount: Decimal, sent_tax: Decimal
) -> tuple[Decimal, Decimal]:
    if book.tax_behaviour == TaxBehaviour.NET_AS_SENT:
        # O14: net as sent, tax as Amazon sent it (not recalculated).
        return round_money(amount, currency), round_money(sent_tax, currency)
    # O15: the amount includes tax; split exactly so that net + tax == Amazon's gross.
    assert choice is not None
    return split_gross(amount, choice.rate, currency)


def shipping_row(plan: RowPlan, book: ChannelBook, facts: OrderFacts, name: str) -> NewRow | None:
    """O9: the shipping charges as their own row, on the shipping nominal code (O17)."""
    choice = facts.tax.get(None)
    if book.tax_behaviour == TaxBehaviour.NET_AS_SENT:
        net, tax = (
            round_money(plan.shipping_net, plan.currency),
            round_money(plan.shipping_tax, plan.currency),
        )
    elif choice is None:
        net, tax = round_money(plan.shipping_gross, plan.currency), ZERO
    else:
        net, tax = split_gross(plan.shipping_gross, choice.rate, plan.currency)
    if net == ZERO and tax == ZERO:
        return None
    return NewRow(
        kind=RowKind.SHIPPING,
        name=name,
        quantity=1,
        net=net,
        tax=tax,
        tax_code=choice.code if choice else None,
        nominal_code=book.shipping_nominal_code,
        external_ref="shipping",
    )

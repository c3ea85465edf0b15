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
# The rows an item's money books on (O9, O10): goods, gift wrap, and its share of the order's shipping and
# cash-on-delivery rows.
GOODS, GIFT_WRAP, SHIPPING, COD_FEE = "goods", "gift_wrap", "shipping", "cod_fee"
# Model: ItemProceedsBreakdown.type and ItemProceedsDetailedBreakdown.subtype -> the row it books on.
# DISCOUNT and TAX are spread by their detailed breakdowns instead (docs/amazon-payloads.md, Money).
ROW_OF = {"ITEM": GOODS, "OTHER": GOODS, "SHIPPING": SHIPPING, "GIFT_WRAP": GIFT_WRAP, "COD_FEE": COD_FEE}
GOODS_PARTS = tuple(kind for kind, row in ROW_OF.items() if row == GOODS)


@dataclass
class Charge:
    """An order-level row built from every item's share: net and tax as sent (O14), gross (O15)."""

    net: Decimal = ZERO
    tax: Decimal = ZERO
    gross: Decimal = ZERO


@dataclass
class RowPlan:
    """Rows of an order as they are built item by item; shipping and cash on delivery are one row each
    at the end (O9)."""

    currency: str
    pending: bool = False
    rows: list[NewRow] = field(default_factory=list)
    shipping: Charge = field(default_factory=Charge)
    cod_fee: Charge = field(default_factory=Charge)
    withheld_tax: Decimal = ZERO
    gift_messages: list[str] = field(default_factory=list)
    seen: list[SeenListing] = field(default_factory=list)
    alerts: list[AlertSpec] = field(default_factory=list)


@dataclass(frozen=True)
class ItemMoney:
    """An item's money by the row it books on: the charge with its promotions taken off, and the tax
    Amazon sent on it. `tax_included`: the TAX breakdown is contained in the charges (the VAT inside a
    European price) rather than added on top of them (Amazon's own UK example)."""

    charges: dict[str, Decimal]
    taxes: dict[str, Decimal]
    tax_included: bool
    tax_sent: bool = False  # a TAX breakdown was sent at all

    def charge(self, row: str) -> Decimal:
        return self.charges.get(row, ZERO)

    def tax(self, row: str) -> Decimal:
        return self.taxes.get(row, ZERO)

    def gross(self, row: str) -> Decimal:
        """What the buyer paid for the row, tax included."""
        return self.charge(row) + (ZERO if self.tax_included else self.tax(row))

    def net(self, row: str) -> Decimal:
        """The row's amount before the tax Amazon sent."""
        return self.charge(row) - (self.tax(row) if self.tax_included else ZERO)

    @property
    def total_tax(self) -> Decimal:
        return sum(self.taxes.values(), ZERO)


def item_money(
    r: Reader, item: Doc, where: str, currency: str, quantity: int, *, tax_included: bool = True
) -> ItemMoney:
    """Proceeds by the row they book on; a Pending item has none, so its unit price (if any) stands in
    (O2). `tax_included` is the marketplace's way, used where the item's total cannot tell."""
    charges: dict[str, Decimal] = {}
    discounts: dict[str, Decimal] = {}
    taxes: dict[str, Decimal] = {}
    on_discount = ZERO
    sent = False
    for n, breakdown in enumerate(r.items(item, "proceeds.breakdowns", f"{where}.proceeds.breakdowns")):
        at = f"{where}.proceeds.breakdowns.{n}"
        kind = r.text(breakdown, "type", f"{at}.type", required=True) or ""
        amount = _amount(r, breakdown, "subtotal", f"{at}.subtotal", currency)
        details = _details(r, breakdown, at, currency)
        if kind == "TAX":
            sent = True
            on_discount += _add_tax(taxes, amount, details)
        elif kind == "DISCOUNT":
            _add_discount(discounts, amount, details)
        elif kind in ROW_OF:
            _add(charges, ROW_OF[kind], amount)
        else:  # booking it nowhere would leave the order short of what the buyer paid
            raise r.fail(f"{at}.type", f"unknown proceeds type {kind!r}")
    for row, amount in discounts.items():
        _add(charges, row, amount)
    _spread_discount_tax(taxes, on_discount, discounts, currency)
    if not charges and not sent:
        unit = r.money(item, "product.price.unitPrice", f"{where}.product.price.unitPrice")
        if unit is not None:
            _same_currency(r, unit[1], currency, f"{where}.product.price.unitPrice")
            charges[GOODS] = unit[0] * quantity
    included = _tax_included(r, item, where, currency, charges=charges, taxes=taxes, default=tax_included)
    return ItemMoney(charges, taxes, included, sent)


def _details(r: Reader, breakdown: Doc, at: str, currency: str) -> list[tuple[str, Decimal]]:
    found = []
    for m, detail in enumerate(r.items(breakdown, "detailedBreakdowns", f"{at}.detailedBreakdowns")):
        sub = r.text(detail, "subtype", f"{at}.detailedBreakdowns.{m}.subtype", required=True) or ""
        found.append((sub, _amount(r, detail, "value", f"{at}.detailedBreakdowns.{m}.value", currency)))
    return found


def _add(into: dict[str, Decimal], row: str, amount: Decimal) -> None:
    into[row] = into.get(row, ZERO) + amount


def _add_discount(discounts: dict[str, Decimal], amount: Decimal, details: list[tuple[str, Decimal]]) -> None:
    """O9: a promotion lowers the row its detailed breakdown names (a shipping promotion the shipping
    row); what no detail names is an item promotion. A discount lowers proceeds whatever its sign."""
    named = ZERO
    for sub, value in details:
        _add(discounts, ROW_OF.get(sub, GOODS), -abs(value))
        named += -abs(value)
    if -abs(amount) != named:
        _add(discounts, GOODS, -abs(amount) - named)


def _add_tax(taxes: dict[str, Decimal], amount: Decimal, details: list[tuple[str, Decimal]]) -> Decimal:
    """Tax by the row it was charged on; tax no detail names belongs to the goods (SPAPI.md §14 O14).
    Returns the tax on promotions (subtype DISCOUNT), which lowers the tax whatever its sign."""
    named = ZERO
    on_discount = ZERO
    for sub, value in details:
        if sub == "DISCOUNT":
            on_discount += -abs(value)
        else:
            _add(taxes, ROW_OF.get(sub, GOODS), value)
            named += value
    _add(taxes, GOODS, amount - named - on_discount)
    return on_discount


def _spread_discount_tax(
    taxes: dict[str, Decimal], amount: Decimal, discounts: dict[str, Decimal], currency: str
) -> None:
    """The tax on a promotion lowers the tax of the rows the promotion lowered, in proportion (rounded;
    the remainder on the row it lowered most); with no promotion to follow, the goods."""
    whole = sum(discounts.values(), ZERO)
    if amount == ZERO:
        return
    if whole == ZERO:
        _add(taxes, GOODS, amount)
        return
    rows = sorted(discounts, key=lambda row: discounts[row])  # the largest (most negative) first
    left = amount
    for row in rows[1:]:
        share = round_money(amount * discounts[row] / whole, currency)
        _add(taxes, row, share)
        left -= share
    _add(taxes, rows[0], left)


def _tax_included(
    r: Reader,
    item: Doc,
    where: str,
    currency: str,
    *,
    charges: dict[str, Decimal],
    taxes: dict[str, Decimal],
    default: bool,
) -> bool:
    """Whether the item's tax is inside its charges: its proceeds total tells (charges alone, or charges
    plus tax); a total that is neither is refused, never booked wrong in silence."""
    total = r.money(item, "proceeds.proceedsTotal", f"{where}.proceeds.proceedsTotal")
    if total is None:
        return default
    _same_currency(r, total[1], currency, f"{where}.proceeds.proceedsTotal")
    charged = sum(charges.values(), ZERO)
    tax = sum(taxes.values(), ZERO)
    if tax != ZERO and total[0] == charged + tax:
        return False
    if total[0] == charged:
        return default if tax == ZERO else True
    raise r.fail(
        f"{where}.proceeds.proceedsTotal",
        f"{total[0]} {currency} is neither the breakdowns ({charged} {currency}) nor the breakdowns plus "
        f"their tax ({charged + tax} {currency}): {total[0] - charged - tax} {currency} unexplained",
    )


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
    money = item_money(r, item, where, plan.currency, quantity, tax_included=_gross_prices(book))
    goods_net, goods_tax = _net_and_tax(book, choice, plan.currency, money, GOODS)
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
    wrap_net, wrap_tax = _net_and_tax(book, choice, plan.currency, money, GIFT_WRAP)
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
    _add_charge(plan.shipping, money, SHIPPING)
    _add_charge(plan.cod_fee, money, COD_FEE)
    if _facilitator(r, item, where):
        # O16: Amazon withholds and remits this item's tax as marketplace facilitator: the tax it sent,
        # on every row of the item (shipping and gift wrap included); else the book's tax on those rows.
        own = goods_tax + wrap_tax + _shared_tax(book, facts, plan.currency, money)
        plan.withheld_tax += round_money(money.total_tax, plan.currency) if money.tax_sent else own


def _gross_prices(book: ChannelBook) -> bool:
    return book.tax_behaviour == TaxBehaviour.GROSS_RECALCULATED


def _add_charge(charge: Charge, money: ItemMoney, row: str) -> None:
    charge.net += money.net(row)
    charge.tax += money.tax(row)
    charge.gross += money.gross(row)


def _shared_tax(book: ChannelBook, facts: OrderFacts, currency: str, money: ItemMoney) -> Decimal:
    """The book's tax on an item's share of the shipping and cash-on-delivery rows."""
    choice = facts.tax.get(None)
    return sum((_net_and_tax(book, choice, currency, money, row)[1] for row in (SHIPPING, COD_FEE)), ZERO)


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
    book: ChannelBook, choice: TaxChoice | None, currency: str, money: ItemMoney, row: str
) -> tuple[Decimal, Decimal]:
    return _split(book, choice, currency, Charge(money.net(row), money.tax(row), money.gross(row)))


def _split(
    book: ChannelBook, choice: TaxChoice | None, currency: str, charge: Charge
) -> tuple[Decimal, Decimal]:
    if book.tax_behaviour == TaxBehaviour.NET_AS_SENT:
        # O14: net as sent, tax as Amazon sent it (not recalculated).
        return round_money(charge.net, currency), round_money(charge.tax, currency)
    if choice is None:  # no tax rule for shipping: the whole gross books as net
        return round_money(charge.gross, currency), ZERO
    # O15: the gross includes tax; split exactly so that net + tax == Amazon's gross.
    return split_gross(charge.gross, choice.rate, currency)


def shipping_row(plan: RowPlan, book: ChannelBook, facts: OrderFacts, name: str) -> NewRow | None:
    """O9: the shipping charges net of shipping promotions as their own row, on the shipping nominal
    code (O17)."""
    return _charge_row(plan.shipping, plan, book, facts, kind=RowKind.SHIPPING, name=name)


def cod_fee_row(plan: RowPlan, book: ChannelBook, facts: OrderFacts) -> NewRow | None:
    """The cash-on-delivery charge as its own row on the cash-on-delivery nominal code, taxed as
    shipping is (a charge for the delivery, not for the goods)."""
    return _charge_row(plan.cod_fee, plan, book, facts, kind=RowKind.COD_FEE, name="Cash on delivery fee")


def _charge_row(
    charge: Charge, plan: RowPlan, book: ChannelBook, facts: OrderFacts, *, kind: RowKind, name: str
) -> NewRow | None:
    choice = facts.tax.get(None)
    net, tax = _split(book, choice, plan.currency, charge)
    if net == ZERO and tax == ZERO:
        return None
    nominal = book.shipping_nominal_code if kind == RowKind.SHIPPING else book.cod_fee_nominal_code
    return NewRow(
        kind=kind,
        name=name,
        quantity=1,
        net=net,
        tax=tax,
        tax_code=choice.code if choice else None,
        nominal_code=nominal,
        external_ref=kind.value,
    )


def delivery_tip_row(r: Reader, currency: str, book: ChannelBook) -> NewRow | None:
    """The buyer's delivery tip: order-level proceeds (model: OrderProceedsBreakdown type DELIVERY_TIP,
    "charged separately and not attributed to a specific item"), its own row on its own nominal code,
    untaxed (docs/amazon-payloads.md, Money)."""
    tip = ZERO
    for n, breakdown in enumerate(r.items(r.doc, "proceeds.breakdowns", "proceeds.breakdowns")):
        if r.text(breakdown, "type", f"proceeds.breakdowns.{n}.type", required=True) == "DELIVERY_TIP":
            tip += _amount(r, breakdown, "subtotal", f"proceeds.breakdowns.{n}.subtotal", currency)
    if tip == ZERO:
        return None
    return NewRow(
        kind=RowKind.DELIVERY_TIP,
        name="Delivery tip",
        quantity=1,
        net=round_money(tip, currency),
        nominal_code=book.delivery_tip_nominal_code,
        external_ref="delivery-tip",
    )


def check_total(r: Reader, currency: str, rows: tuple[NewRow, ...]) -> None:
    """An order's rows add up to Amazon's proceeds total to the penny (O9), or the order is refused with
    the difference named: never booked wrong in silence."""
    total = r.money(r.doc, "proceeds.grandTotal", "proceeds.grandTotal")
    if total is None:
        return
    booked = sum((row.net + row.tax for row in rows), ZERO)
    if booked != total[0]:
        raise r.fail(
            "proceeds.grandTotal",
            f"the rows add up to {booked} {currency} but Amazon's proceeds total is {total[0]} {currency} "
            f"({total[0] - booked} {currency} apart)",
        )

"""The seeded scenario generator: same seed and settings, same world."""

from __future__ import annotations

import math
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from orderbridge.simulator import followups, inbound, lifecycle, order_builder
from orderbridge.simulator.marketplaces import MARKETPLACES, Marketplace, marketplace
from orderbridge.simulator.order_builder import Cart, CartLine
from orderbridge.simulator.world import (
    Buyer,
    InboundItem,
    InboundShipment,
    Listing,
    SellerAccount,
    World,
)

DAY = 86400.0
DEFAULT_MIX = {
    "fba": 0.5,
    "prime": 0.3,
    "business": 0.08,
    "gift": 0.05,
    "multi": 0.2,
    "promo": 0.1,
    "cancel": 0.03,
    "request": 0.02,
    "amazon_cancel": 0.02,  # cancelled at Amazon after Ready (by Amazon or in Seller Central)
    "easy_ship": 0.15,  # of seller-fulfilled orders: Amazon collects them (AMAZON_EASY_SHIP)
    "return": 0.05,
    "replacement": 0.01,
    "lost": 0.01,
    "late": 0.0,
    # Amazon's whole variety (issue 17); each drawn from a random source of its own (see `_variety`), so
    # a seed's order stream keeps its orders, ids and times. Shares are of the orders named.
    "fba_prime": 0.7,  # of FBA orders: PRIME too (v2026 marks FBA orders PRIME)
    "premium": 0.02,  # of merchant orders: PREMIUM (premium shipping)
    "ship_plus": 0.03,  # of merchant orders: FBM_SHIP_PLUS
    "delivery_by_amazon": 0.02,  # of merchant orders: DELIVERY_BY_AMAZON
    "pickup": 0.01,  # of US merchant orders: IN_STORE_PICK_UP
    "preorder": 0.01,  # PREORDER: PENDING_AVAILABILITY until the release date
    "invoice_by_amazon": 0.1,  # of UK / EU orders: INVOICE_BY_AMAZON (Amazon issues the VAT invoice)
    "haul": 0.01,  # AMAZON_HAUL
    "bazaar": 0.005,  # AMAZON_BAZAAR
    "ship_promo": 0.1,  # of orders charged shipping: a promotion on the shipping (DISCOUNT subtype SHIPPING)
    "transparency": 0.03,  # of lines: TRANSPARENCY (FBA: Amazon reports the unit codes when it ships)
    "subscribe": 0.02,  # of lines: SUBSCRIBE_AND_SAVE
    "serial": 0.02,  # of merchant lines: serial numbers required
    "cod": 0.06,  # of IT / ES orders: cash on delivery (COD_FEE, paymentMethod CashOnDelivery)
    "tip": 0.02,  # of US orders: a DELIVERY_TIP (PENDING, FINALIZED when shipped)
    "other_fee": 0.02,  # an OTHER charge (a regulatory fee) on the first item
    "facilitator_eu": 0.12,  # of UK / EU orders: Amazon withholds the VAT (deemed supplier)
    "export": 0.3,  # of UK facilitator orders: shipped to Ireland under IOSS (Irish VAT)
    "mcf": 0.02,  # of FBA orders: multi-channel fulfilment (salesChannel NON_AMAZON)
    "unfulfillable": 0.25,  # of multi-channel orders: Amazon cannot fulfil them (UNFULFILLABLE)
    "ledger_twins": 0.3,  # of FBA orders: one ledger Shipments row per unit (identical twin rows)
    # Shapes the model leaves open (docs/amazon-payloads.md): the share sent in the second shape.
    "discount_detailed": 0.5,  # item-only DISCOUNT with its ITEM detailed breakdown (else none)
    "discount_tax_separate": 0.5,  # tax on discounts as TAX subtype DISCOUNT (else netted in ITEM/SHIPPING)
    "eu_tax_on_top": 0.0,  # Europe: subtotals net of VAT with TAX on top (else VAT inside them)
    "tip_in_pending_total": 1.0,  # grandTotal counts a PENDING tip (else only once FINALIZED)
}
FIRST = (
    "Anna",
    "Ben",
    "Chloe",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Karin",
    "Luca",
    "Maya",
    "Noah",
    "Olga",
    "Paul",
    "Rosa",
    "Sven",
    "Tina",
    "Ugo",
)
LAST = (
    "Smith",
    "Müller",
    "Martin",
    "Rossi",
    "García",
    "Brown",
    "Schmidt",
    "Bernard",
    "Bianchi",
    "López",
    "Wilson",
)
PRODUCTS = (
    "Desk Lamp",
    "Travel Mug",
    "Yoga Mat",
    "Phone Stand",
    "Notebook A5",
    "Water Bottle",
    "Cable Organizer",
    "Bike Light",
    "Tea Infuser",
    "Laptop Sleeve",
    "Plant Pot",
    "Wall Clock",
    "Chef Knife",
    "Backpack",
)


@dataclass
class Settings:
    """What to generate (the `sandbox generate` options)."""

    seed: int = 7
    orders_per_day: int = 50
    days: int = 7
    marketplaces: list[str] = field(default_factory=lambda: ["US", "UK", "DE"])
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    now: float = 1_767_225_600.0  # 2026-01-01T00:00:00Z unless told otherwise
    skus_per_seller: int = 20
    sellers_per_region: int = 1  # more: an agency's or SaaS host's many accounts (scale benchmark)
    # A world that goes on running (the demo's trickle): follow-ups of the history (FBM shipping,
    # returns...) are scheduled past `now` too, instead of stopping at the end of the history.
    live: bool = False


def parse_mix(text: str) -> dict[str, float]:
    """`fba=0.6,prime=0.3` -> the default mix with those shares replaced."""
    mix = dict(DEFAULT_MIX)
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = part.partition("=")
        if key not in DEFAULT_MIX:
            raise ValueError(f"unknown mix key {key!r}; known: {', '.join(DEFAULT_MIX)}")
        mix[key] = float(value)
    return mix


def _code(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


UPPER = string.ascii_uppercase + string.digits
LOWER = string.ascii_lowercase + string.digits


def _account(rng: random.Random, region: str, markets: list[Marketplace], n: int = 0) -> SellerAccount:
    return SellerAccount(
        seller_id="A" + _code(rng, UPPER, 13),
        name=f"Sandbox Seller {region}" + (f" {n + 1}" if n else ""),
        region=region,
        marketplace_ids=[m.marketplace_id for m in markets],
        client_id="amzn1.application-oa2-client." + _code(rng, "0123456789abcdef", 32),
        client_secret="amzn1.oa2-cs.v1." + _code(rng, "0123456789abcdef", 64),
        refresh_token="Atzr|" + _code(rng, string.ascii_letters + string.digits, 80),
    )


def _listings(
    rng: random.Random, account: SellerAccount, markets: list[Marketplace], count: int
) -> list[Listing]:
    listings = []
    for n in range(count):
        base = Decimal(rng.randint(899, 8999)) / 100
        prices = {
            m.code: (base * (1 + m.tax_rate) if m.tax_inclusive else base).quantize(Decimal("0.01"))
            for m in markets
        }
        listings.append(
            Listing(
                account.seller_id,
                f"SKU-{account.region}-{n:04d}",
                "B0" + _code(rng, UPPER, 8),
                "X00" + _code(rng, UPPER, 7),
                f"{rng.choice(PRODUCTS)} {n}",
                prices,
                "AMAZON" if n % 2 == 0 else "MERCHANT",
                rng.randint(5, 200),
            )
        )
    return listings


def _buyer(rng: random.Random, number: int, used_emails: set[str]) -> Buyer:
    emails = {}
    for mkt in MARKETPLACES.values():
        email = f"{_code(rng, LOWER, 16)}@{mkt.email_domain}"
        while email in used_emails:  # Amazon relay addresses are unique per buyer and marketplace
            email = f"{_code(rng, LOWER, 16)}@{mkt.email_domain}"
        used_emails.add(email)
        emails[mkt.code] = email
    company = f"{rng.choice(LAST)} GmbH" if number % 7 == 0 else ""
    address = {
        "addressLine1": f"{rng.randint(1, 300)} {rng.choice(LAST)} Street",
        "city": rng.choice(("Springfield", "Riverside", "Hamburg", "Leeds", "Lyon", "Torino", "Sevilla")),
        "stateOrRegion": rng.choice(("WA", "CA", "NY", "HH", "BY")),
        "postalCode": f"{rng.randint(10000, 99999)}",
        "phone": f"+1 555 {rng.randint(1000000, 9999999)}",
    }
    return Buyer(
        f"BUY{number:06d}",
        f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        emails,
        address,
        company,
        f"DE{rng.randint(100000000, 999999999)}" if company else "",
    )


def _daily_units(settings: Settings, sellers: int, fba_skus: int) -> float:
    """Generous FBA units a SKU sells per day: orders x FBA share x ~1.9 units per order, with margin."""
    return settings.orders_per_day / sellers * settings.mix["fba"] * 2.5 / max(fba_skus, 1)


def _restocks(
    world: World, settings: Settings, account: SellerAccount, listings: list[Listing], sellers: int
) -> None:
    """Inbound shipments every 10 days so FBA stock lasts the whole history (ids from their own random)."""
    rng = random.Random(f"{settings.seed}-{account.seller_id}")
    fba_listings = [item for item in listings if item.fulfilled_by == "AMAZON"]
    units = int(_daily_units(settings, sellers, len(fba_listings)) * 12) + 1
    mkt = marketplace(account.marketplace_ids[0])
    at = settings.now - settings.days * DAY - 3 * DAY
    while fba_listings and at < settings.now - 5 * DAY:
        lines = [InboundItem(item.sku, item.fnsku, units) for item in fba_listings]
        shipment = InboundShipment(
            account.seller_id,
            "FBA" + _code(rng, UPPER, 9),
            "Replenishment",
            mkt.marketplace_id,
            mkt.fulfillment_centers[0],
            "WORKING",
            at,
            lines,
            _ship_from(account, mkt),
        )
        world.schedule(at, "gen_inbound", shipment.shipment_id, shipment=shipment)
        at += 10 * DAY


def _ship_from(account: SellerAccount, mkt: Marketplace) -> dict[str, str]:
    return {
        "Name": account.name,
        "AddressLine1": "1 Warehouse Way",
        "City": "Springfield",
        "StateOrProvinceCode": "WA",
        "CountryCode": mkt.country_code,
        "PostalCode": "98101",
    }


def _stock_up(
    world: World,
    rng: random.Random,
    account: SellerAccount,
    listings: list[Listing],
    *,
    at: float,
    opening: int,
) -> None:
    mkt = marketplace(account.marketplace_ids[0])
    fc = mkt.fulfillment_centers[0]
    items = [InboundItem(item.sku, item.fnsku, opening) for item in listings if item.fulfilled_by == "AMAZON"]
    ship_from = _ship_from(account, mkt)
    first = InboundShipment(
        account.seller_id,
        "FBA" + _code(rng, UPPER, 9),
        "Opening stock",
        mkt.marketplace_id,
        fc,
        "WORKING",
        at,
        items,
        ship_from,
    )
    inbound.create(world, first)
    # A later shipment whose receipt goes over on one SKU, short on another, and finds an unexpected SKU.
    fba_skus = [item for item in listings if item.fulfilled_by == "AMAZON"][:3]
    if len(fba_skus) == 3:
        lines = [
            InboundItem(fba_skus[0].sku, fba_skus[0].fnsku, 24, receive_target=26),
            InboundItem(fba_skus[1].sku, fba_skus[1].fnsku, 24, receive_target=20),
            InboundItem(fba_skus[2].sku, fba_skus[2].fnsku, 0, receive_target=3),
        ]
        later = InboundShipment(
            account.seller_id,
            "FBA" + _code(rng, UPPER, 9),
            "Restock",
            mkt.marketplace_id,
            mkt.fulfillment_centers[-1],
            "WORKING",
            at + 2 * DAY,
            lines,
            ship_from,
        )
        world.schedule(at + 2 * DAY, "gen_inbound", later.shipment_id, shipment=later)


def generate(settings: Settings, progress: Callable[[int, int], None] | None = None) -> World:
    """Build a world whose history runs `days` days up to `settings.now`."""
    rng = random.Random(settings.seed)
    start = settings.now - settings.days * DAY
    # Start a week early so the opening FBA stock is received before the first order (about 4.6 days).
    world = World(now=start - 7 * DAY, seed=settings.seed)
    lifecycle.register(world)
    inbound.register(world)
    followups.register(world)
    markets = [marketplace(code) for code in settings.marketplaces]
    by_region: dict[str, list[Marketplace]] = {}
    for mkt in markets:
        by_region.setdefault(mkt.region, []).append(mkt)
    used: set[str] = set()
    buyers = [_buyer(rng, n, used) for n in range(max(20, settings.orders_per_day * settings.days // 3))]
    for buyer in buyers:
        world.buyers[buyer.buyer_id] = buyer
    sellers: list[tuple[SellerAccount, list[Listing], list[Marketplace]]] = []
    count = len(by_region) * settings.sellers_per_region
    for region, region_markets in sorted(by_region.items()):
        for n in range(settings.sellers_per_region):
            account = _account(rng, region, region_markets, n)
            world.add_account(account)
            listings = _listings(rng, account, region_markets, settings.skus_per_seller)
            for listing in listings:
                world.add_listing(listing)
            fba_count = sum(1 for item in listings if item.fulfilled_by == "AMAZON")
            opening = max(400, int(_daily_units(settings, count, fba_count) * 14))
            _stock_up(world, rng, account, listings, at=world.now, opening=opening)
            _restocks(world, settings, account, listings, count)
            sellers.append((account, listings, region_markets))
    incident_sellers = [(account, listings) for account, listings, _ in sellers]
    followups.schedule_incidents(
        world, seed=settings.seed, start=start, days=settings.days, sellers=incident_sellers
    )
    mix = {**DEFAULT_MIX, **settings.mix}
    # Amazon's variety draws from a random source of its own, so a seed's order stream stays as it was.
    variety = random.Random(settings.seed * 104729 + 17)
    total = settings.orders_per_day * settings.days
    times = sorted(rng.uniform(start, settings.now) for _ in range(total))
    for n, ts in enumerate(times):
        world.catch_up(ts)
        account, listings, region_markets = rng.choice(sellers)
        end = math.inf if settings.live else settings.now
        sale = Sale(account, listings, rng.choice(region_markets), rng.choice(buyers), ts, end)
        _place_one(world, rng, mix, sale, variety)
        if progress is not None and (n % 500 == 0 or n == total - 1):
            progress(n + 1, total)
    world.catch_up(settings.now)
    return world


@dataclass
class Sale:
    """Who sells what to whom, when (and until when follow-ups may happen)."""

    account: SellerAccount
    listings: list[Listing]
    mkt: Marketplace
    buyer: Buyer
    ts: float
    end: float


def _place_one(
    world: World, rng: random.Random, mix: dict[str, float], sale: Sale, variety: random.Random
) -> None:
    account, listings, mkt, buyer, ts, end = (
        sale.account,
        sale.listings,
        sale.mkt,
        sale.buyer,
        sale.ts,
        sale.end,
    )
    by_amazon = rng.random() < mix["fba"]
    pool = [item for item in listings if (item.fulfilled_by == "AMAZON") == by_amazon] or listings
    count = 2 if rng.random() < mix["multi"] else 1
    gift = rng.random() < mix["gift"]
    lines = [
        CartLine(
            item,
            rng.choice((1, 1, 1, 2, 3)),
            gift_message="Happy birthday!" if gift else "",
            gift_wrap=gift,
            promotion_id="PROMO-10OFF" if rng.random() < mix["promo"] else "",
        )
        for item in rng.sample(pool, min(count, len(pool)))
    ]
    business = rng.random() < mix["business"] and bool(buyer.company)
    cart = Cart(
        account.seller_id,
        mkt,
        buyer,
        lines,
        ts,
        fulfilled_by="AMAZON" if by_amazon else "MERCHANT",
        prime=(prime_roll := rng.random()) < mix["prime"],
        # From the same draw, so that a seed's order stream stays as it was before Easy Ship existed.
        easy_ship=not by_amazon and prime_roll >= 1 - mix["easy_ship"],
        business=business,
        purchase_order_number=f"PO-{rng.randint(1000, 9999)}" if business else "",
    )
    _variety(cart, variety, mix)
    # "late" share: orders that surface minutes after their lastUpdatedTime (issue 4 §6).
    late = rng.uniform(300, 1800) if mix["late"] and rng.random() < mix["late"] else 0.0
    order = lifecycle.place(world, cart, visible_delay=late)

    def later(delay: float, action: str) -> None:
        if ts + delay < end:
            world.schedule(ts + delay, "gen_story", order.order_id, action=action)

    roll = rng.random()
    if roll < mix["cancel"]:
        later(rng.uniform(60, 1500), "cancel")
    elif roll < mix["cancel"] + mix["request"]:
        later(rng.uniform(3600, 7200), "request")
    elif roll < mix["cancel"] + mix["request"] + mix["amazon_cancel"]:
        # Within the first day, before the seller ships; the delay comes from the roll (no new draw).
        later(DAY * (0.3 + (roll * 997) % 0.5), "amazon_cancel")
    if not by_amazon:
        later(rng.uniform(1, 2) * DAY, "ship")
    for action in ("return", "replacement", "lost"):
        if rng.random() < mix[action]:
            later(rng.uniform(4, 10) * DAY, action)
    if cart.extra.get("unfulfillable"):
        later(lifecycle.READY_AFTER + 600, "unfulfillable")


EUROPE_VAT = ("UK", "DE", "FR", "IT", "ES")
CASH_ON_DELIVERY = ("IT", "ES")


def _variety(cart: Cart, variety: random.Random, mix: dict[str, float]) -> None:
    """Amazon's whole variety on a cart: programs, promotions on shipping, cash on delivery, tips, other
    charges, facilitator tax with its EU scheme, multi-channel orders, item flags, and the open shapes.
    Every share draws once per order (or line) whatever the others decide, so changing one share
    leaves the other choices of a seed where they were."""
    mkt, by_amazon = cart.marketplace, cart.fulfilled_by == "AMAZON"
    draw = {key: variety.random() for key in _ORDER_DRAWS}

    def chosen(key: str, applies: bool = True) -> bool:
        return applies and draw[key] < mix[key]

    programs = [
        name
        for name, on in (
            ("PRIME", chosen("fba_prime", by_amazon) and not cart.prime),
            ("PREMIUM", chosen("premium", not by_amazon)),
            ("FBM_SHIP_PLUS", chosen("ship_plus", not by_amazon)),
            ("DELIVERY_BY_AMAZON", chosen("delivery_by_amazon", not by_amazon and not cart.easy_ship)),
            ("IN_STORE_PICK_UP", chosen("pickup", not by_amazon and mkt.code == "US")),
            ("PREORDER", chosen("preorder")),
            ("INVOICE_BY_AMAZON", chosen("invoice_by_amazon", mkt.code in EUROPE_VAT)),
            ("AMAZON_HAUL", chosen("haul")),
            ("AMAZON_BAZAAR", chosen("bazaar")),
        )
        if on
    ]
    cart.programs = tuple(programs)
    if "PREORDER" in programs:
        cart.extra["release_after"] = 3600 * (2 + 18 * draw["release"])
    cart.channel = "NON_AMAZON" if chosen("mcf", by_amazon) else "AMAZON"
    if cart.channel == "NON_AMAZON":
        cart.programs = ()
        cart.prime = cart.business = False
        cart.extra["unfulfillable"] = chosen("unfulfillable")
    cart.cash_on_delivery = chosen("cod", mkt.code in CASH_ON_DELIVERY)
    tips = (Decimal("1.00"), Decimal("2.00"), Decimal("3.00"), Decimal("5.00"))
    cart.delivery_tip = (
        tips[int(draw["tip_amount"] * len(tips))] if chosen("tip", mkt.code == "US") else Decimal(0)
    )
    cart.tip_in_pending_total = chosen("tip_in_pending_total")
    cart.other_fee = chosen("other_fee")
    if chosen("facilitator_eu", mkt.code in EUROPE_VAT):
        if mkt.code == "UK":
            cart.facilitator = order_builder.UK_FACILITATOR
            if chosen("export"):
                cart.ship_to_country, cart.reporting_scheme = "IE", "IOSS"
        else:
            cart.facilitator = order_builder.EU_FACILITATOR
            # Held in the EU (FBA): Union one stop shop; shipped in from outside the EU: Import one stop shop.
            cart.reporting_scheme = "UOSS" if by_amazon else "IOSS"
    cart.tax_on_top = chosen("eu_tax_on_top", mkt.tax_inclusive)
    cart.discount_tax_separate = chosen("discount_tax_separate")
    cart.extra["unit_ledger_rows"] = chosen("ledger_twins", by_amazon)
    charged_shipping = not (cart.prime or by_amazon)
    for line in cart.lines:
        line_draw = {key: variety.random() for key in _LINE_DRAWS}
        line.shipping_promotion_id = (
            "PROMO-FREESHIP" if charged_shipping and line_draw["ship_promo"] < mix["ship_promo"] else ""
        )
        line.discount_detailed = line_draw["discount_detailed"] < mix["discount_detailed"]
        line.transparency = line_draw["transparency"] < mix["transparency"]
        line.subscribe_and_save = line_draw["subscribe"] < mix["subscribe"]
        line.serial_required = not by_amazon and line_draw["serial"] < mix["serial"]


_ORDER_DRAWS = (
    "fba_prime",
    "premium",
    "ship_plus",
    "delivery_by_amazon",
    "pickup",
    "preorder",
    "release",
    "invoice_by_amazon",
    "haul",
    "bazaar",
    "mcf",
    "unfulfillable",
    "cod",
    "tip",
    "tip_amount",
    "tip_in_pending_total",
    "other_fee",
    "facilitator_eu",
    "export",
    "eu_tax_on_top",
    "discount_tax_separate",
    "ledger_twins",
)
_LINE_DRAWS = ("ship_promo", "discount_detailed", "transparency", "subscribe", "serial")

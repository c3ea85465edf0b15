"""Amazon marketplaces the sandbox serves, with their real ids, currencies and tax conventions."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Marketplace:
    """One Amazon marketplace (SPAPI.md §1)."""

    code: str
    marketplace_id: str
    name: str
    country_code: str
    currency: str
    region: str
    tax_rate: Decimal
    tax_inclusive: bool
    email_domain: str
    fulfillment_centers: tuple[str, ...]
    tax_responsible_party: str = ""

    @property
    def order_prefix(self) -> str:
        return "11" if self.region == "NA" else "30"


_NA_MF = "Amazon Services, Inc."

MARKETPLACES: dict[str, Marketplace] = {
    m.code: m
    for m in (
        Marketplace(
            "US",
            "ATVPDKIKX0DER",
            "Amazon.com",
            "US",
            "USD",
            "NA",
            Decimal("0.0825"),
            False,
            "marketplace.amazon.com",
            ("PHX7", "LGB3", "BFI4", "ONT8"),
            _NA_MF,
        ),
        Marketplace(
            "CA",
            "A2EUQ1WTGCTBG2",
            "Amazon.ca",
            "CA",
            "CAD",
            "NA",
            Decimal("0.13"),
            False,
            "marketplace.amazon.ca",
            ("YYZ4", "YVR2"),
            "Amazon.com.ca ULC",
        ),
        Marketplace(
            "UK",
            "A1F83G8C2ARO7P",
            "Amazon.co.uk",
            "GB",
            "GBP",
            "EU",
            Decimal("0.20"),
            True,
            "marketplace.amazon.co.uk",
            ("LTN1", "BHX4", "EDI4"),
        ),
        Marketplace(
            "DE",
            "A1PA6795UKMFR9",
            "Amazon.de",
            "DE",
            "EUR",
            "EU",
            Decimal("0.19"),
            True,
            "marketplace.amazon.de",
            ("LEJ1", "FRA3", "MUC3"),
        ),
        Marketplace(
            "FR",
            "A13V1IB3VIYZZH",
            "Amazon.fr",
            "FR",
            "EUR",
            "EU",
            Decimal("0.20"),
            True,
            "marketplace.amazon.fr",
            ("ORY1", "LYS1"),
        ),
        Marketplace(
            "IT",
            "APJ6JRA9NG5V4",
            "Amazon.it",
            "IT",
            "EUR",
            "EU",
            Decimal("0.22"),
            True,
            "marketplace.amazon.it",
            ("MXP5", "FCO1"),
        ),
        Marketplace(
            "ES",
            "A1RKKUPIHCS9HS",
            "Amazon.es",
            "ES",
            "EUR",
            "EU",
            Decimal("0.21"),
            True,
            "marketplace.amazon.es",
            ("MAD4", "BCN1"),
        ),
    )
}

BY_ID: dict[str, Marketplace] = {m.marketplace_id: m for m in MARKETPLACES.values()}


@dataclass(frozen=True)
class OtherMarketplace:
    """A marketplace Amazon has that the sandbox generates no sellers or orders for (SPAPI.md §1)."""

    code: str
    marketplace_id: str
    name: str
    country_code: str
    currency: str
    region: str


# Every other marketplace Amazon has, so that the sandbox's table and the product's name the same set.
OTHER_MARKETPLACES: tuple[OtherMarketplace, ...] = (
    OtherMarketplace("MX", "A1AM78C64UM0Y8", "Amazon.com.mx", "MX", "MXN", "NA"),
    OtherMarketplace("BR", "A2Q3Y263D00KWC", "Amazon.com.br", "BR", "BRL", "NA"),
    OtherMarketplace("NL", "A1805IZSGTT6HS", "Amazon.nl", "NL", "EUR", "EU"),
    OtherMarketplace("SE", "A2NODRKZP88ZB9", "Amazon.se", "SE", "SEK", "EU"),
    OtherMarketplace("PL", "A1C3SOZRARQ6R3", "Amazon.pl", "PL", "PLN", "EU"),
    OtherMarketplace("BE", "AMEN7PMS3EDWL", "Amazon.com.be", "BE", "EUR", "EU"),
    OtherMarketplace("IE", "A28R8C7NBKEWEA", "Amazon.ie", "IE", "EUR", "EU"),
    OtherMarketplace("TR", "A33AVAJ2PDY3EV", "Amazon.com.tr", "TR", "TRY", "EU"),
    OtherMarketplace("EG", "ARBP9OOSHTCHU", "Amazon.eg", "EG", "EGP", "EU"),
    OtherMarketplace("SA", "A17E79C6D8DWNP", "Amazon.sa", "SA", "SAR", "EU"),
    OtherMarketplace("AE", "A2VIGQ35RCS4UG", "Amazon.ae", "AE", "AED", "EU"),
    OtherMarketplace("IN", "A21TJRUUN4KGV", "Amazon.in", "IN", "INR", "EU"),
    OtherMarketplace("ZA", "AE08WJ6YKNBMC", "Amazon.co.za", "ZA", "ZAR", "EU"),
    OtherMarketplace("JP", "A1VC38T7YXB528", "Amazon.co.jp", "JP", "JPY", "FE"),
    OtherMarketplace("AU", "A39IBJ37TRP1C6", "Amazon.com.au", "AU", "AUD", "FE"),
    OtherMarketplace("SG", "A19VAU5U5O7RUS", "Amazon.sg", "SG", "SGD", "FE"),
)


def marketplace(code_or_id: str) -> Marketplace:
    """Look a marketplace up by its code (`UK`, `GB` accepted) or its marketplace id."""
    key = "UK" if code_or_id.upper() == "GB" else code_or_id.upper()
    if key in MARKETPLACES:
        return MARKETPLACES[key]
    if code_or_id in BY_ID:
        return BY_ID[code_or_id]
    raise KeyError(f"unknown marketplace {code_or_id!r}")

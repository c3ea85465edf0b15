"""Amazon's marketplaces, one table: id, code, country, currency, region and endpoint, storefront, and
how each one's reports write numbers and dates (SPAPI.md §1, §7-§8).

Every other module reads marketplace facts from here; no other module of the product writes a
marketplace id. The sandbox keeps its own table (it imports nothing of the product), and a test checks
that the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Region(StrEnum):
    NA = "NA"
    EU = "EU"
    FE = "FE"


# SPAPI.md §1: production hosts per region.
ENDPOINTS = {
    Region.NA: "https://sellingpartnerapi-na.amazon.com",
    Region.EU: "https://sellingpartnerapi-eu.amazon.com",
    Region.FE: "https://sellingpartnerapi-fe.amazon.com",
}


class ReportWriting(StrEnum):
    """How a marketplace's flat-file reports write decimals and days (SPAPI.md §7-§8; UNCONFIRMED per
    marketplace beyond the US, UK, DE and JP examples Amazon publishes)."""

    DOT_MONTH_FIRST = "1,234.56 and MM/DD/YYYY"
    DOT_DAY_FIRST = "1,234.56 and DD/MM/YYYY"
    COMMA_DAY_FIRST = "1.234,56 and DD.MM.YYYY"
    JAPAN = "1,234 and YYYY/MM/DD in cp932"


@dataclass(frozen=True)
class Marketplace:
    """One Amazon marketplace."""

    code: str  # the code Amazon's docs and sellers use ("UK"), also a channel's code: amazon-uk
    marketplace_id: str
    country: str  # ISO 3166 code, as reports write it ("GB" where the code is "UK")
    currency: str
    region: Region
    domain: str  # the storefront, as settlement files name it in `marketplace-name`
    # None: how its reports write numbers and days is not known; they are read the US way.
    writing: ReportWriting | None
    # O14: prices arrive net of tax and the tax as Amazon computed it (North America).
    net_prices: bool = False

    @property
    def endpoint(self) -> str:
        return ENDPOINTS[self.region]


_NA, _EU, _FE = Region.NA, Region.EU, Region.FE
_US, _DAY, _COMMA, _JP = (
    ReportWriting.DOT_MONTH_FIRST,
    ReportWriting.DOT_DAY_FIRST,
    ReportWriting.COMMA_DAY_FIRST,
    ReportWriting.JAPAN,
)

MARKETPLACES: dict[str, Marketplace] = {
    m.code: m
    for m in (
        Marketplace("US", "ATVPDKIKX0DER", "US", "USD", _NA, "amazon.com", _US, net_prices=True),
        Marketplace("CA", "A2EUQ1WTGCTBG2", "CA", "CAD", _NA, "amazon.ca", _DAY, net_prices=True),
        Marketplace("MX", "A1AM78C64UM0Y8", "MX", "MXN", _NA, "amazon.com.mx", _DAY, net_prices=True),
        Marketplace("BR", "A2Q3Y263D00KWC", "BR", "BRL", _NA, "amazon.com.br", _COMMA, net_prices=True),
        Marketplace("UK", "A1F83G8C2ARO7P", "GB", "GBP", _EU, "amazon.co.uk", _DAY),
        Marketplace("DE", "A1PA6795UKMFR9", "DE", "EUR", _EU, "amazon.de", _COMMA),
        Marketplace("FR", "A13V1IB3VIYZZH", "FR", "EUR", _EU, "amazon.fr", _COMMA),
        Marketplace("IT", "APJ6JRA9NG5V4", "IT", "EUR", _EU, "amazon.it", _COMMA),
        Marketplace("ES", "A1RKKUPIHCS9HS", "ES", "EUR", _EU, "amazon.es", _COMMA),
        Marketplace("NL", "A1805IZSGTT6HS", "NL", "EUR", _EU, "amazon.nl", _COMMA),
        Marketplace("SE", "A2NODRKZP88ZB9", "SE", "SEK", _EU, "amazon.se", _COMMA),
        Marketplace("PL", "A1C3SOZRARQ6R3", "PL", "PLN", _EU, "amazon.pl", _COMMA),
        Marketplace("BE", "AMEN7PMS3EDWL", "BE", "EUR", _EU, "amazon.com.be", _COMMA),
        Marketplace("IE", "A28R8C7NBKEWEA", "IE", "EUR", _EU, "amazon.ie", _DAY),
        Marketplace("TR", "A33AVAJ2PDY3EV", "TR", "TRY", _EU, "amazon.com.tr", _COMMA),
        Marketplace("EG", "ARBP9OOSHTCHU", "EG", "EGP", _EU, "amazon.eg", None),
        Marketplace("SA", "A17E79C6D8DWNP", "SA", "SAR", _EU, "amazon.sa", None),
        Marketplace("AE", "A2VIGQ35RCS4UG", "AE", "AED", _EU, "amazon.ae", None),
        Marketplace("IN", "A21TJRUUN4KGV", "IN", "INR", _EU, "amazon.in", None),
        Marketplace("ZA", "AE08WJ6YKNBMC", "ZA", "ZAR", _EU, "amazon.co.za", None),
        Marketplace("JP", "A1VC38T7YXB528", "JP", "JPY", _FE, "amazon.co.jp", _JP),
        Marketplace("AU", "A39IBJ37TRP1C6", "AU", "AUD", _FE, "amazon.com.au", _DAY),
        Marketplace("SG", "A19VAU5U5O7RUS", "SG", "SGD", _FE, "amazon.sg", _DAY),
    )
}
BY_ID: dict[str, Marketplace] = {m.marketplace_id: m for m in MARKETPLACES.values()}
_BY_DOMAIN: dict[str, Marketplace] = {m.domain: m for m in MARKETPLACES.values()}


def by_id(marketplace_id: str | None) -> Marketplace | None:
    """The marketplace of an id, or None when the id is not a marketplace orderbridge knows."""
    return BY_ID.get(marketplace_id or "")


def by_code(code_or_id: str) -> Marketplace | None:
    """A marketplace by its code (`UK`; ISO `GB` is accepted too) or its id; None when unknown."""
    value = code_or_id.strip()
    code = "UK" if value.upper() == "GB" else value.upper()
    return MARKETPLACES.get(code) or BY_ID.get(value)


def by_domain(name: str) -> Marketplace | None:
    """`Amazon.co.uk` (a settlement's `marketplace-name`) -> its marketplace; None for any other name."""
    return _BY_DOMAIN.get(name.strip().lower())


def code_of(marketplace_id: str) -> str:
    """The marketplace's code (`UK`), or the id itself when it is not one orderbridge knows."""
    found = BY_ID.get(marketplace_id)
    return found.code if found is not None else marketplace_id


def example_ids(*codes: str) -> str:
    """Marketplace ids for help texts, e.g. `example_ids("UK")` -> "A1F83G8C2ARO7P"."""
    return ",".join(MARKETPLACES[code].marketplace_id for code in codes)

"""How a marketplace's flat-file reports write numbers and dates, and which marketplace a file names.

SPAPI.md §7-§8: settlement `posted-date` and ledger `Date` follow the marketplace (`MM/DD/YYYY` in US
files, `DD.MM.YYYY` / `DD/MM/YYYY` in European ones; UNCONFIRMED per marketplace), and European
files may write comma decimals. ISO 8601 times (`posted-date-time`, `Date and Time`) are the same
everywhere and are preferred wherever a report has them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from orderbridge.amazon.marketplaces import ReportWriting, by_domain, by_id
from orderbridge.errors import OrderbridgeError

_NO_OFFSET = timedelta(0)
_DOT_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(\.\d{3})+$")


class ValueFormatError(OrderbridgeError):
    """A report value is not a number or date this marketplace writes; the message names the value."""


@dataclass(frozen=True)
class ReportLocale:
    """Decimal separator, day order and fallback charset of one marketplace's flat files."""

    decimal_comma: bool = False
    day_first: bool = False
    year_first: bool = False
    charset: str = "cp1252"  # SPAPI.md §7: cp1252 for NA/EU when the download names none, cp932 JP

    def decimal(self, text: str) -> Decimal:
        """A signed amount: `-1,234.56` (dot locale), `-1.234,56` (comma locale), `12,5` or `12.50`.

        One separator followed by exactly three digits is a thousands separator only in the locale that
        uses it that way; any other single separator is the decimal point (amounts carry 2 places)."""
        value = text.strip()
        if not value:
            raise ValueFormatError("empty amount")
        if self.decimal_comma and _DOT_THOUSANDS.match(value):
            return Decimal(value.replace(".", ""))  # `1.234` in a comma locale is one thousand ...
        try:
            return _finite(Decimal(value), text)  # the common case: plain `-12.34`
        except InvalidOperation:
            pass
        value = value.replace("\u00a0", "").replace(" ", "").replace("'", "")
        if "," in value and "." in value:
            point = "," if value.rfind(",") > value.rfind(".") else "."
        elif "," in value:
            tail = value.rpartition(",")[2]
            thousands = len(tail) == 3 and not self.decimal_comma
            point = "." if thousands else ","
        else:
            point = "."
        other = "." if point == "," else ","
        cleaned = value.replace(other, "").replace(point, ".")
        try:
            return _finite(Decimal(cleaned), text)
        except InvalidOperation:
            raise ValueFormatError(f"{text!r} is not an amount") from None

    def moment(self, text: str) -> datetime:
        """A UTC time from ISO 8601 (with or without offset) or the marketplace's day format."""
        value = text.strip()
        if not value:
            raise ValueFormatError("empty date")
        try:
            return _iso(value)
        except ValueError:
            pass
        return _day(value, self.day_first, self.year_first)


def _finite(value: Decimal, text: str) -> Decimal:
    if not value.is_finite():
        raise ValueFormatError(f"{text!r} is not an amount")
    return value


def _iso(value: str) -> datetime:
    # SPAPI.md §8.1: `2003-10-03T16:00:00-07:00`; some files write `2021-05-26 10:01:02 UTC` or `Z`.
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        cleaned = value.replace(" UTC", "+00:00").replace(" PST", "-08:00").replace(" PDT", "-07:00")
        moment = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    if moment.tzinfo is UTC:  # `+00:00` and `Z` parse to the UTC singleton: the common case
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment if moment.utcoffset() == _NO_OFFSET else moment.astimezone(UTC)


@lru_cache(maxsize=4096)
def _day(value: str, day_first: bool, year_first: bool) -> datetime:
    date_part = value.split(" ", maxsplit=1)[0].split("T", maxsplit=1)[0]
    for separator in ("/", ".", "-"):
        parts = date_part.split(separator)
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            break
    else:
        raise ValueFormatError(f"{value!r} is not a date")
    numbers = [int(p) for p in parts]
    if len(parts[0]) == 4 or year_first:
        year, month, day = numbers
    elif day_first:
        day, month, year = numbers
    else:
        month, day, year = numbers
    if year < 100:
        year += 2000
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        raise ValueFormatError(f"{value!r} is not a date") from None


DOT_MONTH_FIRST = ReportLocale()
DOT_DAY_FIRST = ReportLocale(day_first=True)
COMMA_DAY_FIRST = ReportLocale(decimal_comma=True, day_first=True)
JAPAN = ReportLocale(year_first=True, charset="cp932")

_WRITINGS: dict[ReportWriting, ReportLocale] = {
    ReportWriting.DOT_MONTH_FIRST: DOT_MONTH_FIRST,
    ReportWriting.DOT_DAY_FIRST: DOT_DAY_FIRST,
    ReportWriting.COMMA_DAY_FIRST: COMMA_DAY_FIRST,
    ReportWriting.JAPAN: JAPAN,
}


def locale_for(marketplace_id: str | None) -> ReportLocale:
    """The marketplace's conventions; dot decimals and month-first days when it is not known."""
    market = by_id(marketplace_id)
    if market is None or market.writing is None:
        return DOT_MONTH_FIRST
    return _WRITINGS[market.writing]


def marketplace_by_name(name: str) -> str | None:
    """`Amazon.co.uk` -> its marketplace id (None when the name is not a known storefront)."""
    market = by_domain(name)
    return market.marketplace_id if market is not None else None

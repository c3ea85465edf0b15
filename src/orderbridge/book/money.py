"""Money: exact Decimal amounts rounded to each currency's minor unit (Babel's CLDR data knows them).

Rounding rule (O15): every row rounds half-up to the minor unit once. Converting a tax-inclusive
gross to net + tax computes the tax from the gross and takes the net as gross minus tax, so that
net + tax equals the gross exactly, whatever the rate.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from babel.numbers import get_currency_precision

ZERO = Decimal(0)


@cache
def minor_unit(currency: str) -> Decimal:
    """The smallest amount of a currency as a Decimal exponent: GBP -> 0.01, JPY -> 1."""
    return Decimal(1).scaleb(-get_currency_precision(currency.upper()))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def tax_on_net(net: Decimal, rate: Decimal, currency: str) -> Decimal:
    """Tax on a net amount at `rate` (0.20 for 20 %), rounded to the minor unit."""
    return round_money(net * rate, currency)


def split_gross(gross: Decimal, rate: Decimal, currency: str) -> tuple[Decimal, Decimal]:
    """Split a tax-inclusive amount into (net, tax) with net + tax == gross exactly."""
    gross = round_money(gross, currency)
    tax = round_money(gross * rate / (1 + rate), currency)
    return gross - tax, tax

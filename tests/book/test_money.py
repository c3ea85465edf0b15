"""Money: rounding to each currency's minor unit and net/tax splits that add back up (O15)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderbridge.book.money import minor_unit, round_money, split_gross, tax_on_net

RATES = st.sampled_from(
    [Decimal("0"), Decimal("0.05"), Decimal("0.07"), Decimal("0.19"), Decimal("0.2"), Decimal("0.22")]
)
CURRENCIES = st.sampled_from(["GBP", "EUR", "USD", "CAD", "JPY", "SEK"])


@pytest.mark.parametrize(("currency", "unit"), [("GBP", "0.01"), ("JPY", "1"), ("EUR", "0.01")])
def test_minor_unit_comes_from_the_currency(currency: str, unit: str) -> None:
    assert minor_unit(currency) == Decimal(unit)


def test_rounding_is_half_up_to_the_minor_unit() -> None:
    assert round_money(Decimal("2.345"), "GBP") == Decimal("2.35")
    assert round_money(Decimal("2.344"), "GBP") == Decimal("2.34")
    assert round_money(Decimal("2.5"), "JPY") == Decimal("3")


def test_o15_uk_gross_splits_into_net_and_tax() -> None:
    assert split_gross(Decimal("11.99"), Decimal("0.2"), "GBP") == (Decimal("9.99"), Decimal("2.00"))


@given(
    gross=st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False, allow_infinity=False),
    rate=RATES,
    currency=CURRENCIES,
)
def test_o15_net_plus_tax_equals_gross_for_any_amount(gross: Decimal, rate: Decimal, currency: str) -> None:
    rounded = round_money(gross, currency)
    net, tax = split_gross(rounded, rate, currency)
    assert net + tax == rounded
    assert round_money(net, currency) == net and round_money(tax, currency) == tax
    # the tax is the correctly rounded share of the gross, so it is within half a minor unit
    assert abs(tax - rounded * rate / (1 + rate)) <= minor_unit(currency) / 2


@given(
    net=st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False, allow_infinity=False),
    rate=RATES,
)
def test_tax_on_net_is_rounded_and_never_negative(net: Decimal, rate: Decimal) -> None:
    tax = tax_on_net(net, rate, "USD")
    assert tax >= 0 and round_money(tax, "USD") == tax

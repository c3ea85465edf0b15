"""The PII log filter: no canary ever reaches a log (AC-5), ids and dates stay readable."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderbridge.privacy import log_filter
from orderbridge.privacy.log_filter import (
    MASK,
    PiiFilter,
    install_pii_filter,
    is_pii_key,
    looks_like_pii,
    mask_text,
)
from tests.privacy.fakes import CanaryBuyer, make_canary


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(buyer)s"))
    handler.addFilter(PiiFilter())
    logger = logging.getLogger(f"orderbridge.test.{id(stream)}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.removeHandler(handler)


def assert_no_canary(text: str, buyer: CanaryBuyer) -> None:
    for value in buyer.values.values():
        assert value not in text
        assert value.lower() not in text
    assert buyer.name.split()[0] not in text


def test_ac5_log_filter_masks_a_generated_buyers_email_phone_and_name(
    log: tuple[logging.Logger, io.StringIO], canary: CanaryBuyer
) -> None:
    logger, stream = log
    # given every way code might be tempted to log a buyer
    logger.info("booked 202-1234567-7654321 for %s (%s)", canary.email, canary.phone, extra={"buyer": "-"})
    logger.info(
        "buyer %s", {"name": canary.name, "address_line1": canary.address_line1}, extra={"buyer": "-"}
    )
    logger.info("mapped", extra={"buyer": {"BuyerName": canary.name, "BuyerEmail": canary.email}})
    logger.info("ship_name=%s phone: %s", canary.name, canary.phone, extra={"buyer": "-"})
    logger.info(
        'payload {"Name": "%s", "AddressLine1": "%s"}',
        canary.name,
        canary.address_line1,
        extra={"buyer": "-"},
    )
    try:
        raise ValueError(f"bad address for {canary.email}: name={canary.name}")
    except ValueError:
        logger.exception("order 202-1234567-7654321 failed", extra={"buyer": "-"})

    # then
    text = stream.getvalue()
    assert_no_canary(text, canary)
    assert text.count("202-1234567-7654321") == 2
    assert MASK in text
    assert "ValueError" in text  # the traceback is kept, masked


def test_ac5_install_masks_records_of_every_logger(canary: CanaryBuyer) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    factory = logging.getLogRecordFactory()
    root.addHandler(handler)
    try:
        installed = install_pii_filter()
        assert install_pii_filter() is installed
        child = logging.getLogger("orderbridge.amazon.orders.mapping.test")
        child.warning("buyer %s <%s>", canary.name, canary.email)
        child.warning("contact", extra={"email": canary.email})
        assert installed in handler.filters
    finally:
        root.removeHandler(handler)
        for target in (root, handler):
            for flt in list(target.filters):
                if isinstance(flt, PiiFilter):
                    target.removeFilter(flt)
        logging.setLogRecordFactory(factory)
        log_filter._INSTALLED.clear()
    assert canary.email not in stream.getvalue()
    assert "buyer" in stream.getvalue()


@pytest.mark.parametrize(
    "kept",
    [
        "order 202-1234567-7654321 booked",
        "swept 1532 orders in 2.5 s at 2026-11-23T03:00:01.123+00:00",
        "epoch A2SELLER0001/A1F83G8C2ARO7P/2026-12-23 destroyed",
        "sku ABC-123 qty 3 amount 1234.56 id 12345678",
        "filename=report.csv status=ok",
    ],
)
def test_ids_dates_amounts_and_plain_settings_stay_readable(kept: str) -> None:
    assert mask_text(kept) == kept


@pytest.mark.parametrize(
    "secret",
    [
        "refresh Atzr|IwEBIA-abc_def=",
        "rdt Atz.sprdt|AYABeFake-token",
        "Authorization: Bearer abcdef",
        "x-amz-access-token=Atza|IwEBIabc",
    ],
)
def test_ac5_tokens_never_reach_a_log(secret: str) -> None:
    assert "abc" not in mask_text(secret).lower().replace("[masked]", "")


@pytest.mark.parametrize(
    "key", ["name", "BuyerName", "ship-name", "buyer_email", "Phone", "AddressLine2", "gift_message"]
)
def test_pii_keys_are_recognised(key: str) -> None:
    assert is_pii_key(key)


@pytest.mark.parametrize("key", ["order_id", "sku", "marketplace", "quantity", "city", "country_code"])
def test_other_keys_are_not_pii(key: str) -> None:
    assert not is_pii_key(key)


@given(st.builds(lambda _: make_canary(), st.integers()))
def test_canary_values_always_look_like_pii(buyer: CanaryBuyer) -> None:
    assert looks_like_pii(buyer.email)
    assert looks_like_pii(buyer.phone)
    assert looks_like_pii(f"name={buyer.name}")


@given(st.text())
def test_masking_twice_changes_nothing(text: str) -> None:
    once = mask_text(text)
    assert mask_text(once) == once


def test_a_phone_followed_by_other_numbers_is_still_masked() -> None:
    assert "900123" not in mask_text("call +44 7700 900123 2026 or later")


@pytest.mark.parametrize("run", ["a" * 50_000, "a." * 25_000, "key: " * 10_000, "x=" + "a " * 25_000])
def test_masking_long_lines_takes_linear_time(run: str) -> None:
    # A quadratic pattern would take minutes here; the look-behinds keep it in milliseconds.
    mask_text(run)


def test_a_bad_format_string_neither_crashes_nor_leaks(
    log: tuple[logging.Logger, io.StringIO], canary: CanaryBuyer
) -> None:
    logger, stream = log
    logger.info("buyer %s %s", canary.email, extra={"buyer": "-"})
    assert canary.email not in stream.getvalue()
    assert "did not fit" in stream.getvalue()

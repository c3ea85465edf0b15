"""Flat-file rows: header names, charsets, a marketplace's decimals and dates (pure, no store)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from orderbridge.amazon.reports.handlers import row_identity
from orderbridge.amazon.reports.locales import (
    COMMA_DAY_FIRST,
    DOT_DAY_FIRST,
    DOT_MONTH_FIRST,
    JAPAN,
    ValueFormatError,
    locale_for,
    marketplace_by_name,
)
from orderbridge.amazon.reports.rows import ReportFileError, RowError, open_text, parse_text, read_rows


@pytest.mark.parametrize(
    ("locale", "text", "amount"),
    [
        (DOT_MONTH_FIRST, "-12.34", Decimal("-12.34")),
        (DOT_MONTH_FIRST, "1,234.56", Decimal("1234.56")),
        (DOT_MONTH_FIRST, "1,234", Decimal("1234")),
        (DOT_MONTH_FIRST, "12,5", Decimal("12.5")),
        (COMMA_DAY_FIRST, "-1.234,56", Decimal("-1234.56")),
        (COMMA_DAY_FIRST, "12,50", Decimal("12.50")),
        (COMMA_DAY_FIRST, "1.234", Decimal("1234")),
        (COMMA_DAY_FIRST, "12.50", Decimal("12.50")),
        (COMMA_DAY_FIRST, "1 234,56", Decimal("1234.56")),
    ],
)
def test_amounts_are_read_the_way_the_marketplace_writes_them(
    locale: object, text: str, amount: Decimal
) -> None:
    assert locale.decimal(text) == amount  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", ["", "abc", "NaN", "Infinity", "1,2,3.4.5"])
def test_a_bad_amount_is_named(text: str) -> None:
    with pytest.raises(ValueFormatError):
        DOT_MONTH_FIRST.decimal(text)


@pytest.mark.parametrize(
    ("locale", "text", "moment"),
    [
        (DOT_MONTH_FIRST, "2026-02-20T10:00:00-08:00", datetime(2026, 2, 20, 18, tzinfo=UTC)),
        (DOT_MONTH_FIRST, "2026-02-20T10:00:00Z", datetime(2026, 2, 20, 10, tzinfo=UTC)),
        (DOT_MONTH_FIRST, "2026-02-20 10:00:00 UTC", datetime(2026, 2, 20, 10, tzinfo=UTC)),
        (DOT_MONTH_FIRST, "02/03/2026", datetime(2026, 2, 3, tzinfo=UTC)),
        (DOT_DAY_FIRST, "02/03/2026", datetime(2026, 3, 2, tzinfo=UTC)),
        (COMMA_DAY_FIRST, "02.03.2026", datetime(2026, 3, 2, tzinfo=UTC)),
        (JAPAN, "2026/03/02", datetime(2026, 3, 2, tzinfo=UTC)),
        (DOT_MONTH_FIRST, "03/02/26", datetime(2026, 3, 2, tzinfo=UTC)),
    ],
)
def test_dates_are_read_by_the_marketplace_day_order_and_iso_times_everywhere(
    locale: object, text: str, moment: datetime
) -> None:
    assert locale.moment(text) == moment  # type: ignore[attr-defined]


def test_locales_and_marketplace_names() -> None:
    assert locale_for("A1PA6795UKMFR9") is COMMA_DAY_FIRST
    assert locale_for("A1VC38T7YXB528").charset == "cp932"
    assert locale_for(None) is DOT_MONTH_FIRST
    assert marketplace_by_name("Amazon.co.uk") == "A1F83G8C2ARO7P"
    assert marketplace_by_name("Non-Amazon") is None


def test_f10_columns_by_header_name_extra_columns_accepted_missing_ones_named() -> None:
    header, rows = parse_text(
        '\ufeffsku\tnew-column\tquantity\n\nA-1\tx\t3\nB "2\t\t-1\n', locale=DOT_MONTH_FIRST, required=["sku"]
    )
    assert header.names == ("sku", "new-column", "quantity")
    assert [(r.line, r["sku"], r.integer("quantity")) for r in rows] == [(3, "A-1", 3), (4, 'B "2', -1)]
    assert rows[0]["absent"] == "" and rows[0].get("absent", "sku") == "A-1"
    with pytest.raises(ReportFileError, match="required column 'amount' missing"):
        parse_text("sku\tquantity\n", locale=DOT_MONTH_FIRST, required=["sku", "amount"], what="settlement")
    with pytest.raises(RowError, match="quantity: 'x' is not a whole number"):
        parse_text("quantity\nx\n", locale=DOT_MONTH_FIRST)[1][0].integer("quantity")
    with pytest.raises(ReportFileError, match="empty"):
        parse_text("", locale=DOT_MONTH_FIRST)


def test_charset_declared_else_utf8_else_the_marketplace_fallback(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes("sku\n\u5546\u54c1\n".encode("cp932"))  # a JP file without a declared charset
    with open_text(path, declared=None, fallback=JAPAN.charset) as text:
        _, rows = read_rows(text, locale=JAPAN)
        assert next(rows)["sku"] == "\u5546\u54c1"
    path.write_bytes("sku\nCaf\u00e9\n".encode())
    with open_text(path, declared=None, fallback="cp1252") as text:
        assert next(read_rows(text, locale=DOT_MONTH_FIRST)[1])["sku"] == "Caf\u00e9"
    path.write_bytes("sku\nCaf\u00e9\n".encode("latin-1"))
    with open_text(path, declared="ISO-8859-1", fallback="cp1252") as text:
        assert next(read_rows(text, locale=DOT_MONTH_FIRST)[1])["sku"] == "Caf\u00e9"


def test_row_identity_stays_short() -> None:
    assert row_identity("a", "b") == "a|b"
    long = row_identity(*["x" * 50] * 10)
    assert long.startswith("sha256:") and len(long) <= 200


def test_f10_pick_reads_columns_by_name_in_one_step_absent_and_missing_ones_empty() -> None:
    # a header without `amount`, and a row shorter than the header (trailing empty fields dropped)
    _, rows = parse_text("sku\tquantity\tnote\nA-1\t3\tx\nB-2\n", locale=DOT_MONTH_FIRST)
    assert rows[0].pick(("note", "amount", "sku")) == ("x", "", "A-1")
    assert rows[1].pick(("quantity", "sku")) == ("", "B-2")
    assert rows[1].pick(("sku",)) == ("B-2",)
    assert rows[1].text() == "B-2"  # the inbox keeps the row as it was, not padded
    # the last pick is kept for the same columns (row_key, then parse), never for other ones
    both = ("sku", "note")
    assert rows[0].pick(both) == ("A-1", "x") and rows[0].pick(both) is rows[0].pick(both)
    assert rows[0].pick(("note",)) == ("x",)
    assert rows[0].pick(both) == ("A-1", "x")

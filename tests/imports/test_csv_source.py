"""Reading CSV files: encodings, dialects, line numbers and the problems of a broken file."""

from __future__ import annotations

import codecs

import pytest

from orderbridge.imports.csv_source import parse_csv
from orderbridge.imports.errors import ImportRejectedError


def problems_of(data: bytes) -> list[str]:
    with pytest.raises(ImportRejectedError) as rejected:
        parse_csv(data, source="f.csv")
    return [str(problem) for problem in rejected.value.problems]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_sniffer_finds_the_delimiter(delimiter: str) -> None:
    text = (
        delimiter.join(["sku", "name", "quantity"]) + "\n" + delimiter.join(["A-1", "Mug, blue", "3"]) + "\n"
    )
    if delimiter == ",":
        text = text.replace("Mug, blue", '"Mug, blue"')

    found = parse_csv(text.encode(), source="f.csv")

    assert found.columns == ("sku", "name", "quantity")
    assert found.rows[0].cells == {"sku": "A-1", "name": "Mug, blue", "quantity": "3"}


def test_a_one_column_file_needs_no_delimiter() -> None:
    found = parse_csv(b"sku\nA-1\nB-2\n", source="f.csv")

    assert [row.cells["sku"] for row in found.rows] == ["A-1", "B-2"]


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF8 + "sku,name\nA-1,Café\n".encode(),
        "sku,name\nA-1,Café\n".encode("utf-16"),  # with its BOM, as Excel's "Unicode text" saves
        "sku,name\r\nA-1,Café\r\n".encode(),
    ],
    ids=["utf-8 BOM", "utf-16 BOM", "CRLF"],
)
def test_encodings_by_byte_order_mark(data: bytes) -> None:
    found = parse_csv(data, source="f.csv")

    assert found.columns == ("sku", "name")
    assert found.rows[0].cells == {"sku": "A-1", "name": "Café"}


def test_text_that_is_not_utf8_names_its_line() -> None:
    assert problems_of(b"sku,name\nA-1,Mug\nB-2,Caf\xe9\n") == [
        "line 3: is not utf-8 text (byte 0xE9); save the file as UTF-8"
    ]


def test_rows_keep_the_line_they_start_on_across_blank_lines_and_quoted_newlines() -> None:
    found = parse_csv(b'sku,name\n\nA-1,"two\nlines"\nB-2,Mug\n', source="f.csv")

    assert [(row.line, row.cells["sku"]) for row in found.rows] == [(3, "A-1"), (5, "B-2")]


def test_cells_are_stripped_and_short_rows_padded() -> None:
    found = parse_csv(b"sku,name,reference\n A-1 , Mug \n", source="f.csv")

    assert found.rows[0].cells == {"sku": "A-1", "name": "Mug", "reference": ""}


def test_broken_files_name_each_line() -> None:
    assert problems_of(b"sku,sku,\nA,B,C,D\n") == [
        "line 1, column sku: appears more than once",
        "line 1, column #3: has no name",
        "line 2: has 4 values but the header names 3 columns",
    ]
    assert problems_of(b"") == ["line 1: the file is empty: a header line naming the columns is required"]
    assert problems_of(b"\n\n") == ["line 1: the file is empty: a header line naming the columns is required"]


def test_the_digest_is_of_the_bytes() -> None:
    first = parse_csv(b"sku\nA\n", source="a.csv")

    assert first.digest == parse_csv(b"sku\nA\n", source="b.csv").digest
    assert first.digest != parse_csv(b"sku\nB\n", source="a.csv").digest

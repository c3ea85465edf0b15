"""Reading a CSV file: encoding by byte-order mark, dialect by csv.Sniffer, rows with their line numbers."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from orderbridge.imports.errors import ImportRejectedError, Problem

# The delimiters spreadsheets export; the Sniffer may only pick one of these.
DELIMITERS = ",;\t|"
SNIFF_BYTES = 64 * 1024
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class CsvRow:
    """One record of the file: the line it starts on and its cells by column name (stripped)."""

    line: int
    cells: dict[str, str]


@dataclass(frozen=True)
class CsvTable:
    """A whole file: its name, header, records and a digest of its bytes (stable references)."""

    source: str
    columns: tuple[str, ...]
    rows: tuple[CsvRow, ...]
    digest: str


def read_csv(path: Path) -> CsvTable:
    """Read a CSV file with a header line, or raise ImportRejectedError naming the line that is wrong."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ImportRejectedError(
            str(path), [Problem(0, None, f"cannot read the file: {error.strerror}")]
        ) from None
    return parse_csv(data, source=str(path))


def parse_csv(data: bytes, *, source: str) -> CsvTable:
    """Parse CSV bytes; every record keeps the line it starts on, blank lines are skipped."""
    text = _decode(data, source)
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    problems: list[Problem] = []
    header: tuple[str, ...] = ()
    rows: list[CsvRow] = []
    next_line = 1
    try:
        for record in reader:
            line, next_line = next_line, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if not header:
                header = tuple(cell.strip() for cell in record)
                problems.extend(_header_problems(header))
                continue
            if len(record) > len(header):
                problems.append(
                    Problem(
                        line, None, f"has {len(record)} values but the header names {len(header)} columns"
                    )
                )
                continue
            cells = {name: value.strip() for name, value in zip(header, record, strict=False)}
            rows.append(CsvRow(line, cells | {name: "" for name in header[len(record) :]}))
    except csv.Error as error:
        problems.append(Problem(next_line, None, f"is not valid CSV: {error}"))
    if not header and not problems:
        problems.append(Problem(1, None, "the file is empty: a header line naming the columns is required"))
    if problems:
        raise ImportRejectedError(source, problems)
    return CsvTable(source, header, tuple(rows), hashlib.sha256(data).hexdigest())


def _decode(data: bytes, source: str) -> str:
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = data[error.start : error.start + 1].hex().upper()
        raise ImportRejectedError(
            source, [Problem(line, None, f"is not {encoding} text (byte 0x{byte}); save the file as UTF-8")]
        ) from None


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    sample = text[:SNIFF_BYTES]
    header_line = sample.split("\n", 1)[0]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=DELIMITERS)
    except csv.Error:
        return csv.excel
    # A one-column file has no delimiter to find; trust the Sniffer only when the header uses its pick.
    if dialect.delimiter not in header_line:
        return csv.excel
    dialect.doublequote = True
    return dialect


def _header_problems(header: tuple[str, ...]) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            problems.append(Problem(1, f"#{position}", "has no name"))
        elif name.lower() in seen:
            problems.append(Problem(1, name, "appears more than once"))
        seen.add(name.lower())
    return problems

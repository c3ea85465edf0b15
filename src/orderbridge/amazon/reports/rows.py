"""Flat-file report rows read as a stream: columns by header name, one row at a time, constant memory.

SPAPI.md §8: every flat file is tab-separated with one header line; parse by header name, never by
position ("returned fields may vary"). Unknown extra columns are accepted; a missing required column
refuses the whole file with its name. Fields are not quoted (a title may hold a lone `"`), so the
reader uses `csv.QUOTE_NONE`. A file's bytes are decoded by the charset the download declared, else
UTF-8 when the bytes are UTF-8, else the marketplace's fallback (cp1252 / cp932; SPAPI.md §7).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import IO

from orderbridge.amazon.reports.locales import ReportLocale, ValueFormatError
from orderbridge.errors import OrderbridgeError

CHUNK = 1 << 20


class ReportFileError(OrderbridgeError):
    """The file as a whole cannot be read: no header, a required column missing, not decodable."""


class RowError(OrderbridgeError):
    """One row cannot be booked; the row is quarantined with this reason and the rest books."""


@dataclass(frozen=True)
class Header:
    """The header line: column names and where each one is."""

    names: tuple[str, ...]

    @property
    def index(self) -> dict[str, int]:
        return {name: position for position, name in enumerate(self.names)}

    def require(self, required: Sequence[str], *, what: str) -> None:
        missing = [name for name in required if name not in self.names]
        if missing:
            raise ReportFileError(
                f"{what}: required column {', '.join(repr(m) for m in missing)} missing from the header"
            )


class Layout:
    """Where each column of one header is, shared by every row of the file (no dict per row), with
    the compiled readers of column groups that handlers ask for (`ReportRow.pick`)."""

    __slots__ = ("_getters", "index", "width")

    def __init__(self, names: Sequence[str]) -> None:
        self.index = {name: position for position, name in enumerate(names)}
        self.width = len(names)
        self._getters: dict[tuple[str, ...], tuple[int, Callable[[Sequence[str]], tuple[str, ...]]]] = {}

    def getter(self, names: tuple[str, ...]) -> tuple[int, Callable[[Sequence[str]], tuple[str, ...]]]:
        """(values a row needs, reader): absent columns read a position past the header, filled with ""."""
        found = self._getters.get(names)
        if found is None:
            positions = [self.index.get(name, self.width) for name in names]
            take = itemgetter(*positions)
            reader = take if len(positions) > 1 else (lambda values: (take(values),))
            found = self._getters[names] = (max(positions) + 1, reader)
        return found


def whole_number(name: str, value: str, default: int | None = None) -> int:
    """A column's whole number (`default` when empty), or RowError naming the column and the value."""
    if not value and default is not None:
        return default
    try:
        return int(value)
    except ValueError:
        raise RowError(f"{name}: {value!r} is not a whole number") from None


class ReportRow:
    """One data row: `row["amount"]` by header name ("" for an empty or absent column; `row.pick(names)`
    reads several at once, for hot loops), typed readers that raise `RowError` naming the column and
    value, the line number and the stripped values in file order."""

    __slots__ = ("_layout", "_locale", "_picked", "line", "values")

    def __init__(
        self,
        values: list[str],
        line: int,
        names: Sequence[str],
        locale: ReportLocale,
        layout: Layout | None = None,
    ) -> None:
        self.values = values
        self.line = line
        self._layout = layout if layout is not None else Layout(names)
        self._locale = locale
        self._picked: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    @property
    def fields(self) -> dict[str, str]:
        values = self.values
        return {name: values[i] for name, i in self._layout.index.items() if i < len(values)}

    def __getitem__(self, name: str) -> str:
        position = self._layout.index.get(name)
        if position is None or position >= len(self.values):
            return ""
        return self.values[position]

    def pick(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """These columns' values in this order ("" for empty or absent ones), read in one step. The
        last pick is kept: a handler's `row_key` and `parse` read the same columns once between them."""
        picked = self._picked
        if picked is not None and picked[0] is names:
            return picked[1]
        needed, reader = self._layout.getter(names)
        values = self.values
        if len(values) < needed:
            values = values + [""] * (needed - len(values))
        found = reader(values)
        self._picked = (names, found)
        return found

    def get(self, *names: str) -> str:
        """The first of these columns that the file has and fills (e.g. `order-id`, `amazon-order-id`)."""
        for name in names:
            value = self[name]
            if value:
                return value
        return ""

    def text(self) -> str:
        """The row as it was in the file (tab-separated, each field stripped), for the inbox."""
        return "\t".join(self.values)

    def required(self, name: str) -> str:
        value = self[name]
        if not value:
            raise RowError(f"{name} is empty")
        return value

    def decimal(self, name: str, *, default: Decimal | None = None) -> Decimal:
        value = self[name]
        if not value and default is not None:
            return default
        try:
            return self._locale.decimal(value)
        except ValueFormatError as error:
            raise RowError(f"{name}: {error}") from None

    def integer(self, name: str, *, default: int | None = None) -> int:
        return whole_number(name, self[name], default)

    def moment(self, *names: str) -> datetime:
        """The first filled of these date/time columns as UTC (prefer the ISO one first)."""
        for name in names:
            value = self[name]
            if value:
                try:
                    return self._locale.moment(value)
                except ValueFormatError as error:
                    raise RowError(f"{name}: {error}") from None
        raise RowError(f"{' / '.join(names)} is empty")


def open_text(path: Path, *, declared: str | None, fallback: str) -> IO[str]:
    """The file as text in the declared charset, else UTF-8 (BOM dropped) if it is UTF-8, else fallback."""
    encoding = _checked(declared) or ("utf-8-sig" if _is_utf8(path) else fallback)
    errors = "strict" if encoding != fallback else "replace"
    return path.open("r", encoding=encoding, errors=errors, newline="")


def _checked(declared: str | None) -> str | None:
    if not declared:
        return None
    try:
        name = codecs.lookup(declared).name
    except LookupError:
        return None
    return "utf-8-sig" if name == "utf-8" else name


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as raw:
        try:
            while chunk := raw.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def read_rows(
    text: IO[str],
    *,
    locale: ReportLocale,
    required: Sequence[str] = (),
    what: str = "report",
) -> tuple[Header, Iterator[ReportRow]]:
    """The header (checked for the required columns) and a lazy iterator over the data rows.

    Blank lines are skipped; line numbers count from 1 at the header, as a spreadsheet shows them."""
    reader = csv.reader(text, delimiter="\t", quoting=csv.QUOTE_NONE, strict=False)
    try:
        first = next(reader)
    except StopIteration:
        raise ReportFileError(f"{what}: the file is empty (no header line)") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise ReportFileError(f"{what}: the header cannot be read ({type(error).__name__})") from None
    header = Header(tuple(name.strip().lstrip("\ufeff") for name in first))
    header.require(required, what=what)
    return header, _rows(reader, header, locale, what)


def _rows(
    reader: Iterator[list[str]], header: Header, locale: ReportLocale, what: str
) -> Iterator[ReportRow]:
    names = header.names
    layout = Layout(names)
    strip = str.strip
    line = 1
    try:
        for values in reader:
            line += 1
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            yield ReportRow(list(map(strip, values)), line, names, locale, layout)
    except (UnicodeDecodeError, csv.Error) as error:
        problem = type(error).__name__
        raise ReportFileError(f"{what}: line {line + 1} cannot be read ({problem})") from None


def parse_text(
    content: str, *, locale: ReportLocale, required: Sequence[str] = (), what: str = "report"
) -> tuple[Header, list[ReportRow]]:
    """A small file held in memory (tests, re-reading one quarantined row): header and rows."""
    header, rows = read_rows(io.StringIO(content), locale=locale, required=required, what=what)
    return header, list(rows)

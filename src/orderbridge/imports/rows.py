"""The columns of each import kind and the pydantic models that validate one row of each.

A cell is stripped; an empty cell is "no value". Every problem becomes a Problem naming the line,
the column and what is wrong, and all of a file's problems are collected before any is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Annotated, Any, Generic, TypeVar, cast

from babel import Locale
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from orderbridge.amazon.marketplaces import MARKETPLACES, by_code
from orderbridge.book.inventory import WarehouseKind
from orderbridge.imports.csv_source import CsvTable
from orderbridge.imports.errors import ImportRejectedError, Problem

PRICE_PREFIX = "price:"
AMOUNT_PLACES = 4
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}
_TERRITORIES = frozenset(Locale("en").territories)


def _text(max_length: int) -> BeforeValidator:
    def check(value: Any) -> Any:
        if isinstance(value, str) and len(value) > max_length:
            raise ValueError(f"is longer than {max_length} characters")
        return value

    return BeforeValidator(check)


def _yes_no(value: Any) -> Any:
    if isinstance(value, str):
        if value.lower() in _YES:
            return True
        if value.lower() in _NO:
            return False
        raise ValueError("must be yes or no")
    return value


def _whole_number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ValueError("must be a whole number") from None
    return value


def _amount(value: Any) -> Any:
    if isinstance(value, str):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValueError("must be an amount such as 12.99") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError("must be an amount of 0 or more")
        if amount != amount.quantize(Decimal(1).scaleb(-AMOUNT_PLACES)):
            raise ValueError(f"has more than {AMOUNT_PLACES} decimal places")
        return amount
    return value


def _kind(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return WarehouseKind(value.lower())
        except ValueError:
            raise ValueError("must be own or fba") from None
    return value


RATE_PLACES = 6  # tax_codes.rate holds a fraction with six decimal places (20.5% = 0.205)


def tax_rate(text: str) -> Decimal:
    """A tax rate as a seller writes it, as the fraction the book keeps: `0.20` or `20%` -> 0.20.

    A bare number of 1 or more is refused rather than read as a percentage: `20` could mean 20% or a
    typo, and no sales tax is 100% or more."""
    value = text.strip()
    percent = value.endswith("%")
    try:
        rate = Decimal(value.removesuffix("%").strip())
    except InvalidOperation:
        raise ValueError("must be a rate such as 0.20 or 20%") from None
    if not rate.is_finite() or rate < 0:
        raise ValueError("must be a rate of 0 or more, such as 0.20 or 20%")
    if percent:
        rate = rate / 100
    if rate >= 1:
        raise ValueError("must be under 100%: write 0.20 or 20% for twenty percent")
    if rate != rate.quantize(Decimal(1).scaleb(-RATE_PLACES)):
        raise ValueError(f"has more than {RATE_PLACES} decimal places as a fraction")
    return rate.normalize() if rate else Decimal(0)


def _rate(value: Any) -> Any:
    return tax_rate(value) if isinstance(value, str) else value


# Babel's territories include groupings that are no country a parcel goes to.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "ZZ"})


def country_code(text: str) -> str:
    """An ISO 3166 country code (`gb` -> `GB`); `UK` is refused with its ISO spelling named."""
    code = text.strip().upper()
    if code == "UK":
        raise ValueError("is not an ISO country code: the United Kingdom is GB")
    if len(code) != 2 or not code.isalpha() or code in _NOT_COUNTRIES or code not in _TERRITORIES:
        raise ValueError("must be a two-letter ISO country code such as GB, DE or US")
    return code


def marketplace_id(text: str) -> str:
    """Amazon's id of a marketplace given by its code (`UK`, `de`) or its id."""
    found = by_code(text)
    if found is None:
        known = ", ".join(MARKETPLACES)
        raise ValueError(f"is not an Amazon marketplace; the marketplaces are {known} (or their ids)")
    return found.marketplace_id


def _country(value: Any) -> Any:
    return country_code(value) if isinstance(value, str) else value


def _marketplace(value: Any) -> Any:
    return marketplace_id(value) if isinstance(value, str) else value


Sku = Annotated[str, _text(100)]
ProductName = Annotated[str, _text(500)]
Code = Annotated[str, _text(40)]
NominalCode = Annotated[str, _text(20)]
Region = Annotated[str, _text(10)]
Reference = Annotated[str, _text(200)]
WarehouseName = Annotated[str, _text(200)]
YesNo = Annotated[bool, BeforeValidator(_yes_no)]
Count = Annotated[int, BeforeValidator(_whole_number), Field(ge=0)]
PerBundle = Annotated[int, BeforeValidator(_whole_number), Field(gt=0)]
Price = Annotated[Decimal, BeforeValidator(_amount)]
Kind = Annotated[WarehouseKind, BeforeValidator(_kind)]


class Row(BaseModel):
    """A validated CSV row; field aliases are the column names."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class ProductRow(Row):
    sku: Sku
    name: ProductName
    stock_tracked: YesNo | None = None
    sales_nominal_code: NominalCode | None = None
    tax_class: Code | None = None
    # From the `price:<PRICE_LIST_CODE>` columns: price list code -> price.
    prices: dict[str, Price] = Field(default_factory=dict)


class BundleRow(Row):
    bundle_sku: Sku
    component_sku: Sku
    quantity: PerBundle
    name: ProductName | None = None


class WarehouseRow(Row):
    code: Code
    name: WarehouseName
    kind: Kind | None = None  # own for a new warehouse; an existing one keeps its kind
    region: Region | None = None


class TaxCodeRow(Row):
    code: Annotated[str, _text(20)]
    name: Annotated[str, _text(200)]
    rate: Annotated[Decimal, BeforeValidator(_rate)]


class TaxRuleRow(Row):
    tax_code: Annotated[str, _text(20)]
    marketplace: Annotated[str, BeforeValidator(_marketplace)] | None = None  # kept as Amazon's id
    ship_to_country: Annotated[str, BeforeValidator(_country)] | None = None
    tax_class: Code | None = None
    priority: Annotated[int, BeforeValidator(_whole_number)] = 0


class StockRow(Row):
    sku: Sku
    warehouse: Code
    quantity: Count
    reference: Reference | None = None


R = TypeVar("R", bound=Row)


@dataclass(frozen=True)
class ValidRows(Generic[R]):
    """A validated file: the rows that passed (by line), the columns the file has, and the problems found.

    `checkable` adds the rows that did not pass, with None in each bad field, so that an importer's own
    checks (unknown SKU, duplicate line ...) still run on their good cells and every problem is found
    in one go. Only `rows` is ever applied.
    """

    source: str
    digest: str
    columns: frozenset[str]
    rows: tuple[tuple[int, R], ...]
    checkable: tuple[tuple[int, R], ...]
    problems: tuple[Problem, ...]


def columns_of(model: type[Row]) -> tuple[list[str], list[str]]:
    """(required, optional) column names of a row model."""
    required: list[str] = []
    optional: list[str] = []
    for name, field in model.model_fields.items():
        if name != "prices":
            (required if field.is_required() else optional).append(name)
    return required, optional


def validate_rows(table: CsvTable, model: type[R]) -> ValidRows[R]:
    """Validate every row of `table` as `model`; a wrong header is rejected at once, row problems are kept."""
    required, optional = columns_of(model)
    known = {name: name for name in (*required, *optional)}
    prices_allowed = "prices" in model.model_fields
    columns: dict[str, str] = {}  # header name as written -> canonical column
    problems: list[Problem] = []
    for written in table.columns:
        if written.lower() in known:
            columns[written] = written.lower()
        elif (
            prices_allowed
            and written.lower().startswith(PRICE_PREFIX)
            and written[len(PRICE_PREFIX) :].strip()
        ):
            columns[written] = PRICE_PREFIX + written[len(PRICE_PREFIX) :].strip()
        else:
            expected = ", ".join(
                [*required, *optional] + ([PRICE_PREFIX + "<PRICE_LIST_CODE>"] if prices_allowed else [])
            )
            problems.append(Problem(1, written, f"unknown column; the columns are: {expected}"))
    problems.extend(
        Problem(1, name, "required column is missing") for name in required if name not in columns.values()
    )
    if problems:
        raise ImportRejectedError(table.source, problems)
    valid: list[tuple[int, R]] = []
    checkable: list[tuple[int, R]] = []
    for row in table.rows:
        found = len(problems)
        parsed = _validate_row(
            model, row.line, {columns[name]: value for name, value in row.cells.items()}, required, problems
        )
        checkable.append((row.line, parsed))
        if len(problems) == found:
            valid.append((row.line, parsed))
    return ValidRows(
        table.source,
        table.digest,
        frozenset(columns.values()),
        tuple(valid),
        tuple(checkable),
        tuple(problems),
    )


def _validate_row(
    model: type[R], line: int, cells: dict[str, str], required: list[str], problems: list[Problem]
) -> R:
    empty = [name for name in required if not cells.get(name)]
    problems.extend(Problem(line, name, "is required but empty") for name in empty)
    data: dict[str, Any] = {
        name: value for name, value in cells.items() if value and not name.startswith(PRICE_PREFIX)
    }
    prices = {
        name[len(PRICE_PREFIX) :]: value
        for name, value in cells.items()
        if value and name.startswith(PRICE_PREFIX)
    }
    if prices:
        data["prices"] = prices
    try:
        return model.model_validate(data)
    except ValidationError as error:
        bad = set(empty)
        for item in error.errors():
            column = _column(item["loc"])
            bad.add(str(item["loc"][0]) if item["loc"] else column)
            if column in empty:
                continue
            value = item["input"] if isinstance(item["input"], str | int) else None
            problems.append(
                Problem(line, column, _message(item["msg"]), None if value is None else str(value))
            )
        return _salvage(model, data, bad)


def _salvage(model: type[R], data: dict[str, Any], bad: set[str]) -> R:
    """The row with its good fields validated one by one and None in each bad one (only for checks)."""
    values: dict[str, Any] = dict.fromkeys(bad)
    for name, value in data.items():
        if name not in bad:
            values[name] = _field_adapter(model, name).validate_python(value)
    return cast(R, model.model_construct(**values))


@cache
def _field_adapter(model: type[Row], name: str) -> TypeAdapter[Any]:
    field = model.model_fields[name]
    annotation: Any = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
    return TypeAdapter(annotation)


def _column(loc: tuple[int | str, ...]) -> str:
    if len(loc) >= 2 and loc[0] == "prices":
        return f"{PRICE_PREFIX}{loc[1]}"
    return str(loc[0]) if loc else "(row)"


def _message(msg: str) -> str:
    for prefix in ("Value error, ", "Input should be "):
        if msg.startswith(prefix):
            return msg[len(prefix) :] if prefix.startswith("Value") else "must be " + msg[len(prefix) :]
    return msg

"""`orderbridge fields ...`: custom fields of sales orders, contacts and products (text, text area,
yes/no, select), which channel settings name to keep Amazon's gift messages, PO numbers and flags."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.amazon.channel import FIELD_KINDS, amazon_channels, settings_for
from orderbridge.book.custom_fields import CustomFieldDefinition, FieldKind, RecordKind, define_field
from orderbridge.cli.catalog import AsJson
from orderbridge.cli.context import console, fail, unit_of_work
from orderbridge.cli.output import checked, print_json, print_table, reported_errors

fields = typer.Typer(
    help="Custom fields of sales orders, contacts and products (text, text area, yes/no, select).",
    no_args_is_help=True,
)

CODE_LIMIT = 60
NAME_LIMIT = 200


@fields.command("add")
def add_field(
    code: Annotated[str, typer.Argument(help="A short code, unique per record kind, e.g. gift_message.")],
    name: Annotated[str, typer.Argument(help="The name to show, e.g. 'Gift message'.")],
    kind: Annotated[str, typer.Argument(help="What it holds: text, text_area, yes_no or select.")],
    record: Annotated[
        str, typer.Option("--for", help="The records it belongs to: sales_order, contact or product.")
    ] = RecordKind.SALES_ORDER.value,
    option: Annotated[
        list[str] | None, typer.Option(help="A choice of a select field (repeat for each choice).")
    ] = None,
) -> None:
    """Add a custom field (sales-order fields by default). A select field needs its choices (--option);
    the other kinds take none."""
    field_kind = checked("kind", _field_kind, kind)
    record_kind = checked("record kind", _record_kind, record)
    code = code.strip()
    if not code or len(code) > CODE_LIMIT:
        raise fail(f"custom field {code!r}: the code must be 1 to {CODE_LIMIT} characters")
    if len(name) > NAME_LIMIT:
        raise fail(f"custom field {code!r}: the name must be at most {NAME_LIMIT} characters")
    choices = [choice.strip() for choice in option or [] if choice.strip()]
    if len(set(choices)) != len(choices):
        raise fail(f"custom field {code!r}: an option is given twice")
    with reported_errors(), unit_of_work() as session:
        define_field(session, record_kind, code, name.strip() or code, field_kind, options=choices or None)
    line = f"{_record_words(record_kind)} custom field {code} added ({_kind_words(field_kind)})"
    console.print(line, highlight=False)


@fields.command("list")
def list_fields(
    as_json: AsJson = False,
    record: Annotated[
        RecordKind | None,
        typer.Option("--for", help="Only the fields of these records.", case_sensitive=False),
    ] = None,
) -> None:
    """List the custom fields, and which channel settings use each."""
    with unit_of_work() as session:
        found = field_listing(session, record)
    if as_json:
        print_json([asdict(field) for field in found])
        return
    rows = [
        [
            _record_words(RecordKind(f.record)),
            f.code,
            f.name,
            _kind_words(FieldKind(f.kind)),
            f.option_text,
            f.used_text,
        ]
        for f in found
    ]
    print_table("Custom fields", ["for", "code", "name", "kind", "options", "used by"], rows)


@dataclass(frozen=True)
class FieldView:
    record: str
    code: str
    name: str
    kind: str
    options: list[str]
    used_by: list[str]  # channel:setting, e.g. amazon-uk:gift_message_field

    @property
    def option_text(self) -> str:
        return ", ".join(self.options)

    @property
    def used_text(self) -> str:
        return ", ".join(self.used_by)


def field_listing(session: Session, record: RecordKind | None) -> list[FieldView]:
    query = select(CustomFieldDefinition).order_by(
        CustomFieldDefinition.record_kind, CustomFieldDefinition.code
    )
    if record is not None:
        query = query.where(CustomFieldDefinition.record_kind == record)
    used: dict[str, list[str]] = {}
    for channel in amazon_channels(session):
        settings = settings_for(session, channel)
        for setting in FIELD_KINDS:
            code = getattr(settings, setting)
            if code is not None:
                used.setdefault(code, []).append(f"{channel.code}:{setting}")
    return [
        FieldView(
            record=str(d.record_kind),
            code=d.code,
            name=d.name,
            kind=str(d.kind),
            options=list(d.options or []),
            used_by=used.get(d.code, []) if d.record_kind == RecordKind.SALES_ORDER else [],
        )
        for d in session.scalars(query)
    ]


def _field_kind(text: str) -> FieldKind:
    wanted = text.strip().lower().replace("-", "_").replace(" ", "_").replace("/", "_")
    for kind in FieldKind:
        if kind.value == wanted:
            return kind
    raise ValueError(f"is not a field kind; the kinds are {', '.join(k.value for k in FieldKind)}")


def _record_kind(text: str) -> RecordKind:
    wanted = text.strip().lower().replace("-", "_").replace(" ", "_")
    for kind in RecordKind:
        if kind.value == wanted:
            return kind
    raise ValueError(f"is not a record kind; the kinds are {', '.join(k.value for k in RecordKind)}")


def _record_words(record: RecordKind) -> str:
    return {RecordKind.SALES_ORDER: "sales-order", RecordKind.CONTACT: "contact"}.get(record, str(record))


def _kind_words(kind: FieldKind) -> str:
    return {FieldKind.TEXT_AREA: "text area", FieldKind.YES_NO: "yes/no"}.get(kind, str(kind))

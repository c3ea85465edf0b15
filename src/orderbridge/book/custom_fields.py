"""Custom fields: typed definitions per record kind (text, text area, yes/no, select) and their values."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, Select, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.book.errors import DuplicateError, InvalidValueError, NotFoundError
from orderbridge.book.pii import PIIRecordColumns, new_pii_ref, pii_column
from orderbridge.db import Base, BigId, Json

TEXT_LIMIT = 255


class RecordKind(StrEnum):
    SALES_ORDER = "sales_order"
    CONTACT = "contact"
    PRODUCT = "product"


class FieldKind(StrEnum):
    TEXT = "text"
    TEXT_AREA = "text_area"
    YES_NO = "yes_no"
    SELECT = "select"


class CustomFieldDefinition(Base):
    __tablename__ = "custom_field_definitions"
    __table_args__ = (UniqueConstraint("record_kind", "code"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_kind: Mapped[RecordKind] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[FieldKind] = mapped_column(String(20))
    options: Mapped[list[str] | None] = mapped_column(Json)


class CustomFieldValue(PIIRecordColumns, Base):
    """A value; it may hold buyer data (a gift message, O12), so it is a PII column."""

    __tablename__ = "custom_field_values"
    definition_id: Mapped[int] = mapped_column(
        ForeignKey("custom_field_definitions.id", ondelete="CASCADE"), primary_key=True
    )
    record_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
    value: Mapped[str | None] = pii_column()


def define_field(
    session: Session,
    record_kind: RecordKind,
    code: str,
    name: str,
    kind: FieldKind,
    *,
    options: list[str] | None = None,
) -> CustomFieldDefinition:
    if session.scalar(_definition_query(record_kind, code)) is not None:
        raise DuplicateError(f"{record_kind} custom field", code)
    if (kind == FieldKind.SELECT) != bool(options):
        raise InvalidValueError(
            f"custom field {code!r}: options are for select fields, and select needs them"
        )
    definition = CustomFieldDefinition(
        record_kind=record_kind, code=code, name=name, kind=kind, options=options
    )
    session.add(definition)
    session.flush()
    return definition


def field_definition(session: Session, record_kind: RecordKind, code: str) -> CustomFieldDefinition:
    definition = session.scalar(_definition_query(record_kind, code))
    if definition is None:
        raise NotFoundError(f"{record_kind} custom field", code)
    return definition


def _definition_query(record_kind: RecordKind, code: str) -> Select[CustomFieldDefinition]:
    return select(CustomFieldDefinition).where(
        CustomFieldDefinition.record_kind == record_kind, CustomFieldDefinition.code == code
    )


def set_field(session: Session, definition: CustomFieldDefinition, record_id: int, value: object) -> None:
    """Set a record's value, checked against the field's kind."""
    stored = _checked(definition, value)
    row = session.get(CustomFieldValue, (definition.id, record_id))
    if row is None:
        session.add(
            CustomFieldValue(
                definition_id=definition.id, record_id=record_id, value=stored, pii_ref=new_pii_ref()
            )
        )
    else:
        row.value = stored


def _checked(definition: CustomFieldDefinition, value: object) -> str | None:
    where = f"custom field {definition.code!r} ({definition.kind})"
    if value is None:
        return None
    if definition.kind == FieldKind.YES_NO:
        if not isinstance(value, bool):
            raise InvalidValueError(f"{where}: expects yes/no, got {type(value).__name__}")
        return "yes" if value else "no"
    text = str(value)
    if definition.kind == FieldKind.SELECT and text not in (definition.options or []):
        raise InvalidValueError(f"{where}: {text!r} is not one of {definition.options}")
    if definition.kind == FieldKind.TEXT and len(text) > TEXT_LIMIT:
        raise InvalidValueError(f"{where}: {len(text)} characters; a text field holds {TEXT_LIMIT}")
    return text


def field_value(session: Session, definition: CustomFieldDefinition, record_id: int) -> str | bool | None:
    row = session.get(CustomFieldValue, (definition.id, record_id))
    if row is None or row.value is None:
        return None
    if definition.kind == FieldKind.YES_NO:
        return row.value == "yes"
    return row.value

"""Tables of the privacy package: the hash-chained audit log and the security incident register."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderbridge.book.types import UtcDateTime
from orderbridge.db import Base, BigId, Json


class AuditAction(StrEnum):
    PII_READ = "pii_read"
    PII_EXPORT = "pii_export"
    ACCESS_DENIED = "access_denied"
    SWEEP = "sweep"
    KEY_DESTROYED = "key_destroyed"
    SELLER_PURGED = "seller_purged"
    DATA_PURGED = "data_purged"
    BULK_READ_ALERT = "bulk_read_alert"
    OPEN_KEY_ROLLED = "open_key_rolled"
    ARCHIVE_KEY_ROTATED = "archive_key_rotated"
    KEK_ROTATED = "kek_rotated"
    INDEX_KEY_ROTATED = "index_key_rotated"
    ARCHIVE_WRITTEN = "archive_written"
    ARCHIVE_VERIFIED = "archive_verified"
    ARCHIVE_RESTORED = "archive_restored"
    INCIDENT_OPENED = "incident_opened"
    INCIDENT_NOTIFIED = "incident_notified"
    INCIDENT_NOTE = "incident_note"
    INCIDENT_CLOSED = "incident_closed"
    USER_ADDED = "user_added"
    USER_REMOVED = "user_removed"
    USER_PASSWORD_RESET = "user_password_reset"
    USER_ROLE_CHANGED = "user_role_changed"
    TOKEN_ADDED = "token_added"
    TOKEN_REVOKED = "token_revoked"
    ALERTS_CLEARED = "alerts_cleared"


class AuditEntry(Base):
    """One audit event. `hash` covers every other column and the previous entry's hash (R15, AC-22)."""

    __tablename__ = "privacy_audit_log"
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    subjects: Mapped[list[str]] = mapped_column(Json)
    detail: Mapped[dict[str, Any]] = mapped_column(Json)
    # Unique: two writers that both read the same head cannot both append (one fails and retries).
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class IncidentStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class SecurityIncident(Base):
    """A recorded security incident and its 24-hour clock to notify Amazon (P9, DPP §1.6)."""

    __tablename__ = "security_incidents"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    summary: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), index=True)
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_by: Mapped[str] = mapped_column(String(100))
    notify_by: Mapped[datetime] = mapped_column(UtcDateTime())
    amazon_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    not_notified_reason: Mapped[str | None] = mapped_column(String(500))
    notes: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(100))
    resolution: Mapped[str | None] = mapped_column(String(1000))


class RedactionLedger(Base):
    """One record's redaction: what kind of fields, when, under which rule, where it was archived (P3, AC-13).

    Never the values. `pii_ref` names the record as its sealed values did; `archive_*` point to the
    sealed archive entry written before the redaction (empty for records with nothing to archive).
    """

    __tablename__ = "privacy_redaction_ledger"
    # By record id, not pii_ref: ids grow as the sweep goes, so the index appends instead of seeking.
    __table_args__ = (UniqueConstraint("record_kind", "record_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_kind: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    pii_ref: Mapped[str] = mapped_column(String(32))
    field_classes: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str | None] = mapped_column(String(120))
    redacted_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    archive_file: Mapped[str | None] = mapped_column(String(200))
    archive_entry: Mapped[int | None] = mapped_column(Integer)
    archive_head: Mapped[str | None] = mapped_column(String(64))

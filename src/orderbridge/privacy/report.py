"""The retention report: proof that no PII is kept past its due time (AC-1), and what else an assessor asks.

Counts records holding PII, those due in the next 7 days and those overdue (which must be 0), the last
sweep, the archive files and their integrity, keys live and destroyed, the audit log's head (an anchor to
keep elsewhere), and Amazon data older than 18 months with its legal basis (AC-29). Never any PII.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from orderbridge.book.contacts import Contact
from orderbridge.book.orders.model import SalesOrder
from orderbridge.clock import Clock, as_utc
from orderbridge.privacy import audit, incidents
from orderbridge.privacy.archive import verify
from orderbridge.privacy.models import AuditAction
from orderbridge.privacy.purge import NON_PII_LIMIT
from orderbridge.privacy.sealing import Privacy
from orderbridge.privacy.sweep.due import amazon_channel_ids, anchored_before, due_contacts

IR_PLAN_REVIEW = timedelta(days=182)  # DPP §1.6: the incident-response plan is reviewed every 6 months


@dataclass(frozen=True)
class RetentionReport:
    generated_at: datetime
    retention_days: int
    amazon_orders_holding_pii: int
    amazon_contacts_holding_pii: int
    due_next_7_days: int
    overdue_orders: int
    overdue_contacts: int
    last_sweep_at: datetime | None
    last_sweep: dict[str, Any]
    archive_files: int
    archive_entries: int
    archive_ok: bool
    live_epoch_keys: int
    destroyed_keys: int
    audit_head_seq: int | None
    audit_head_hash: str | None
    amazon_orders_older_than_18_months: int
    non_pii_legal_basis: str
    incidents_open: int = 0
    incidents_overdue: int = 0
    impoc: str = ""
    ir_plan_review_due: date | None = None

    @property
    def ir_plan_review_overdue(self) -> bool:
        """AC-27: the incident-response plan is reviewed every 6 months (never reviewed: overdue)."""
        return self.ir_plan_review_due is None or self.ir_plan_review_due < self.generated_at.date()

    @property
    def overdue(self) -> int:
        """AC-1: must be 0."""
        return self.overdue_orders + self.overdue_contacts

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["overdue"] = self.overdue
        found["ir_plan_review_overdue"] = self.ir_plan_review_overdue
        return found


def retention_report(
    session: Session,
    privacy: Privacy,
    archive_dir: Path,
    *,
    clock: Clock,
    legal_basis: str = "",
    impoc: str = "",
    ir_plan_reviewed_on: date | None = None,
) -> RetentionReport:
    now = as_utc(clock())
    period = privacy.period
    amazon = amazon_channel_ids(session)
    live = and_(SalesOrder.channel_id.in_(amazon), SalesOrder.pii_redacted_at.is_(None))

    def count(*where: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(SalesOrder).where(*where)) or 0)

    overdue_orders = count(live, anchored_before(now - period))
    due_soon = count(live, anchored_before(now + timedelta(days=7) - period), ~anchored_before(now - period))
    contacts_live = int(
        session.scalar(
            select(func.count())
            .select_from(Contact)
            .where(Contact.marketplace_id.is_not(None), Contact.pii_redacted_at.is_(None))
        )
        or 0
    )
    overdue_contacts = int(
        session.scalar(select(func.count()).select_from(Contact).where(due_contacts(amazon, now - period)))
        or 0
    )
    sweeps = audit.entries(session, action=AuditAction.SWEEP, limit=1)
    checks = verify(archive_dir).files if archive_dir.exists() else []
    head = audit.head(session)
    return RetentionReport(
        generated_at=now,
        retention_days=privacy.retention_days,
        amazon_orders_holding_pii=count(live),
        amazon_contacts_holding_pii=contacts_live,
        due_next_7_days=due_soon,
        overdue_orders=overdue_orders,
        overdue_contacts=overdue_contacts,
        last_sweep_at=as_utc(sweeps[0].at) if sweeps else None,
        last_sweep=dict(sweeps[0].detail) if sweeps else {},
        archive_files=len(checks),
        archive_entries=sum(check.entries for check in checks),
        archive_ok=all(check.ok for check in checks),
        live_epoch_keys=len(privacy.keys.live_epochs()),
        destroyed_keys=len(privacy.keys.destroyed_keys()),
        audit_head_seq=head[0] if head else None,
        audit_head_hash=head[1] if head else None,
        amazon_orders_older_than_18_months=count(
            SalesOrder.channel_id.in_(amazon), SalesOrder.placed_at < now - NON_PII_LIMIT
        ),
        non_pii_legal_basis=legal_basis,
        incidents_open=len(incidents.list_incidents(session, clock=clock, open_only=True)),
        incidents_overdue=len(incidents.overdue_incidents(session, clock=clock)),
        impoc=impoc,
        ir_plan_review_due=None if ir_plan_reviewed_on is None else ir_plan_reviewed_on + IR_PLAN_REVIEW,
    )

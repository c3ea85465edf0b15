"""DPP AC-30 (the compliance matrix from live data) and AC-31 (no marketing export, no buyer e-mail)."""

from __future__ import annotations

from orderbridge.privacy import audit
from orderbridge.privacy.models import AuditAction
from orderbridge.web.app import route_table
from tests.web.conftest import WebApp


def test_ac30_compliance_page_renders_the_matrix_from_live_data(web: WebApp) -> None:
    auditor = web.client("auditor")
    web.client("viewer").get("/api/v1/orders/1/addresses")  # a refusal, audited
    page = auditor.get("/compliance")
    assert page.status_code == 200
    for text in (
        "§1.2 Access management",
        "§1.5 Encryption in transit",
        "§2.6 Logging",
        "operator checklist",
        "2 active user(s)",
        "0 PII read(s), 1 refusal(s)",
        "chain verified",
        "web_tls=off",
    ):
        assert text in page.text, text
    assert web.client("viewer").get("/compliance").status_code == 403


def test_ac31_no_marketing_export_or_buyer_email(web: WebApp) -> None:
    paths = " ".join(path for path, _, _ in route_table(web.app)).lower()
    for word in ("export", "marketing", "newsletter", "mail", "merge"):
        assert word not in paths, word


def test_ac30_each_operation_shows_when_it_last_ran_and_falls_to_attention_when_late(web: WebApp) -> None:
    auditor = web.client("auditor")

    # given no sweep yet, the retention row says never and needs attention
    page = auditor.get("/compliance").text
    assert "last sweep never" in page
    assert _state(page, "§2.1 Retention") == "attention"

    # when a sweep runs (the sweep writes this entry), the row shows when, and is ok
    with web.sessions.begin() as session:
        audit.append(session, actor="system", action=AuditAction.SWEEP, clock=web.clock)
    swept = web.clock().strftime("%Y-%m-%d %H:%M")  # the web fixture's zone is UTC
    page = auditor.get("/compliance").text
    assert f'last sweep <time datetime="{web.clock().isoformat().replace("+00:00", "Z")}"' in page
    assert f'title="{swept} UTC">{swept}</time>' in page
    assert _state(page, "§2.1 Retention") == "ok"

    # and three days without another sweep is late again
    web.clock.advance(days=3)
    late = web.client("admin").get("/compliance").text  # a fresh sign-in: the auditor's session has idled out
    assert _state(late, "§2.1 Retention") == "attention"


def _state(page: str, section: str) -> str:
    row = page[page.index(section) :]
    row = row[: row.index("</tr>")]
    return "attention" if "attention" in row else "ok" if ">ok<" in row else "operator"

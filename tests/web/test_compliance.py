"""DPP AC-30 (the compliance matrix from live data) and AC-31 (no marketing export, no buyer e-mail)."""

from __future__ import annotations

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

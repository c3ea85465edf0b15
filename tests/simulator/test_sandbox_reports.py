"""Reports API: life cycle, documents (gzip, expiry, damage), exact headers, settlements that reconcile."""

from __future__ import annotations

import gzip
from decimal import Decimal

import pytest

from orderbridge.simulator.report_headers import HEADERS, SETTLEMENT
from tests.simulator.sandbox_helpers import Api, assert_valid

R = "/reports/2021-06-30"
MODEL = "reports_2021-06-30.json"


def _download(api: Api, document_id: str) -> list[list[str]]:
    meta = api.get(f"{R}/documents/{document_id}").json()
    assert_valid(MODEL, "ReportDocument", meta)
    raw = api.client.get(meta["url"]).content
    text = (gzip.decompress(raw) if meta.get("compressionAlgorithm") == "GZIP" else raw).decode()
    return [line.split("\t") for line in text.rstrip("\n").split("\n")]


def _run(api: Api, report_type: str, start: str = "2026-01-01T00:00:00Z") -> dict:
    body = {
        "reportType": report_type,
        "marketplaceIds": api.account.marketplace_ids[:1],
        "dataStartTime": start,
    }
    created = api.post(f"{R}/reports", body)
    assert created.status_code == 202, created.text
    assert_valid(MODEL, "CreateReportResponse", created.json())
    report_id = created.json()["reportId"]
    queued = api.get(f"{R}/reports/{report_id}").json()
    assert_valid(MODEL, "Report", queued)
    assert queued["processingStatus"] == "IN_QUEUE"
    api.sandbox.advance(61)
    done = api.get(f"{R}/reports/{report_id}").json()
    assert_valid(MODEL, "Report", done)
    return dict(done)


@pytest.mark.parametrize("report_type", sorted(set(HEADERS) - {SETTLEMENT}))
def test_F10_requested_reports_have_amazons_exact_headers(na: Api, report_type: str) -> None:
    na.sandbox.quotas.enabled = False
    world = na.sandbox.world
    order = next(
        o
        for o in world.orders.values()
        if o.seller_id == na.account.seller_id and o.status == "SHIPPED" and o.fulfilled_by == "MERCHANT"
    )
    na.admin(
        "POST",
        f"/orders/{order.order_id}/return",
        {"sku": order.doc["orderItems"][0]["product"]["sellerSku"]},
    )
    fba_sku = next(
        i.sku
        for (s, _), i in world.listings.items()
        if s == na.account.seller_id and i.fulfilled_by == "AMAZON"
    )
    na.admin(
        "POST", "/fba/events", {"sellerId": na.account.seller_id, "sku": fba_sku, "kind": "reimbursement"}
    )
    fba_order = next(
        o
        for o in world.orders.values()
        if o.seller_id == na.account.seller_id and o.status == "SHIPPED" and o.fulfilled_by == "AMAZON"
    )
    sku = fba_order.doc["orderItems"][0]["product"]["sellerSku"]
    na.admin("POST", f"/orders/{fba_order.order_id}/return", {"sku": sku, "disposition": "CUSTOMER_DAMAGED"})
    na.admin("POST", f"/orders/{fba_order.order_id}/replace", {"sku": sku})
    report = _run(na, report_type)
    assert report["processingStatus"] == "DONE"
    rows = _download(na, report["reportDocumentId"])
    assert rows[0] == HEADERS[report_type]
    assert len(rows) > 1 and all(len(row) == len(rows[0]) for row in rows)


def test_report_without_data_is_cancelled(na: Api) -> None:
    report = _run(na, "GET_FBA_REIMBURSEMENTS_DATA", start="2026-03-02T11:00:00Z")
    assert report["processingStatus"] == "CANCELLED"
    assert "reportDocumentId" not in report


def test_settlement_cannot_be_requested(na: Api) -> None:
    body = {"reportType": SETTLEMENT, "marketplaceIds": na.account.marketplace_ids[:1]}
    response = na.post(f"{R}/reports", body)
    assert response.status_code == 400
    assert_valid(MODEL, "ErrorList", response.json())


def test_R1_R2_settlements_appear_every_14_days_through_get_reports_and_reconcile(na: Api) -> None:
    # given: the world runs past the next settlement period end
    na.sandbox.quotas.enabled = False
    na.sandbox.advance(15 * 86400)
    query = {"reportTypes": SETTLEMENT, "processingStatuses": "DONE", "pageSize": "1"}
    reports: list[dict] = []
    page = na.get(f"{R}/reports", query).json()
    while True:
        assert_valid(MODEL, "GetReportsResponse", page)
        reports += page["reports"]
        if "nextToken" not in page:
            break
        page = na.get(f"{R}/reports", {"nextToken": page["nextToken"]}).json()
    assert len(reports) >= len(na.account.marketplace_ids)
    # then: each settlement's rows add up to its total, and it holds the orders shipped in its period
    amounts = 0
    for report in reports:
        rows = _download(na, report["reportDocumentId"])
        assert rows[0] == HEADERS[SETTLEMENT]
        total = Decimal(rows[1][4])
        assert sum((Decimal(r[14]) for r in rows[2:]), Decimal(0)) == total
        amounts += len(rows) - 2
    assert amounts > 0


def test_F7_lost_units_and_their_reimbursement_reach_ledger_and_money(na: Api) -> None:
    world = na.sandbox.world
    sku = next(
        i.sku
        for (s, _), i in world.listings.items()
        if s == na.account.seller_id and i.fulfilled_by == "AMAZON"
    )
    na.admin(
        "POST", "/fba/events", {"sellerId": na.account.seller_id, "sku": sku, "kind": "lost", "quantity": 2}
    )
    na.admin(
        "POST",
        "/fba/events",
        {
            "sellerId": na.account.seller_id,
            "sku": sku,
            "kind": "reimbursement",
            "quantity": 2,
            "amountPerUnit": "5.00",
        },
    )
    lost = [e for e in world.ledger if e.sku == sku and e.reason == "M"]
    assert sum(e.quantity for e in lost) <= -2
    money = [
        e for e in world.financial_events if e.sku == sku and e.amount_type == "FBA Inventory Reimbursement"
    ]
    assert money[-1].amount == Decimal("10.00")


def test_document_url_expires_after_five_minutes_and_faults_damage_it(na: Api) -> None:
    na.sandbox.quotas.enabled = False
    report = _run(na, "GET_LEDGER_DETAIL_VIEW_DATA")
    meta = na.get(f"{R}/documents/{report['reportDocumentId']}").json()
    good = na.client.get(meta["url"]).content
    na.admin("PUT", "/faults", {"truncate_document_rate": 1.0})
    assert len(na.client.get(meta["url"]).content) < len(good)
    na.admin("PUT", "/faults", {"corrupt_document_rate": 1.0})
    corrupt = na.client.get(meta["url"]).content
    assert len(corrupt) == len(good) and corrupt != good
    na.sandbox.advance(301)
    assert na.client.get(meta["url"]).status_code == 403


def _rows_of(api: Api, report_type: str) -> list[dict[str, str]]:
    report = _run(api, report_type)
    rows = _download(api, report["reportDocumentId"])
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_F1_F7_F8_fba_events_and_the_settlement_reconcile(na: Api) -> None:
    # given: returns, a cash reimbursement and shipped orders inside one settlement period
    na.sandbox.quotas.enabled = False
    world = na.sandbox.world
    seller = na.account.seller_id
    sku = next(i.sku for (s, _), i in world.listings.items() if s == seller and i.fulfilled_by == "AMAZON")
    na.admin("POST", "/fba/events", {"sellerId": seller, "sku": sku, "kind": "damaged", "quantity": 3})
    na.admin(
        "POST",
        "/fba/events",
        {
            "sellerId": seller,
            "sku": sku,
            "kind": "reimbursement",
            "quantity": 3,
            "reason": "Damaged_Warehouse",
            "amountPerUnit": "4.00",
        },
    )
    shipped = next(
        o
        for o in world.orders.values()
        if o.seller_id == seller
        and o.status == "SHIPPED"
        and o.fulfilled_by == "AMAZON"
        and o.marketplace_id == "ATVPDKIKX0DER"
    )
    returned_sku = shipped.doc["orderItems"][0]["product"]["sellerSku"]
    na.admin("POST", f"/orders/{shipped.order_id}/return", {"sku": returned_sku})
    # when: the reports are pulled and the period closes
    reimbursements = _rows_of(na, "GET_FBA_REIMBURSEMENTS_DATA")
    returns = _rows_of(na, "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA")
    ledger = _rows_of(na, "GET_LEDGER_DETAIL_VIEW_DATA")
    na.sandbox.advance(15 * 86400)
    listed = na.get(
        f"{R}/reports", {"reportTypes": SETTLEMENT, "marketplaceIds": "ATVPDKIKX0DER", "pageSize": "100"}
    ).json()["reports"]
    settlement = [row for report in listed for row in _download(na, report["reportDocumentId"])[2:]]
    # then: cash reimbursed = settlement reimbursement rows; returned units = ledger returns = refund rows
    cash = sum(Decimal(r["amount-total"]) for r in reimbursements)
    paid = sum(Decimal(r[14]) for r in settlement if r[12] == "FBA Inventory Reimbursement")
    assert cash == paid == Decimal("12.00")
    ledger_returns = [r for r in ledger if r["Event Type"] == "CustomerReturns"]
    assert sum(int(r["quantity"]) for r in returns) == sum(int(r["Quantity"]) for r in ledger_returns) >= 1
    refunded = {r[7] for r in settlement if r[6] == "Refund"}
    assert {r["order-id"] for r in returns} <= refunded
    damaged = [r for r in ledger if r["Reason"] in ("E", "P") and r["MSKU"] == sku]
    assert sorted(int(r["Quantity"]) for r in damaged) == [-3, 3]


def test_cancel_report_and_get_reports_filters(na: Api) -> None:
    body = {"reportType": "GET_LEDGER_DETAIL_VIEW_DATA", "marketplaceIds": na.account.marketplace_ids[:1]}
    report_id = na.post(f"{R}/reports", body).json()["reportId"]
    response = na.client.delete(f"{R}/reports/{report_id}", headers={"x-amz-access-token": na.token})
    assert response.status_code == 200 and response.content == b""
    na.sandbox.advance(61)
    assert na.get(f"{R}/reports/{report_id}").json()["processingStatus"] == "CANCELLED"
    listed = na.get(
        f"{R}/reports", {"reportTypes": "GET_LEDGER_DETAIL_VIEW_DATA", "processingStatuses": "CANCELLED"}
    ).json()
    assert_valid(MODEL, "GetReportsResponse", listed)
    assert [r["reportId"] for r in listed["reports"]] == [report_id]
    missing = na.get(f"{R}/reports", {"pageSize": "5"})
    assert missing.status_code == 400
    assert_valid(MODEL, "ErrorList", missing.json())


def test_content_encoding_url_header_lets_http_clients_gunzip(na: Api) -> None:
    na.sandbox.quotas.enabled = False
    report = _run(na, "GET_LEDGER_DETAIL_VIEW_DATA")
    path = f"{R}/documents/{report['reportDocumentId']}"
    meta = na.get(path, {"enableContentEncodingUrlHeader": "true"}).json()
    assert_valid(MODEL, "ReportDocument", meta)
    response = na.client.get(meta["url"])
    assert response.headers["content-encoding"] == "gzip"
    assert response.text.startswith("Date\tFNSKU")  # httpx decoded it

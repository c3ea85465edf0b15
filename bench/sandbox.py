"""Sandbox throughput: searchOrders pages of 100 orders with all includedData, and a 100,000-row report.

Run: .venv/bin/python bench/sandbox.py   (goals on the 2-core CI box: >= 200 pages/s, report < 2 s)
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time

import httpx

from orderbridge.simulator.app import Sandbox, create_app
from orderbridge.simulator.clock import VirtualClock, parse_iso
from orderbridge.simulator.generator import Settings, generate
from orderbridge.simulator.orders_api import INCLUDED_DATA
from orderbridge.simulator.world import LedgerEvent

NOW = parse_iso("2026-03-02T12:00:00Z")
REPORT_ROWS = 100_000
SECONDS = 3.0


async def _login(client: httpx.AsyncClient, sandbox: Sandbox) -> tuple[str, str]:
    account = next(a for a in sandbox.world.accounts.values() if a.region == "NA")
    form = {
        "grant_type": "refresh_token",
        "refresh_token": account.refresh_token,
        "client_id": account.client_id,
        "client_secret": account.client_secret,
    }
    token = (await client.post("/auth/o2/token", data=form)).json()["access_token"]
    return token, account.seller_id


async def pages_per_second(
    client: httpx.AsyncClient, token: str, *, one_pass: bool = False
) -> tuple[float, int]:
    headers = {"x-amz-access-token": token}
    params = {
        "createdAfter": "2026-01-01T00:00:00Z",
        "marketplaceIds": "ATVPDKIKX0DER",
        "maxResultsPerPage": "100",
        "includedData": ",".join(INCLUDED_DATA),
    }
    pages = orders = 0
    next_token = None
    started = time.perf_counter()
    while time.perf_counter() - started < SECONDS:
        query = {**params, "paginationToken": next_token} if next_token else params
        response = await client.get("/orders/2026-01-01/orders", params=query, headers=headers)
        assert response.status_code == 200, response.text
        # Decode only the page's tail: the client's JSON parsing of 100 orders is not the sandbox's cost.
        content = response.content
        tail = json.loads(b"{" + content[content.rfind(b'],"') + 2 :])
        orders += content.count(b'{"orderId":')
        pages += 1
        next_token = tail.get("pagination", {}).get("nextToken")
        if one_pass and not next_token:
            break
    return pages / (time.perf_counter() - started), orders // max(pages, 1)


async def report_download(client: httpx.AsyncClient, sandbox: Sandbox, token: str, seller_id: str) -> float:
    world = sandbox.world
    skus = [sku for (seller, sku) in world.listings if seller == seller_id]
    for n in range(REPORT_ROWS):
        world.record_ledger(
            LedgerEvent(
                seller_id, NOW - 86400 + n * 0.5, skus[n % len(skus)], "Receipts", f"FBA{n:09d}", 1, "PHX7"
            )
        )
    headers = {"x-amz-access-token": token}
    body = {
        "reportType": "GET_LEDGER_DETAIL_VIEW_DATA",
        "marketplaceIds": ["ATVPDKIKX0DER"],
        "dataStartTime": "2026-03-01T11:00:00Z",
    }
    report_id = (await client.post("/reports/2021-06-30/reports", json=body, headers=headers)).json()[
        "reportId"
    ]
    built = time.perf_counter()
    sandbox.advance(61)  # the report is built (rows, TSV, gzip) when it falls due
    print(f"report build: {REPORT_ROWS:,} ledger rows in {time.perf_counter() - built:.2f} s")
    report = (await client.get(f"/reports/2021-06-30/reports/{report_id}", headers=headers)).json()
    started = time.perf_counter()
    path = f"/reports/2021-06-30/documents/{report['reportDocumentId']}"
    document = (await client.get(path, headers=headers)).json()
    raw = (await client.get(document["url"])).content
    text = gzip.decompress(raw).decode() if document.get("compressionAlgorithm") == "GZIP" else raw.decode()
    rows = text.count("\n") - 1
    elapsed = time.perf_counter() - started
    assert rows >= REPORT_ROWS, rows
    return elapsed


async def main() -> None:
    world = generate(Settings(seed=1, orders_per_day=2000, days=5, marketplaces=["US"], now=NOW))
    sandbox = Sandbox(world, clock=VirtualClock(world.now))
    sandbox.quotas.enabled = False  # measure the sandbox, not Amazon's usage plan
    transport = httpx.ASGITransport(app=create_app(sandbox))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.local") as client:
        token, seller_id = await _login(client, sandbox)
        # First pass: every order serialised afresh (as after a change); then the cached steady state.
        cold, _ = await pages_per_second(client, token, one_pass=True)
        rate, per_page = await pages_per_second(client, token)
        print(f"searchOrders: {rate:.0f} pages/s of {per_page} orders with all includedData (goal >= 200)")
        print(f"searchOrders, first read of every order: {cold:.0f} pages/s")
        seconds = await report_download(client, sandbox, token, seller_id)
        print(f"report download: {REPORT_ROWS:,} rows in {seconds:.2f} s (goal < 2 s)")


if __name__ == "__main__":
    asyncio.run(main())

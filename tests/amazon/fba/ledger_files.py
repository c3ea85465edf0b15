"""Report files as Amazon writes them (tab-separated, the sandbox's exact headers), for import tests."""

from __future__ import annotations

from pathlib import Path

from orderbridge.simulator.report_headers import HEADERS

LEDGER = "GET_LEDGER_DETAIL_VIEW_DATA"


def write_report(path: Path, report_type: str, rows: list[dict[str, str]]) -> Path:
    header = HEADERS[report_type]
    lines = ["\t".join(header)] + ["\t".join(row.get(name, "") for name in header) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ledger_row(
    sku: str,
    event: str,
    quantity: int,
    *,
    reason: str = "",
    disposition: str = "Sellable",
    reference: str = "",
    fc: str = "LGB3",
    at: str = "2026-03-01T10:00:00+00:00",
    country: str = "US",
    reconciled: int = 0,
    unreconciled: int = 0,
) -> dict[str, str]:
    return {
        "Date": "03/01/2026",
        "FNSKU": f"X00{sku[-4:]}",
        "ASIN": "B000TEST",
        "MSKU": sku,
        "Title": sku,
        "Event Type": event,
        "Reference ID": reference or f"{event}-{reason}-{quantity}",
        "Quantity": str(quantity),
        "Fulfillment Center": fc,
        "Disposition": disposition,
        "Reason": reason,
        "Country": country,
        "Reconciled Quantity": str(reconciled),
        "Unreconciled Quantity": str(unreconciled),
        "Date and Time": at,
    }

"""The FBA inventory ledger into the FBA warehouse by reason code, once per row (F6, F7, F9, F10)."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from orderbridge.amazon.fba.claims import REIMBURSEMENTS, claims
from orderbridge.amazon.fba.ledger_booking import stock_by_centre
from orderbridge.amazon.fba.ledger_rows import REPLACEMENTS
from orderbridge.amazon.fba.records import LedgerEntry
from orderbridge.amazon.reports.booking import ImportResult, collector_paused, import_report_file
from orderbridge.amazon.reports.inbox import ReportRowRecord, RowStatus, quarantined_rows
from orderbridge.amazon.reports.rows import ReportFileError
from orderbridge.book.catalog import product_by_sku
from orderbridge.book.inventory import (
    MovementReason,
    StockMovement,
    count_stock,
    movements_total,
    warehouse_by_code,
)
from tests.amazon.fba.fba_world import fba_skus, on_hand, stock_catalog
from tests.amazon.fba.ledger_files import LEDGER, ledger_row, write_report
from tests.e2e.sync_world import SyncWorld

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _import(world: SyncWorld, path: Path, report_type: str = LEDGER) -> ImportResult:
    seller = world.seller("NA")
    return import_report_file(
        world.sessions,
        account_id=world.accounts[seller.seller_id],
        report_type=report_type,
        path=path,
        clock=lambda: NOW,
        force=True,
    )


def _fba_opening(world: SyncWorld, sku: str, units: int = 100) -> None:
    stock_catalog(world, own_stock=0)
    with world.sessions.begin() as session:
        count_stock(
            session,
            product_by_sku(session, sku),
            warehouse_by_code(session, "FBA"),
            units,
            reference=f"fba-opening:{sku}",
            now=NOW,
        )


def _movements(world: SyncWorld, sku: str) -> list[tuple[str, int]]:
    with world.sessions() as session:
        product = product_by_sku(session, sku)
        query = select(StockMovement.reason, StockMovement.quantity).where(
            StockMovement.product_id == product.id, StockMovement.reference.like("ledger:%")
        )
        return sorted((str(reason), quantity) for reason, quantity in session.execute(query))


# Every reason code of SPAPI.md §8.3 with what it must do to sellable FBA stock.
EVERY_CODE = [
    ("M", -2, "Sellable", "lost"),
    ("5", -1, "Sellable", "lost"),
    ("E", -1, "Sellable", "damaged"),
    ("P", 1, "Fulfillment center damaged", None),
    ("6", -1, "Carrier damaged", None),
    ("7", -1, "Expired", None),
    ("H", -1, "Customer damaged", None),
    ("K", -1, "Defective", None),
    ("U", -1, "Distributor damaged", None),
    ("D", -1, "Sellable", "disposed"),
    ("G", -1, "Sellable", "disposed"),
    ("F", 1, "Sellable", "found"),
    ("N", 2, "Sellable", "found"),
    ("O", -1, "Sellable", "correction"),
    ("3", 1, "Sellable", "correction"),
    ("4", -1, "Sellable", "correction"),
    ("Q", -1, "Sellable", "correction"),
    ("P", 1, "Defective", None),
]


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_f7_f9_f10_every_ledger_reason_code_moves_sellable_fba_stock_once(
    world: SyncWorld, tmp_path: Path
) -> None:
    sku = fba_skus(world, world.seller("NA"))[0]
    _fba_opening(world, sku)
    rows = [ledger_row(sku, "Adjustments", q, reason=code, disposition=d) for code, q, d, _ in EVERY_CODE]
    rows += [
        ledger_row(sku, "Shipments", -3, reference="111-0000001-0000001"),
        ledger_row(sku, "Receipts", 10, reference="FBA1RECEIPT"),  # moved by the inbound shipment (F4)
        ledger_row(sku, "CustomerReturns", 1, reference="111-0000002-0000002"),  # moved by the returns report
        ledger_row(sku, "WhseTransfers", -2, fc="LGB3"),
        ledger_row(sku, "WhseTransfers", 2, fc="ONT8"),
        ledger_row(sku, "VendorReturns", -1, reference="REMOVAL-1"),
    ]
    # when: the ledger is imported, then the same file again
    first = _import(world, write_report(tmp_path / "ledger.tsv", LEDGER, rows))
    again = _import(world, write_report(tmp_path / "ledger-again.tsv", LEDGER, rows))
    # then: each sellable row moved stock once, by its reason; non-sellable rows did not move it
    assert (first.booked, first.quarantined, again.booked, again.known) == (len(rows), 0, 0, len(rows))
    expected = sorted(
        [(kind, q) for _, q, _, kind in EVERY_CODE if kind is not None]
        + [("shipment", -3), ("transfer_out", -2), ("transfer_in", 2), ("removal", -1)]
    )
    assert _movements(world, sku) == expected
    with world.sessions() as session:
        product = product_by_sku(session, sku)
        fba = warehouse_by_code(session, "FBA")
        assert on_hand(session, "FBA")[sku] == 100 + sum(q for _, q in expected)
        assert movements_total(session, product.id, fba.id) == on_hand(session, "FBA")[sku]
        # F10: every movement names its ledger entry, which names the report and line it came from
        for movement in session.scalars(
            select(StockMovement).where(StockMovement.reference.like("ledger:%"))
        ):
            entry = session.get(LedgerEntry, int(movement.reference.removeprefix("ledger:")))
            assert entry is not None and entry.report_id == first.report_pk and entry.line is not None


def test_f10_a_row_whose_reconciliation_changes_later_is_not_booked_twice(
    world: SyncWorld, tmp_path: Path
) -> None:
    sku = fba_skus(world, world.seller("NA"))[0]
    _fba_opening(world, sku)
    lost = {"reason": "M", "reference": "LOSS-1", "at": (NOW - timedelta(days=5)).isoformat()}
    _import(
        world,
        write_report(
            tmp_path / "a.tsv", LEDGER, [ledger_row(sku, "Adjustments", -3, **lost, unreconciled=3)]
        ),
    )
    with world.sessions() as session:
        (claim,) = claims(session)
        assert (claim.sku, claim.open_units, claim.kind) == (sku, 3, "lost")
        assert claim.window_closes == NOW - timedelta(days=5) + timedelta(days=60)
    # when: Amazon reconciles two of the three units and the ledger is downloaded again
    row = ledger_row(sku, "Adjustments", -3, **lost, reconciled=2, unreconciled=1)
    result = _import(world, write_report(tmp_path / "b.tsv", LEDGER, [row]))
    # then: no second movement, and the claim shrinks to the unit still open
    assert _movements(world, sku) == [("lost", -3)]
    assert (result.booked, result.quarantined) == (1, 0)  # the entry's reconciliation is updated
    again = _import(world, write_report(tmp_path / "c.tsv", LEDGER, [row]))
    assert (again.booked, again.known) == (0, 1)  # the same reconciliation twice: nothing to do
    with world.sessions() as session:
        (claim,) = claims(session)
        assert claim.open_units == 1
        assert on_hand(session, "FBA")[sku] == 97


def test_claims_take_reimbursed_units_off_and_know_the_claim_window(world: SyncWorld, tmp_path: Path) -> None:
    sku = fba_skus(world, world.seller("NA"))[0]
    _fba_opening(world, sku)
    rows = [
        ledger_row(
            sku, "Adjustments", -2, reason="M", reference="L1", at="2026-01-01T08:00:00+00:00", unreconciled=2
        ),
        ledger_row(
            sku, "Adjustments", -1, reason="E", reference="L2", at="2026-02-20T08:00:00+00:00", unreconciled=1
        ),
    ]
    _import(world, write_report(tmp_path / "ledger.tsv", LEDGER, rows))
    paid = {
        "approval-date": "2026-02-25T00:00:00+00:00",
        "reimbursement-id": "R1",
        "reason": "Lost_Warehouse",
        "sku": sku,
        "currency-unit": "USD",
        "amount-per-unit": "5.00",
        "amount-total": "10.00",
        "quantity-reimbursed-cash": "2",
        "quantity-reimbursed-inventory": "0",
        "quantity-reimbursed-total": "2",
    }
    _import(world, write_report(tmp_path / "reimb.tsv", REIMBURSEMENTS, [paid]), REIMBURSEMENTS)
    with world.sessions() as session:
        open_claims = claims(session)
        every = claims(session, include_settled=True)
    # then: the reimbursed loss is settled; the damaged unit is open until 60 days after it was reported
    assert [(c.kind, c.open_units, c.window_closes.date().isoformat()) for c in open_claims] == [
        ("damaged", 1, "2026-04-21")
    ]
    assert [(c.kind, c.reimbursed, c.open_units) for c in every] == [("lost", 2, 0), ("damaged", 0, 1)]
    assert every[0].expired(datetime(2026, 3, 3, tzinfo=UTC)) and not every[1].expired(NOW)


def test_ledger_rows_with_an_unknown_reason_code_or_sku_are_quarantined_with_the_reason(
    world: SyncWorld, tmp_path: Path
) -> None:
    sku = fba_skus(world, world.seller("NA"))[0]
    _fba_opening(world, sku)
    rows = [
        ledger_row(sku, "Adjustments", -1, reason="Z"),
        ledger_row("NO-SUCH-SKU", "Adjustments", -1, reason="M"),
        ledger_row(sku, "Adjustments", -1, reason="M"),
    ]
    result = _import(world, write_report(tmp_path / "ledger.tsv", LEDGER, rows))
    assert (result.booked, result.quarantined) == (1, 2)
    with world.sessions() as session:
        reasons = [row.reason or "" for row in quarantined_rows(session, report_type=LEDGER)]
        # F10: a booked row is recorded once, by its ledger entry (report and line); the inbox keeps
        # the quarantined rows with their text, for a retry after a fix
        inbox = session.execute(select(ReportRowRecord.line, ReportRowRecord.status)).all()
        entries = session.execute(select(LedgerEntry.report_id, LedgerEntry.line)).all()
    assert "unknown adjustment reason code 'Z'" in reasons[0]
    assert "NO-SUCH-SKU" in reasons[1]
    assert sorted(inbox) == [(2, RowStatus.QUARANTINED), (3, RowStatus.QUARANTINED)]
    assert entries == [(result.report_pk, 4)]
    # a second import of the file knows all three rows: the booked one by its entry, the others by the inbox
    again = _import(world, write_report(tmp_path / "ledger-again.tsv", LEDGER, rows))
    assert (again.booked, again.quarantined, again.known) == (0, 0, 3)


@pytest.mark.parametrize("ledger_first", [True, False])
def test_f6_replacement_shipments_reduce_fba_stock_as_replacements(
    world: SyncWorld, tmp_path: Path, ledger_first: bool
) -> None:
    sku = fba_skus(world, world.seller("NA"))[0]
    _fba_opening(world, sku)
    ledger = write_report(
        tmp_path / "ledger.tsv", LEDGER, [ledger_row(sku, "Shipments", -1, reference="REPL-ORDER-1")]
    )
    replacement = {
        "shipment-date": "2026-03-01T10:00:00+00:00",
        "sku": sku,
        "asin": "B0",
        "fulfillment-center-id": "LGB3",
        "original-fulfillment-center-id": "LGB3",
        "quantity": "1",
        "replacement-reason-code": "5",
        "replacement-amazon-order-id": "REPL-ORDER-1",
        "original-amazon-order-id": "ORIG-ORDER-1",
    }
    replacements = write_report(tmp_path / "repl.tsv", REPLACEMENTS, [replacement])
    for path, kind in [(ledger, LEDGER), (replacements, REPLACEMENTS)][:: 1 if ledger_first else -1]:
        _import(world, path, kind)
        _import(world, path, kind)
    assert _movements(world, sku) == [(str(MovementReason.REPLACEMENT), -1)]
    with world.sessions() as session:
        assert on_hand(session, "FBA")[sku] == 99


def test_stock_by_centre_sums_the_sellable_ledger_per_fulfilment_centre(
    world: SyncWorld, tmp_path: Path
) -> None:
    sku = fba_skus(world, world.seller("NA"))[0]
    _fba_opening(world, sku)
    rows = [
        ledger_row(sku, "Receipts", 10, fc="LGB3"),
        ledger_row(sku, "Receipts", 5, fc="ONT8"),
        ledger_row(sku, "Shipments", -2, fc="ONT8"),
        ledger_row(sku, "Adjustments", -1, reason="E", fc="LGB3"),
        ledger_row(sku, "Adjustments", 1, reason="P", fc="LGB3", disposition="Fulfillment center damaged"),
    ]
    _import(world, write_report(tmp_path / "ledger.tsv", LEDGER, rows))
    with world.sessions() as session:
        account = world.accounts[world.seller("NA").seller_id]
        assert stock_by_centre(session, account) == {(sku, "LGB3"): 9, (sku, "ONT8"): 3}


def test_an_import_pauses_the_garbage_collector_per_batch_and_always_turns_it_back_on(
    world: SyncWorld, tmp_path: Path
) -> None:
    sku = fba_skus(world, world.seller("NA"))[0]
    _fba_opening(world, sku)
    seen: list[bool] = []

    def progress(_read: int) -> None:  # called between batches
        seen.append(gc.isenabled())

    seller = world.seller("NA")
    rows = [ledger_row(sku, "Adjustments", -1, reason="M", reference=f"L{n}") for n in range(5)]
    import_report_file(
        world.sessions,
        account_id=world.accounts[seller.seller_id],
        report_type=LEDGER,
        path=write_report(tmp_path / "ledger.tsv", LEDGER, rows),
        clock=lambda: NOW,
        batch_size=2,
        progress=progress,
    )
    assert seen == [True, True, True] and gc.isenabled()  # on between batches and after
    # a file that cannot be read leaves it on too
    bad = tmp_path / "bad.tsv"
    bad.write_text("Date\tMSKU\n2026-01-01\tA\n", encoding="utf-8")
    with pytest.raises(ReportFileError):
        import_report_file(
            world.sessions,
            account_id=world.accounts[seller.seller_id],
            report_type=LEDGER,
            path=bad,
            clock=lambda: NOW,
        )
    assert gc.isenabled()
    # a caller that manages the collector itself keeps it as it was
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_F10_identical_twin_rows_are_two_events_and_a_reimport_or_overlap_books_nothing_twice(
    world: SyncWorld, tmp_path: Path
) -> None:
    # given: 100 units at Amazon and a ledger whose two shipments of one unit are equal in every column,
    # and a lost unit twice likewise (an adjustment: its key carries the reconciliation columns)
    sku = fba_skus(world, world.seller("NA"))[0]
    _fba_opening(world, sku)
    shipped = ledger_row(sku, "Shipments", -1, reference="111-0000003-0000003")
    lost = ledger_row(sku, "Adjustments", -1, reason="M", reference="LOSS-2", unreconciled=1)
    later = ledger_row(sku, "Shipments", -2, reference="111-0000004-0000004", at="2026-03-01T11:00:00+00:00")
    # when: the file is imported, again, and a later file overlapping it (its twins included) as well
    first = _import(world, write_report(tmp_path / "a.tsv", LEDGER, [shipped, lost, shipped, lost]))
    again = _import(world, write_report(tmp_path / "b.tsv", LEDGER, [shipped, lost, shipped, lost]))
    overlap = _import(world, write_report(tmp_path / "c.tsv", LEDGER, [lost, shipped, lost, shipped, later]))
    # then: each twin left stock once: 100 - 2 shipped - 2 lost - 2 shipped later
    assert (first.booked, again.booked, again.known) == (4, 0, 4)
    assert (overlap.booked, overlap.known) == (1, 4)
    assert _movements(world, sku) == [
        ("lost", -1),
        ("lost", -1),
        ("shipment", -2),
        ("shipment", -1),
        ("shipment", -1),
    ]
    with world.sessions() as session:
        assert on_hand(session, "FBA")[sku] == 94
        identities = session.scalars(select(LedgerEntry.identity).order_by(LedgerEntry.line)).all()
        assert len(set(identities)) == len(identities) == 5
    # when: Amazon reconciles one of the lost twins; the second twin keeps its own entry
    reconciled = ledger_row(sku, "Adjustments", -1, reason="M", reference="LOSS-2", reconciled=1)
    _import(world, write_report(tmp_path / "d.tsv", LEDGER, [shipped, reconciled, shipped, lost]))
    with world.sessions() as session:
        assert on_hand(session, "FBA")[sku] == 94
        assert sorted(session.scalars(select(LedgerEntry.reconciled).where(LedgerEntry.reason == "M"))) == [
            0,
            1,
        ]

"""The sealed cold archive: write-only online, restorable offline, verifiable without the key (P6)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import stat
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderbridge.privacy.archive import (
    ArchiveRecord,
    ArchiveWriter,
    archive_files,
    keygen,
    load_private_key,
    load_public_key,
    restore,
    verify,
)
from orderbridge.privacy.errors import ArchiveDamagedError, ArchiveError, ArchiveKeyError
from tests.privacy.fakes import MARKETPLACE, SELLER, CanaryBuyer, FakeClock, all_bytes_under, make_canary


@pytest.fixture
def offline(tmp_path: Path) -> Path:
    """The operator's offline medium, holding the private key."""
    return tmp_path / "offline"


@pytest.fixture
def public_key_file(tmp_path: Path, offline: Path) -> Path:
    offline.mkdir()
    keygen(offline / "archive.key", tmp_path / "archive.pub")
    return tmp_path / "archive.pub"


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    return tmp_path / "archive"


@pytest.fixture
def writer(archive_dir: Path, public_key_file: Path, clock: FakeClock) -> ArchiveWriter:
    return ArchiveWriter(archive_dir, load_public_key(public_key_file), clock=clock)


def record_of(buyer: CanaryBuyer, order_id: str, day: date = date(2026, 10, 20)) -> ArchiveRecord:
    fields = {"name": buyer.name, "address_line1": buyer.address_line1, "postcode": "LS1 4AP"}
    return ArchiveRecord(order_id, day, SELLER, MARKETPLACE, fields)


def only_file(archive_dir: Path) -> Path:
    (path,) = archive_files(archive_dir)
    return path


def test_p6_keygen_writes_the_private_key_0600_and_refuses_to_overwrite(
    tmp_path: Path, offline: Path, public_key_file: Path
) -> None:
    private = offline / "archive.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert load_private_key(private).public_key == load_public_key(public_key_file)

    with pytest.raises(ArchiveError, match="already exists"):
        keygen(private, tmp_path / "other.pub")


def test_ac14_the_writer_refuses_a_private_key_and_holds_only_the_public_one(
    offline: Path, public_key_file: Path
) -> None:
    with pytest.raises(ArchiveKeyError, match="expected orderbridge-archive-public-key-v1"):
        load_public_key(offline / "archive.key")
    with pytest.raises(ArchiveKeyError, match="expected orderbridge-archive-private-key-v1"):
        load_private_key(public_key_file)


def test_p6_archive_round_trip(writer: ArchiveWriter, archive_dir: Path, offline: Path) -> None:
    # given three orders archived in two sweeps
    buyers = [make_canary() for _ in range(3)]
    first = writer.append(
        [record_of(buyers[0], "202-0000001-0000001"), record_of(buyers[1], "202-0000002-0000002")]
    )
    second = writer.append([record_of(buyers[2], "202-0000003-0000003", date(2026, 10, 25))])

    # when the operator restores with the offline key
    everything = restore(archive_dir, offline / "archive.key")

    # then
    assert [r.fields["name"] for r in everything] == [b.name for b in buyers]
    assert everything[0] == record_of(buyers[0], "202-0000001-0000001")
    assert (first.file, first.first_entry, first.count) == (second.file, 0, 2)
    assert second.first_entry == 2
    one = restore(archive_dir, offline / "archive.key", order_id="202-0000002-0000002")
    assert [r.fields["address_line1"] for r in one] == [buyers[1].address_line1]
    late = restore(
        archive_dir, offline / "archive.key", date_from=date(2026, 10, 21), date_to=date(2026, 10, 31)
    )
    assert [r.order_id for r in late] == ["202-0000003-0000003"]
    assert restore(archive_dir, offline / "archive.key", order_id="nope") == []


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=80), max_size=6))
def test_p6_any_fields_round_trip(
    tmp_path: Path, public_key_file: Path, offline: Path, fields: dict[str, str]
) -> None:
    directory = tmp_path / f"archive-{len(list(tmp_path.iterdir()))}"
    ArchiveWriter(directory, load_public_key(public_key_file), allowed_fields=None).append(
        [ArchiveRecord("o-1", date(2026, 1, 1), SELLER, MARKETPLACE, fields)]
    )
    (restored,) = restore(directory, offline / "archive.key")
    assert dict(restored.fields) == fields


def test_ac14_archive_files_hold_no_plaintext(
    writer: ArchiveWriter, archive_dir: Path, canary: CanaryBuyer
) -> None:
    writer.append([record_of(canary, "202-0000001-0000001")])

    stored = all_bytes_under(archive_dir)
    for value in (canary.name, canary.address_line1):
        assert value.encode() not in stored
        assert value.lower().encode() not in stored
        assert base64.b64encode(value.encode()) not in stored
    assert b"202-0000001-0000001" in stored  # order ids stay in clear (P3) so restores can find them


def test_ac14_no_other_key_opens_the_archive(
    writer: ArchiveWriter, archive_dir: Path, tmp_path: Path
) -> None:
    writer.append([record_of(make_canary(), "202-0000001-0000001")])
    keygen(tmp_path / "stranger.key", tmp_path / "stranger.pub")

    with pytest.raises(ArchiveKeyError, match="wrong private key") as caught:
        restore(archive_dir, tmp_path / "stranger.key")

    assert only_file(archive_dir).name in str(caught.value)


def test_wrong_key_file_kind_is_a_clear_error(
    writer: ArchiveWriter, archive_dir: Path, public_key_file: Path
) -> None:
    writer.append([record_of(make_canary(), "o-1")])

    with pytest.raises(ArchiveKeyError, match="expected orderbridge-archive-private-key-v1"):
        restore(archive_dir, public_key_file)


def test_ac13_verify_passes_and_the_batch_points_at_the_file_and_its_head(
    writer: ArchiveWriter, archive_dir: Path
) -> None:
    batch = writer.append([record_of(make_canary(), f"o-{n}") for n in range(5)])

    report = verify(archive_dir)

    assert report.ok
    (check,) = report.files
    assert (check.file, check.entries) == (batch.file, 5)
    manifest = json.loads((archive_dir / f"{batch.file}.manifest.json").read_bytes())
    assert manifest["head"] == batch.head


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_verify_detects_a_flipped_byte_and_names_the_file_and_entry(
    writer: ArchiveWriter, archive_dir: Path, offline: Path
) -> None:
    writer.append([record_of(make_canary(), f"o-{n}") for n in range(3)])
    path = only_file(archive_dir)
    size = path.stat().st_size
    flip(path, size - 32 - 100)  # inside the last entry's sealed box

    report = verify(archive_dir)

    assert not report.ok
    (damaged,) = report.damaged
    assert damaged.file == path.name
    assert damaged.problems == ["entry 2: damaged (hash chain mismatch)"]
    with pytest.raises(ArchiveDamagedError, match=rf"{path.name} is damaged: entry 2"):
        restore(archive_dir, offline / "archive.key")


@pytest.mark.parametrize(
    "offset, problem",
    [
        (3, "not an orderbridge archive file"),
        (10, "manifest damaged or belongs to another file"),
        (30, "entry 0"),
    ],
    ids=["magic", "file id", "recipient key"],
)
def test_verify_detects_a_damaged_file_header(
    writer: ArchiveWriter, archive_dir: Path, offset: int, problem: str
) -> None:
    writer.append([record_of(make_canary(), "o-1")])
    flip(only_file(archive_dir), offset)

    (damaged,) = verify(archive_dir).damaged
    assert damaged.problems[0].startswith(problem)


def test_verify_detects_a_truncated_tail_and_names_the_file(
    writer: ArchiveWriter, archive_dir: Path, offline: Path
) -> None:
    writer.append([record_of(make_canary(), f"o-{n}") for n in range(3)])
    path = only_file(archive_dir)
    path.write_bytes(path.read_bytes()[:-40])

    (damaged,) = verify(archive_dir).damaged

    assert damaged.file == path.name
    assert damaged.problems[0].startswith("truncated")
    assert "entry 2: incomplete" in damaged.problems[1]
    with pytest.raises(ArchiveDamagedError, match=path.name):
        restore(archive_dir, offline / "archive.key")


def test_verify_detects_a_missing_manifest_and_a_missing_file(
    writer: ArchiveWriter, archive_dir: Path
) -> None:
    writer.append([record_of(make_canary(), "o-1")])
    path = only_file(archive_dir)
    shutil.copy(
        path.with_name(path.name + ".manifest.json"),
        archive_dir / "archive-2026-01-01-001-aaaa.oba.manifest.json",
    )
    path.with_name(path.name + ".manifest.json").unlink()

    problems = {check.file: check.problems for check in verify(archive_dir).files}

    assert problems == {
        path.name: ["manifest missing"],
        "archive-2026-01-01-001-aaaa.oba": ["archive file missing (its manifest is here)"],
    }


def test_verify_detects_reordered_entries(writer: ArchiveWriter, archive_dir: Path) -> None:
    writer.append([record_of(make_canary(), "o-1")])
    writer.append([record_of(make_canary(), "o-2")])
    path = only_file(archive_dir)
    data = path.read_bytes()
    header, rest = data[:56], data[56:]
    first = 4 + int.from_bytes(rest[:4], "big") + 32
    path.write_bytes(header + rest[first:] + rest[:first])

    (damaged,) = verify(archive_dir).damaged
    assert damaged.problems[0] == "entry 0: damaged (hash chain mismatch)"


def test_an_interrupted_append_is_not_mistaken_for_data_and_the_next_append_repairs_it(
    writer: ArchiveWriter, archive_dir: Path, offline: Path
) -> None:
    # given a committed entry, then a crash halfway through writing the next one
    writer.append([record_of(make_canary(), "o-1")])
    path = only_file(archive_dir)
    committed = path.read_bytes()
    other = ArchiveWriter(archive_dir / "scratch", writer.public_key, clock=writer.clock)
    torn = other.append([record_of(make_canary(), "o-torn")])
    whole_entry = (archive_dir / "scratch" / torn.file).read_bytes()[56:]
    with path.open("ab") as handle:
        handle.write(whole_entry[: len(whole_entry) // 2])

    # then verify notes the torn tail without failing, and restore ignores it
    (check,) = verify(archive_dir).files
    assert check.ok
    assert check.entries == 1
    assert "interrupted append" in check.notes[0]
    assert [r.order_id for r in restore(archive_dir, offline / "archive.key")] == ["o-1"]

    # when the next sweep appends
    writer.append([record_of(make_canary(), "o-2")])

    # then the torn bytes are gone and the chain continues
    assert path.read_bytes().startswith(committed)
    assert verify(archive_dir).files[0].notes == []
    assert [r.order_id for r in restore(archive_dir, offline / "archive.key")] == ["o-1", "o-2"]


def test_a_crash_after_the_entries_but_before_the_manifest_leaves_them_uncommitted(
    writer: ArchiveWriter, archive_dir: Path, offline: Path
) -> None:
    writer.append([record_of(make_canary(), "o-1")])
    path = only_file(archive_dir)
    manifest_file = path.with_name(path.name + ".manifest.json")
    before = manifest_file.read_bytes()
    writer.append([record_of(make_canary(), "o-lost")])
    manifest_file.write_bytes(before)  # as if the manifest replace never happened

    assert [r.order_id for r in restore(archive_dir, offline / "archive.key")] == ["o-1"]
    assert verify(archive_dir).ok


def test_a_new_day_starts_a_new_file(writer: ArchiveWriter, archive_dir: Path, clock: FakeClock) -> None:
    writer.append([record_of(make_canary(), "o-1")])
    clock.now += timedelta(days=1)
    writer.append([record_of(make_canary(), "o-2")])

    names = [path.name for path in archive_files(archive_dir)]
    assert [name[:22] for name in names] == ["archive-2026-11-23-001", "archive-2026-11-24-001"]


def test_a_full_file_rolls_over(archive_dir: Path, public_key_file: Path, clock: FakeClock) -> None:
    writer = ArchiveWriter(archive_dir, load_public_key(public_key_file), clock=clock, max_file_bytes=600)
    for n in range(4):
        writer.append([record_of(make_canary(), f"o-{n}")])

    assert len(archive_files(archive_dir)) > 1
    assert verify(archive_dir).ok


def test_a_file_moved_offline_gets_a_successor_with_another_name(
    writer: ArchiveWriter, archive_dir: Path, tmp_path: Path, offline: Path
) -> None:
    writer.append([record_of(make_canary(), "o-1")])
    moved = only_file(archive_dir)
    (tmp_path / "tape").mkdir()
    for path in archive_dir.iterdir():
        shutil.move(path, tmp_path / "tape" / path.name)

    writer.append([record_of(make_canary(), "o-2")])

    assert only_file(archive_dir).name != moved.name
    for path in (tmp_path / "tape").iterdir():
        shutil.move(path, archive_dir / path.name)
    assert verify(archive_dir).ok
    assert {r.order_id for r in restore(archive_dir, offline / "archive.key")} == {"o-1", "o-2"}


def test_a_file_damaged_on_disk_does_not_receive_more_entries(
    writer: ArchiveWriter, archive_dir: Path, offline: Path
) -> None:
    writer.append([record_of(make_canary(), f"o-{n}") for n in range(2)])
    damaged = only_file(archive_dir)
    damaged.write_bytes(damaged.read_bytes()[:-10])

    batch = writer.append([record_of(make_canary(), "o-3")])

    assert batch.file != damaged.name
    assert [c.file for c in verify(archive_dir).damaged] == [damaged.name]


def test_restore_with_several_keys_after_an_archive_key_rotation(
    writer: ArchiveWriter, archive_dir: Path, offline: Path, tmp_path: Path, clock: FakeClock
) -> None:
    writer.append([record_of(make_canary(), "o-old")])
    keygen(offline / "archive-2027.key", tmp_path / "archive-2027.pub")
    ArchiveWriter(archive_dir, load_public_key(tmp_path / "archive-2027.pub"), clock=clock).append(
        [record_of(make_canary(), "o-new")]
    )

    assert len(archive_files(archive_dir)) == 2
    both = restore(archive_dir, [offline / "archive.key", offline / "archive-2027.key"])
    assert sorted(r.order_id for r in both) == ["o-new", "o-old"]
    only_old = restore(archive_dir, offline / "archive.key", order_id="o-old")
    assert [r.order_id for r in only_old] == ["o-old"]
    with pytest.raises(ArchiveKeyError):
        restore(archive_dir, offline / "archive.key")


def test_nothing_to_append_is_an_error(writer: ArchiveWriter) -> None:
    with pytest.raises(ArchiveError):
        writer.append([])


def test_record_repr_shows_no_pii(canary: CanaryBuyer) -> None:
    assert canary.name not in repr(record_of(canary, "o-1"))


def test_ac15_the_archive_takes_only_the_configured_tax_fields(
    writer: ArchiveWriter, archive_dir: Path, public_key_file: Path, offline: Path, canary: CanaryBuyer
) -> None:
    record = ArchiveRecord(
        "o-1", date(2026, 10, 20), SELLER, MARKETPLACE, {"name": canary.name, "email": canary.email}
    )

    with pytest.raises(ArchiveError, match="fields email are not configured") as caught:
        writer.append([record])

    assert canary.email not in str(caught.value)
    assert archive_files(archive_dir) == []
    with_reason = ArchiveWriter(
        archive_dir, load_public_key(public_key_file), allowed_fields={"name", "email"}
    )
    with_reason.append([record])
    assert restore(archive_dir, offline / "archive.key")[0].fields["email"] == canary.email


def test_a_file_whose_committed_tail_changed_does_not_receive_more_entries(
    writer: ArchiveWriter, archive_dir: Path
) -> None:
    writer.append([record_of(make_canary(), f"o-{n}") for n in range(2)])
    damaged = only_file(archive_dir)
    flip(damaged, damaged.stat().st_size - 1)  # the head hash itself

    batch = writer.append([record_of(make_canary(), "o-3")])

    assert batch.file != damaged.name
    assert batch.first_entry == 0


def test_restore_can_skip_damaged_entries_and_keep_the_intact_ones(
    writer: ArchiveWriter, archive_dir: Path, offline: Path
) -> None:
    writer.append([record_of(make_canary(), f"o-{n}") for n in range(4)])
    path = only_file(archive_dir)
    data = path.read_bytes()
    offsets, offset = [], 56
    while offset < len(data):
        offsets.append(offset)
        offset += 4 + int.from_bytes(data[offset : offset + 4], "big") + 32
    flip(path, offsets[2] + 200)  # inside entry 2's sealed box

    with pytest.raises(ArchiveDamagedError, match="entry 2"):
        restore(archive_dir, offline / "archive.key")
    intact = restore(archive_dir, offline / "archive.key", skip_damaged=True)
    assert [r.order_id for r in intact] == ["o-0", "o-1", "o-3"]


# -- grouped entries: one sealed box per group of records (what the sweep writes) ----------------------


def entry_offsets(path: Path) -> list[int]:
    data = path.read_bytes()
    offsets, offset = [], 56
    while offset < len(data):
        offsets.append(offset)
        offset += 4 + int.from_bytes(data[offset : offset + 4], "big") + 32
    return offsets


def test_p6_grouped_entries_restore_each_order_exactly(
    writer: ArchiveWriter, archive_dir: Path, offline: Path
) -> None:
    # given five buyers sealed two to a box (three entries, one X25519 exchange each)
    buyers = [make_canary() for _ in range(5)]
    days = [date(2026, 10, 20) + timedelta(days=n) for n in range(5)]
    records = [record_of(b, f"o-{n}", day) for n, (b, day) in enumerate(zip(buyers, days, strict=True))]
    batch = writer.append_grouped(records, per_entry=2)

    # then the file holds three entries, verifiable without the private key, and no plaintext
    assert (batch.first_entry, batch.count) == (0, 3)
    assert verify(archive_dir).ok and verify(archive_dir).files[0].entries == 3
    stored = all_bytes_under(archive_dir)
    for buyer in buyers:
        assert buyer.name.encode() not in stored and buyer.address_line1.encode() not in stored
    # and each order restores on its own, exactly, from the middle of its group
    (third,) = restore(archive_dir, offline / "archive.key", order_id="o-3")
    assert third == records[3] and dict(third.fields) == dict(records[3].fields)
    # and by date range, across groups
    found = restore(archive_dir, offline / "archive.key", date_from=days[1], date_to=days[3])
    assert [r.order_id for r in found] == ["o-1", "o-2", "o-3"]
    assert [dict(r.fields) for r in found] == [dict(r.fields) for r in records[1:4]]


def test_p6_a_damaged_grouped_entry_is_named_and_the_other_groups_still_restore(
    writer: ArchiveWriter, archive_dir: Path, offline: Path
) -> None:
    writer.append_grouped([record_of(make_canary(), f"o-{n}") for n in range(6)], per_entry=2)
    path = only_file(archive_dir)
    flip(path, entry_offsets(path)[1] + 300)  # inside entry 1's sealed box (orders o-2 and o-3)

    (damaged,) = verify(archive_dir).damaged
    assert (damaged.file, damaged.problems) == (path.name, ["entry 1: damaged (hash chain mismatch)"])
    with pytest.raises(ArchiveDamagedError, match=rf"{path.name} is damaged: entry 1"):
        restore(archive_dir, offline / "archive.key", order_id="o-4")
    intact = restore(archive_dir, offline / "archive.key", skip_damaged=True)
    assert [r.order_id for r in intact] == ["o-0", "o-1", "o-4", "o-5"]


def test_p6_a_grouped_entry_under_another_key_names_the_file_and_the_key(
    writer: ArchiveWriter, archive_dir: Path, tmp_path: Path
) -> None:
    writer.append_grouped([record_of(make_canary(), f"o-{n}") for n in range(3)], per_entry=2)
    keygen(tmp_path / "stranger.key", tmp_path / "stranger.pub")

    with pytest.raises(ArchiveKeyError, match="wrong private key") as caught:
        restore(archive_dir, tmp_path / "stranger.key", order_id="o-2")

    assert only_file(archive_dir).name in str(caught.value)
    assert verify(archive_dir).files[0].recipient in str(caught.value)


def test_p6_a_grouped_header_that_disagrees_with_its_sealed_records_is_named(
    writer: ArchiveWriter, archive_dir: Path, offline: Path, public_key_file: Path
) -> None:
    # given a grouped entry whose clear header was rewritten (another order id) with the chain and
    # manifest recomputed, as someone with write access but no private key could
    writer.append_grouped([record_of(make_canary(), "o-1"), record_of(make_canary(), "o-2")])
    path = only_file(archive_dir)
    data = bytearray(path.read_bytes())
    start = entry_offsets(path)[0]
    at = data.index(b'"o-2"', start)
    data[at : at + 5] = b'"o-9"'
    length = data[start : start + 4]
    body = bytes(data[start + 4 : start + 4 + int.from_bytes(length, "big")])
    head = hashlib.sha256(hashlib.sha256(bytes(data[:56])).digest() + bytes(length) + body).digest()
    end = start + 4 + len(body)
    data[end : end + 32] = head
    path.write_bytes(bytes(data))
    manifest_file = archive_dir / f"{path.name}.manifest.json"
    manifest = json.loads(manifest_file.read_bytes())
    manifest_file.write_text(json.dumps({**manifest, "head": head.hex()}))
    assert verify(archive_dir).ok  # the chain alone cannot tell: only the sealed content can

    with pytest.raises(ArchiveDamagedError, match=rf"{path.name} is damaged: entry 0: sealed content"):
        restore(archive_dir, offline / "archive.key", order_id="o-9")


def test_p6_single_record_entries_of_older_files_restore_beside_grouped_ones(
    writer: ArchiveWriter, archive_dir: Path, offline: Path
) -> None:
    # given a file that holds one-record entries (as written before grouping) and then a grouped entry
    old = [record_of(make_canary(), f"old-{n}") for n in range(2)]
    new = [record_of(make_canary(), f"new-{n}") for n in range(3)]
    writer.append(old)
    writer.append_grouped(new)

    assert verify(archive_dir).ok and verify(archive_dir).files[0].entries == 3
    restored = restore(archive_dir, offline / "archive.key")
    assert [(r.order_id, dict(r.fields)) for r in restored] == [
        (r.order_id, dict(r.fields)) for r in old + new
    ]

"""The sealed cold archive (P6, DPP §3.6): write-only for the running system, readable with an offline key.

Each record is sealed with a libsodium sealed box (X25519 + XSalsa20-Poly1305, PyNaCl) to the archive's
public key; the running system holds only that key, so it can write the archive but never read it.

File layout (``archive-<day>-<seq>-<tag>.oba``), checkable without the private key::

    header:  MAGIC (8) | file id (16) | recipient public key (32)
    entry:   body length (4, big-endian) | body | chain hash (32)
    body:    clear-header length (2) | clear header (JSON: order id, day, seller, marketplace) | sealed box
    chain:   h0 = SHA-256(header); h_i = SHA-256(h_{i-1} | length | body)

A manifest beside each file (``.manifest.json``) records the committed length, entry count and head hash.
Appends write and fsync the entries first and the manifest (atomic replace) last, so bytes after the
committed length are an interrupted append: never read as data, cut off by the next append.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

from orderbridge.clock import Clock, utc_now
from orderbridge.privacy import files
from orderbridge.privacy.errors import ArchiveDamagedError, ArchiveError, ArchiveKeyError

MAGIC = b"OBARCH\x00\x01"
_HEADER_BYTES = len(MAGIC) + 16 + 32
_HASH_BYTES = 32
_PRIVATE_LABEL = "orderbridge-archive-private-key-v1"
_PUBLIC_LABEL = "orderbridge-archive-public-key-v1"
_MANIFEST_SUFFIX = ".manifest.json"
_MAX_FILE_BYTES = 256 * 1024 * 1024
GROUP_SIZE = 400  # records per grouped entry: its clear header (at most 64 KiB) lists them
_CLEAR_NAMES = ("order_id", "day", "seller", "marketplace")
# AC-15, NIST SI-19(2): archive only what tax needs (EU VAT invoices: full name and address, Art. 226).
# E-mail and phone are out unless configured with a legal reason.
TAX_FIELDS = frozenset(
    {"name", "company", "address_line1", "address_line2", "address_line3", "city", "county", "postcode",
     "country", "vat_number"}
)  # fmt: skip


# -- keys ------------------------------------------------------------------------------------------


def fingerprint(public_key: PublicKey) -> str:
    """A short public name of an archive key pair, shown in manifests and errors."""
    return hashlib.sha256(bytes(public_key)).hexdigest()[:16]


def keygen(private_key_file: Path, public_key_file: Path) -> str:
    """Make an archive key pair: the private key file (0600) is for the operator to take offline.

    Returns the key's fingerprint. Refuses to overwrite existing key files.
    """
    for path in (private_key_file, public_key_file):
        if path.exists():
            raise ArchiveError(f"archive keygen: {path} already exists; refusing to overwrite it")
    private = PrivateKey.generate()
    files.write_new(private_key_file, _key_text(_PRIVATE_LABEL, bytes(private)))
    files.write_new(public_key_file, _key_text(_PUBLIC_LABEL, bytes(private.public_key)))
    public_key_file.chmod(0o644)
    return fingerprint(private.public_key)


def rotate_key(private_key_file: Path, public_key_file: Path) -> tuple[str, str]:
    """A new archive key pair replaces the one in use (DPP §3.7, AC-20); returns (old, new) fingerprints.

    Files written so far stay sealed to the old key: keep its private key offline until they expire, and
    give both keys to `restore`. The old public key is kept beside the new one as ``<name>.<fp>.retired``.
    New appends go to a new file sealed to the new key.
    """
    old = fingerprint(load_public_key(public_key_file))
    staged = public_key_file.with_name(public_key_file.name + ".next")
    staged.unlink(missing_ok=True)  # a rotation interrupted before it took effect
    new = keygen(private_key_file, staged)
    retired = public_key_file.with_name(f"{public_key_file.name}.{old}.retired")
    if not retired.exists():
        files.write_new(retired, public_key_file.read_bytes())
        retired.chmod(0o644)
    os.replace(staged, public_key_file)
    files.fsync_dir(public_key_file.parent)
    return old, new


def _key_text(label: str, raw: bytes) -> bytes:
    return f"{label}\n{base64.b64encode(raw).decode()}\n".encode("ascii")


def _read_key(path: Path, label: str) -> bytes:
    try:
        lines = path.read_text("ascii").split()
    except (OSError, UnicodeDecodeError) as error:
        raise ArchiveKeyError(f"archive key {path}: cannot be read ({type(error).__name__})") from None
    if len(lines) != 2 or lines[0] != label:
        found = lines[0] if lines and lines[0].startswith("orderbridge-archive") else "something else"
        raise ArchiveKeyError(f"archive key {path}: expected {label}, found {found}")
    try:
        raw = base64.b64decode(lines[1], validate=True)
    except binascii.Error:
        raise ArchiveKeyError(f"archive key {path}: damaged") from None
    if len(raw) != 32:
        raise ArchiveKeyError(f"archive key {path}: damaged")
    return raw


def load_public_key(path: Path) -> PublicKey:
    """The archive's public key: all the running system ever holds (AC-14)."""
    return PublicKey(_read_key(path, _PUBLIC_LABEL))


def load_private_key(path: Path) -> PrivateKey:
    """An offline archive private key, for restores only."""
    return PrivateKey(_read_key(path, _PRIVATE_LABEL))


# -- records and reports ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveRecord:
    """One order's tax-relevant PII. `day` is what restores filter on (e.g. the order date)."""

    order_id: str
    day: date
    seller: str
    marketplace: str
    fields: Mapping[str, str] = field(repr=False)

    def __repr__(self) -> str:
        return f"ArchiveRecord({self.order_id}, {self.day}, fields={sorted(self.fields)})"


@dataclass(frozen=True)
class ArchiveBatch:
    """Where one `append` went: for the redaction ledger (AC-13)."""

    file: str
    first_entry: int
    count: int
    head: str


@dataclass
class FileCheck:
    """The integrity of one archive file; `problems` name damaged entries, `notes` harmless findings."""

    file: str
    entries: int = 0
    recipient: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ArchiveReport:
    """The integrity of every archive file in a directory."""

    files: list[FileCheck]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.files)

    @property
    def damaged(self) -> list[FileCheck]:
        return [check for check in self.files if not check.ok]


# -- reading files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    index: int
    clear: dict[str, Any]
    sealed: bytes


@dataclass
class _Scan:
    check: FileCheck
    file_id: bytes = b""
    recipient: bytes = b""
    committed: int = 0
    head: bytes = b""
    entries: list[_Entry] = field(default_factory=list)


def _manifest_path(path: Path) -> Path:
    return path.with_name(path.name + _MANIFEST_SUFFIX)


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        manifest: dict[str, Any] = json.loads(_manifest_path(path).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"damaged": True}
    return manifest


def _scan(path: Path, *, keep_entries: bool = False) -> _Scan:
    """Walk a file's header, entries and chain against its manifest, without any key."""
    scan = _Scan(FileCheck(path.name))
    problems = scan.check.problems
    data = path.read_bytes()
    if len(data) < _HEADER_BYTES or not data.startswith(MAGIC):
        problems.append("not an orderbridge archive file, or its header is damaged")
        return scan
    scan.file_id = data[len(MAGIC) : len(MAGIC) + 16]
    scan.recipient = data[len(MAGIC) + 16 : _HEADER_BYTES]
    scan.check.recipient = fingerprint(PublicKey(scan.recipient))
    manifest = _read_manifest(path)
    limit = len(data)
    if manifest is None:
        problems.append("manifest missing")
    elif manifest.get("damaged") or manifest.get("file_id") != scan.file_id.hex():
        problems.append("manifest damaged or belongs to another file")
        manifest = None
    else:
        limit = int(manifest["bytes"])
        if len(data) < limit:
            problems.append(f"truncated: {len(data)} bytes of {limit} committed; the tail is missing")
        elif len(data) > limit:
            scan.check.notes.append(
                f"{len(data) - limit} bytes after the last committed entry (interrupted append)"
            )
    _walk(data[: min(limit, len(data))], scan, keep_entries=keep_entries)
    found = (scan.check.entries, scan.head.hex())
    if manifest is not None and not problems and found != (manifest["entries"], manifest["head"]):
        problems.append(
            f"manifest says {manifest['entries']} entries ending in {manifest['head'][:12]}, "
            f"file holds {found[0]} ending in {found[1][:12]}"
        )
    return scan


def _walk(data: bytes, scan: _Scan, *, keep_entries: bool) -> None:
    problems = scan.check.problems
    previous = hashlib.sha256(data[:_HEADER_BYTES]).digest()
    offset = _HEADER_BYTES
    index = 0
    while offset < len(data):
        if offset + 4 > len(data):
            problems.append(f"entry {index}: incomplete (the file ends inside it)")
            break
        length = int.from_bytes(data[offset : offset + 4], "big")
        end = offset + 4 + length + _HASH_BYTES
        if length < 2 or end > len(data):
            problems.append(f"entry {index}: incomplete or its length is damaged; later entries unreadable")
            break
        body = data[offset + 4 : offset + 4 + length]
        stored = data[end - _HASH_BYTES : end]
        if hashlib.sha256(previous + data[offset : offset + 4] + body).digest() != stored:
            problems.append(f"entry {index}: damaged (hash chain mismatch)")
        elif keep_entries:
            scan.entries.append(_parse_entry(index, body, scan.check.file))
        previous = stored
        offset = end
        index += 1
    scan.check.entries = index
    scan.committed = offset
    scan.head = previous


def _parse_entry(index: int, body: bytes, file: str) -> _Entry:
    size = int.from_bytes(body[:2], "big")
    try:
        clear = json.loads(body[2 : 2 + size])
    except ValueError:
        raise ArchiveDamagedError(file, f"entry {index}: clear header unreadable") from None
    return _Entry(index, clear, body[2 + size :])


def archive_files(directory: Path) -> list[Path]:
    """The archive files in `directory`, oldest first."""
    return sorted(directory.glob("archive-*.oba"))


def verify(directory: Path) -> ArchiveReport:
    """Check every archive file's integrity without the private key (a drill to run on a schedule)."""
    checks = [_scan(path).check for path in archive_files(directory)]
    for manifest in sorted(directory.glob(f"archive-*.oba{_MANIFEST_SUFFIX}")):
        archive = manifest.with_name(manifest.name.removesuffix(_MANIFEST_SUFFIX))
        if not archive.exists():
            checks.append(FileCheck(archive.name, problems=["archive file missing (its manifest is here)"]))
    return ArchiveReport(checks)


# -- writing ---------------------------------------------------------------------------------------


class ArchiveWriter:
    """Appends sealed records to the current archive file of the day in `directory`."""

    def __init__(
        self,
        directory: Path,
        public_key: PublicKey,
        *,
        clock: Clock = utc_now,
        max_file_bytes: int = _MAX_FILE_BYTES,
        allowed_fields: Collection[str] | None = TAX_FIELDS,
    ) -> None:
        """`allowed_fields` limits what may be archived (AC-15); None lifts the limit."""
        self.directory = directory
        self.allowed_fields = None if allowed_fields is None else frozenset(allowed_fields)
        self.public_key = public_key
        self.clock = clock
        self.max_file_bytes = max_file_bytes
        self._box = SealedBox(public_key)
        directory.mkdir(parents=True, exist_ok=True)

    def append(self, records: Sequence[ArchiveRecord | Sequence[ArchiveRecord]]) -> ArchiveBatch:
        """Seal and append `records` durably (fsync) before returning: only then may they be redacted.

        Each item is one entry: a record, or a group of records sealed together (`append_grouped`).
        """
        if not records:
            raise ArchiveError("archive: nothing to append")
        flat = [r for item in records for r in ([item] if isinstance(item, ArchiveRecord) else item)]
        if self.allowed_fields is not None:
            for record in flat:
                extra = sorted(set(record.fields) - self.allowed_fields)
                if extra:
                    raise ArchiveError(
                        f"archive: order {record.order_id}: fields {', '.join(extra)} are not configured "
                        "for the archive (only what tax needs is archived)"
                    )
        path = self._current_file()
        for _attempt in range(2):
            with path.open("r+b") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                manifest = _read_manifest(path)
                if manifest is not None and _tail_agrees(handle, manifest):
                    return self._append_locked(path, handle, manifest, records)
            path = self._new_file()  # damaged since: leave it for `verify`, carry on in a fresh file
        raise ArchiveError(f"archive: cannot append to a fresh file in {self.directory}")

    def append_grouped(
        self, records: Sequence[ArchiveRecord], *, per_entry: int = GROUP_SIZE
    ) -> ArchiveBatch:
        """Like `append`, sealing up to `per_entry` records into one entry: one sealed box per group.

        A sealed box costs an X25519 key exchange (~0.1 ms); a sweep of a million orders seals groups.
        Restores find a record by the clear header's list of order ids and days.
        """
        groups = [list(records[i : i + per_entry]) for i in range(0, len(records), per_entry)]
        return self.append(groups)

    def _append_locked(
        self,
        path: Path,
        handle: BinaryIO,
        manifest: dict[str, Any],
        records: Sequence[ArchiveRecord | Sequence[ArchiveRecord]],
    ) -> ArchiveBatch:
        file_id = bytes.fromhex(manifest["file_id"])
        previous = bytes.fromhex(manifest["head"])
        chunks = []
        for record in records:
            body = (
                self._body(record, file_id)
                if isinstance(record, ArchiveRecord)
                else self._group(record, file_id)
            )
            length = len(body).to_bytes(4, "big")
            previous = hashlib.sha256(previous + length + body).digest()
            chunks.append(length + body + previous)
        handle.truncate(manifest["bytes"])  # cut off an interrupted append, never read as data
        handle.seek(manifest["bytes"])
        handle.write(b"".join(chunks))
        handle.flush()
        os.fsync(handle.fileno())
        first = manifest["entries"]
        manifest.update(entries=first + len(records), bytes=handle.tell(), head=previous.hex())
        files.write_replace(_manifest_path(path), json.dumps(manifest, indent=1).encode())
        return ArchiveBatch(path.name, first, len(records), previous.hex())

    def _body(self, record: ArchiveRecord, file_id: bytes) -> bytes:
        clear = {
            "order_id": record.order_id,
            "day": record.day.isoformat(),
            "seller": record.seller,
            "marketplace": record.marketplace,
        }
        sealed = self._box.encrypt(
            json.dumps({**clear, "file_id": file_id.hex(), "fields": dict(record.fields)}).encode()
        )
        header = json.dumps(clear, separators=(",", ":")).encode()
        return len(header).to_bytes(2, "big") + header + sealed

    def _group(self, records: Sequence[ArchiveRecord], file_id: bytes) -> bytes:
        clears = [_clear(record) for record in records]
        clear = {"records": clears}
        content = {
            "file_id": file_id.hex(),
            "records": [{**c, "fields": dict(r.fields)} for c, r in zip(clears, records, strict=True)],
        }
        sealed = self._box.encrypt(json.dumps(content).encode())
        header = json.dumps(clear, separators=(",", ":")).encode()
        return len(header).to_bytes(2, "big") + header + sealed

    def _current_file(self) -> Path:
        today = self.clock().date().isoformat()
        candidates = sorted(self.directory.glob(f"archive-{today}-*.oba"), key=_sequence)
        if candidates:
            latest = candidates[-1]
            manifest = _read_manifest(latest)
            if manifest is None and latest.stat().st_size == _HEADER_BYTES:
                self._write_manifest(latest, latest.read_bytes())  # crashed right after creating it
                manifest = _read_manifest(latest)
            if (
                manifest is not None
                and not manifest.get("damaged")
                and manifest.get("recipient") == bytes(self.public_key).hex()
                and manifest["bytes"] < self.max_file_bytes
            ):
                return latest
        return self._new_file()

    def _new_file(self) -> Path:
        today = self.clock().date().isoformat()
        existing = [_sequence(p) for p in self.directory.glob(f"archive-{today}-*.oba")]
        path = (
            self.directory / f"archive-{today}-{max(existing, default=0) + 1:03d}-{secrets.token_hex(4)}.oba"
        )
        header = MAGIC + secrets.token_bytes(16) + bytes(self.public_key)
        files.write_new(path, header)
        self._write_manifest(path, header)
        return path

    def _write_manifest(self, path: Path, header: bytes) -> None:
        manifest = {
            "format": 1,
            "file": path.name,
            "file_id": header[len(MAGIC) : len(MAGIC) + 16].hex(),
            "recipient": header[len(MAGIC) + 16 : _HEADER_BYTES].hex(),
            "recipient_fingerprint": fingerprint(PublicKey(header[len(MAGIC) + 16 : _HEADER_BYTES])),
            "entries": 0,
            "bytes": _HEADER_BYTES,
            "head": hashlib.sha256(header).hexdigest(),
        }
        files.write_replace(_manifest_path(path), json.dumps(manifest, indent=1).encode())


def _tail_agrees(handle: BinaryIO, manifest: dict[str, Any]) -> bool:
    """Whether the file still ends (at its committed length) in the manifest's head hash: a cheap check."""
    if manifest.get("damaged"):
        return False
    committed = int(manifest["bytes"])
    if os.fstat(handle.fileno()).st_size < committed:
        return False
    if manifest["entries"] == 0:
        handle.seek(0)
        return hashlib.sha256(handle.read(_HEADER_BYTES)).hexdigest() == str(manifest["head"])
    handle.seek(committed - _HASH_BYTES)
    return handle.read(_HASH_BYTES).hex() == str(manifest["head"])


def _clear(record: ArchiveRecord) -> dict[str, str]:
    return {
        "order_id": record.order_id,
        "day": record.day.isoformat(),
        "seller": record.seller,
        "marketplace": record.marketplace,
    }


def _sequence(path: Path) -> int:
    parts = path.stem.split("-")
    return int(parts[-2]) if len(parts) >= 6 and parts[-2].isdigit() else 0


# -- restoring -------------------------------------------------------------------------------------


def restore(
    directory: Path,
    private_key_files: Path | Sequence[Path],
    *,
    order_id: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    skip_damaged: bool = False,
) -> list[ArchiveRecord]:
    """Recover archived records (tax audit), checking every file's integrity first.

    Raises ArchiveDamagedError naming the file and entry (with `skip_damaged`, restores every intact
    entry instead; run `verify` for the list of what was skipped), or ArchiveKeyError when the records
    asked for are sealed to a key not given. Restored PII must never re-enter the online book.
    """
    paths = [private_key_files] if isinstance(private_key_files, Path) else list(private_key_files)
    keys = {fingerprint(key.public_key): key for key in map(load_private_key, paths)}
    restored: list[ArchiveRecord] = []
    for path in archive_files(directory):
        scan = _scan(path, keep_entries=True)
        if not scan.check.ok and not skip_damaged:
            raise ArchiveDamagedError(path.name, "; ".join(scan.check.problems))
        wanted = [entry for entry in scan.entries if _wanted(entry.clear, order_id, date_from, date_to)]
        if wanted:
            restored.extend(
                _open_entries(
                    path.name,
                    scan,
                    wanted,
                    keys,
                    skip_damaged=skip_damaged,
                    wanted_by=lambda clear: _wanted(clear, order_id, date_from, date_to),
                )
            )
    return restored


def _wanted(
    clear: Mapping[str, Any], order_id: str | None, date_from: date | None, date_to: date | None
) -> bool:
    if "records" in clear:  # a grouped entry: wanted if any of its records is
        return any(_wanted(record, order_id, date_from, date_to) for record in clear["records"])
    day = date.fromisoformat(clear["day"])
    return (
        (order_id is None or clear["order_id"] == order_id)
        and (date_from is None or day >= date_from)
        and (date_to is None or day <= date_to)
    )


def _open_entries(
    file: str,
    scan: _Scan,
    wanted: Sequence[_Entry],
    keys: Mapping[str, PrivateKey],
    *,
    skip_damaged: bool,
    wanted_by: Callable[[Mapping[str, Any]], bool],
) -> Iterator[ArchiveRecord]:
    key = keys.get(scan.check.recipient)
    if key is None:
        raise ArchiveKeyError(
            f"archive file {file} is sealed to key {scan.check.recipient}; "
            f"the key given is {', '.join(sorted(keys))}: wrong private key"
        )
    box = SealedBox(key)
    for entry in wanted:
        try:
            content = json.loads(box.decrypt(entry.sealed))
        except (CryptoError, ValueError):
            raise ArchiveDamagedError(
                file, f"entry {entry.index}: does not open with its recipient's key"
            ) from None
        if "records" in entry.clear:
            yield from _open_group(file, scan, entry, content, wanted_by)
            continue
        placed = {name: content.get(name) for name in entry.clear}
        if placed != entry.clear or content.get("file_id") != scan.file_id.hex():
            raise ArchiveDamagedError(file, f"entry {entry.index}: sealed content does not match its header")
        yield ArchiveRecord(
            order_id=content["order_id"],
            day=date.fromisoformat(content["day"]),
            seller=content["seller"],
            marketplace=content["marketplace"],
            fields=content["fields"],
        )


def _open_group(
    file: str,
    scan: _Scan,
    entry: _Entry,
    content: dict[str, Any],
    wanted_by: Callable[[Mapping[str, Any]], bool],
) -> Iterator[ArchiveRecord]:
    records = content.get("records")
    placed = [{name: record.get(name) for name in _CLEAR_NAMES} for record in records or []]
    if placed != entry.clear["records"] or content.get("file_id") != scan.file_id.hex():
        raise ArchiveDamagedError(file, f"entry {entry.index}: sealed content does not match its header")
    for record in records or []:
        if wanted_by(record):
            yield ArchiveRecord(
                order_id=record["order_id"],
                day=date.fromisoformat(record["day"]),
                seller=record["seller"],
                marketplace=record["marketplace"],
                fields=record["fields"],
            )

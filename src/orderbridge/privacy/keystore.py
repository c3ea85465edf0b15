"""The key store: per-seller, per-retention-epoch data keys in files outside the database, wrapped by a KEK.

Layout (DPP §3.4): ``<root>/<seller>/<marketplace>/<slot>.key`` where the slot is an epoch day
(``2026-12-23``), a rolling open key (``open-3``, records with no due date yet) or a blind-index key
(``index-1``). Each file holds the 32-byte data key wrapped with AES-256-GCM under the key-encryption key
(KEK), bound by associated data to its key id, so a file renamed to another slot does not unwrap.
Destroying a key overwrites the file in place, fsyncs and unlinks it, and leaves a tombstone without key
bytes, so that every ciphertext of that epoch (database, WAL, dumps, backups) is unreadable for good
(NIST SP 800-88 cryptographic erase, AC-17). The key store is a directory of its own: keep it out of the
database directory and out of database backups (AC-18).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import hmac
import json
import os
import re
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from orderbridge.clock import Clock, utc_now
from orderbridge.privacy import files
from orderbridge.privacy.errors import KeyDestroyedError, KeyStoreError

KEK_ENV = "ORDERBRIDGE_KEK"
KEK_PREVIOUS_ENV = "ORDERBRIDGE_KEK_PREVIOUS"
KEY_BYTES = 32
_WRAP_AAD = b"orderbridge-keystore-v1\x00"
_FORMAT = 1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SLOT = re.compile(r"(?P<day>\d{4}-\d{2}-\d{2})|(?P<kind>open|index)-(?P<serial>[1-9]\d{0,8})")


class KeyKind(StrEnum):
    EPOCH = "epoch"
    OPEN = "open"
    INDEX = "index"


@dataclass(frozen=True, order=True)
class KeyId:
    """Names one data key: ``seller/marketplace/slot``; never secret, stored in every ciphertext header."""

    seller: str
    marketplace: str
    slot: str

    def __post_init__(self) -> None:
        for part, value in (("seller", self.seller), ("marketplace", self.marketplace)):
            if not _NAME.fullmatch(value):
                raise KeyStoreError(f"key id: bad {part} {value!r} (letters, digits, _ . -; at most 64)")
        match = _SLOT.fullmatch(self.slot)
        if match is None:
            raise KeyStoreError(f"key id: bad slot {self.slot!r} (YYYY-MM-DD, open-N or index-N)")
        if match["day"]:
            try:
                date.fromisoformat(self.slot)
            except ValueError:
                raise KeyStoreError(f"key id: bad epoch day {self.slot!r}") from None

    @classmethod
    def for_epoch(cls, seller: str, marketplace: str, day: date) -> KeyId:
        return cls(seller, marketplace, day.isoformat())

    @classmethod
    def for_open(cls, seller: str, marketplace: str, serial: int) -> KeyId:
        return cls(seller, marketplace, f"open-{serial}")

    @classmethod
    def for_index(cls, seller: str, marketplace: str, serial: int) -> KeyId:
        return cls(seller, marketplace, f"index-{serial}")

    @classmethod
    def parse(cls, text: str) -> KeyId:
        """Read ``seller/marketplace/slot`` back into a key id."""
        return _parse_key_id(text)

    @property
    def kind(self) -> KeyKind:
        return KeyKind(self.slot.split("-", 1)[0]) if self.slot[0].isalpha() else KeyKind.EPOCH

    @property
    def day(self) -> date | None:
        """The retention epoch day, or None for open and index keys."""
        return date.fromisoformat(self.slot) if self.kind is KeyKind.EPOCH else None

    @property
    def serial(self) -> int:
        """The generation of an open or index key (0 for epoch keys)."""
        return 0 if self.kind is KeyKind.EPOCH else int(self.slot.split("-", 1)[1])

    def __str__(self) -> str:
        return f"{self.seller}/{self.marketplace}/{self.slot}"


@functools.lru_cache(maxsize=4096)  # every decrypt parses its header's key id: keep that cheap
def _parse_key_id(text: str) -> KeyId:
    parts = text.split("/")
    if len(parts) != 3:
        raise KeyStoreError(f"key id: {text[:80]!r} is not seller/marketplace/slot")
    return KeyId(*parts)


@dataclass(frozen=True)
class DataKey:
    """A 32-byte data key and its id. The repr never shows the key bytes."""

    key_id: KeyId
    secret: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"DataKey({self.key_id})"


@dataclass(frozen=True)
class KeyEncryptionKey:
    """The KEK that wraps every data key; from a 0600 key file or the environment, never the database."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise KeyStoreError(f"a key-encryption key must be {KEY_BYTES} bytes, not {len(self.secret)}")

    @classmethod
    def generate(cls) -> KeyEncryptionKey:
        return cls(AESGCM.generate_key(bit_length=256))

    @classmethod
    def from_text(cls, text: str, *, source: str) -> KeyEncryptionKey:
        """Read a base64 KEK (as written in key files and ``ORDERBRIDGE_KEK``)."""
        try:
            return cls(base64.urlsafe_b64decode(text.strip().encode("ascii")))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise KeyStoreError(f"{source}: not a base64 key-encryption key") from None

    def to_text(self) -> str:
        return base64.urlsafe_b64encode(self.secret).decode("ascii")

    @property
    def fingerprint(self) -> str:
        """A public name for this KEK (an HMAC of a constant, so it reveals nothing of the key)."""
        return hmac.new(self.secret, b"orderbridge-kek-fingerprint", hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"KeyEncryptionKey({self.fingerprint})"


def read_kek_file(path: Path) -> KeyEncryptionKey:
    """Read a KEK file, refusing one that group or others can read."""
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            raise KeyStoreError(f"key file {path} has mode {stat.S_IMODE(mode):04o}; run chmod 600 {path}")
        return KeyEncryptionKey.from_text(path.read_text("ascii"), source=str(path))
    except OSError as error:
        raise KeyStoreError(f"key file {path}: {error.strerror}") from None


def read_or_create_kek_file(path: Path) -> KeyEncryptionKey:
    """Read the KEK file, creating it (mode 0600, fsynced) with a fresh random key on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        kek = KeyEncryptionKey.generate()
        files.write_new(path, (kek.to_text() + "\n").encode("ascii"))
    return read_kek_file(path)


def load_kek(key_file: Path, environ: Mapping[str, str] | None = None) -> KeyEncryptionKey:
    """The KEK in force: ``ORDERBRIDGE_KEK`` when set, else the key file (created on first use)."""
    env = os.environ if environ is None else environ
    if env.get(KEK_ENV):
        return KeyEncryptionKey.from_text(env[KEK_ENV], source=KEK_ENV)
    return read_or_create_kek_file(key_file)


class KeyCopies(Protocol):
    """Where else a data key is kept (a disaster-recovery copy); it must die with the key (AC-17)."""

    def keep(self, key: DataKey) -> None: ...

    def forget(self, key_id: KeyId) -> None: ...


class KeyStore:
    """Data keys in a directory, wrapped under a KEK; `previous` KEKs still unwrap during a rotation."""

    def __init__(
        self,
        root: Path,
        kek: KeyEncryptionKey,
        *,
        previous: Sequence[KeyEncryptionKey] = (),
        copies: KeyCopies | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.root = root
        self.clock = clock
        self.kek = kek
        self.copies = copies
        self._keks = {k.fingerprint: k for k in (*previous, kek)}
        self._cache: dict[KeyId, tuple[DataKey, int, int]] = {}
        self._currents: dict[tuple[str, str, KeyKind], KeyId] = {}
        self._paths: dict[KeyId, Path] = {}
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    # -- reading and creating ------------------------------------------------------------------

    def get(self, key_id: KeyId) -> DataKey:
        """The live key `key_id`; KeyDestroyedError once destroyed, KeyStoreError if never made."""
        path = self._path(key_id)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            self._cache.pop(key_id, None)
            if self._tombstone(key_id).exists():
                raise KeyDestroyedError(str(key_id)) from None
            raise KeyStoreError(f"key {key_id} is not in the key store {self.root}") from None
        cached = self._cache.get(key_id)
        if cached and (cached[1], cached[2]) == (info.st_ino, info.st_mtime_ns):
            return cached[0]
        key = DataKey(key_id, self._unwrap(key_id, path.read_bytes()))
        if self.copies is not None:
            self.copies.keep(key)  # once per process and key: also heals a copy a crash left unwritten
            if self._tombstone(key_id).exists():  # destroyed meanwhile: the copy must not outlive the key
                self.copies.forget(key_id)
                raise KeyDestroyedError(str(key_id))
        self._cache[key_id] = (key, info.st_ino, info.st_mtime_ns)
        return key

    def epoch_key(self, seller: str, marketplace: str, day: date) -> DataKey:
        """The key of retention epoch `day`, created on first use; KeyDestroyedError once destroyed."""
        return self._get_or_create(KeyId.for_epoch(seller, marketplace, day))

    def key_for(self, seller: str, marketplace: str, due: datetime | None) -> DataKey:
        """The key for a record due at `due` (its retention epoch is due's UTC day), or the open key if None.

        KeyDestroyedError means that epoch is already swept: the record is overdue, redact it now.
        """
        if due is None:
            return self.open_key(seller, marketplace)
        if due.tzinfo is None:
            raise KeyStoreError("key_for: the due time must carry a timezone")
        return self.epoch_key(seller, marketplace, due.astimezone(UTC).date())

    def open_key(self, seller: str, marketplace: str) -> DataKey:
        """The current rolling open key (records with no due date yet), created on first use."""
        return self._current(seller, marketplace, KeyKind.OPEN)

    def roll_open_key(self, seller: str, marketplace: str) -> DataKey:
        """Start a new open key; older ones stay until their records are re-keyed and they are destroyed."""
        return self._get_or_create(self._next_id(seller, marketplace, KeyKind.OPEN))

    def index_key(self, seller: str, marketplace: str) -> DataKey:
        """The current blind-index key of (seller, marketplace), created on first use."""
        return self._current(seller, marketplace, KeyKind.INDEX)

    def roll_index_key(self, seller: str, marketplace: str) -> DataKey:
        """Start a new blind-index key (rotation); re-index live rows, then destroy the old one."""
        return self._get_or_create(self._next_id(seller, marketplace, KeyKind.INDEX))

    def live_keys(self, seller: str | None = None, marketplace: str | None = None) -> list[KeyId]:
        """Every key still in the store, sorted, optionally for one seller and marketplace."""
        return sorted(self._scan(seller, marketplace, ".key"))

    def live_epochs(self, seller: str | None = None, marketplace: str | None = None) -> list[KeyId]:
        """The retention-epoch keys still in the store, oldest first within each seller/marketplace."""
        return [k for k in self.live_keys(seller, marketplace) if k.kind is KeyKind.EPOCH]

    def destroyed_keys(self, seller: str | None = None, marketplace: str | None = None) -> list[KeyId]:
        """Keys destroyed so far (their tombstones hold no key bytes)."""
        return sorted(self._scan(seller, marketplace, ".destroyed"))

    # -- destroying ---------------------------------------------------------------------------

    def destroy(self, key_id: KeyId) -> bool:
        """Crypto-shred one key: overwrite, fsync, unlink, tombstone. False if it was already gone."""
        self._cache.pop(key_id, None)
        path = self._path(key_id)
        tombstone = self._tombstone(key_id)
        if not tombstone.exists():
            self._make_dirs(key_id)
            files.write_replace(tombstone, json.dumps({"format": _FORMAT, "key": str(key_id)}).encode())
        was_live = path.exists()
        if was_live:
            files.shred(path)
        if self.copies is not None:  # after the key: a reader racing us re-checks the tombstone
            self.copies.forget(key_id)
        return was_live

    def restore_key(self, key: DataKey) -> bool:
        """Put back a key from a disaster-recovery copy; never one destroyed since. False if not restored."""
        path = self._path(key.key_id)
        if path.exists() or self._tombstone(key.key_id).exists():
            return False
        self._make_dirs(key.key_id)
        try:
            files.write_new(path, self._wrap(key.key_id, key.secret))
        except FileExistsError:
            return False
        return True

    def destroy_seller(self, seller: str) -> list[KeyId]:
        """Destroy every key of one seller (authorisation revoked, Amazon notice; AC-28)."""
        destroyed = [key_id for key_id in self.live_keys(seller) if self.destroy(key_id)]
        return destroyed

    # -- KEK rotation -------------------------------------------------------------------------

    def rotate_kek(self, new: KeyEncryptionKey) -> int:
        """Make `new` the KEK and re-wrap every data key under it; returns how many were re-wrapped."""
        self._keks[self.kek.fingerprint] = self.kek
        self._keks[new.fingerprint] = new
        self.kek = new
        return self.rewrap_all()

    def rewrap_all(self) -> int:
        """Re-wrap every key not yet under the current KEK (resumes an interrupted rotation)."""
        count = 0
        for key_id in self.live_keys():
            path = self._path(key_id)
            if json.loads(path.read_bytes())["kek"] == self.kek.fingerprint:
                continue
            secret = self._unwrap(key_id, path.read_bytes())
            files.write_replace(path, self._wrap(key_id, secret, created=self.created_at(key_id)))
            count += 1
        self._cache.clear()
        return count

    def created_at(self, key_id: KeyId) -> datetime | None:
        """When a live key was made (by the store's clock); None for a key made before this was recorded."""
        try:
            text = json.loads(self._path(key_id).read_bytes()).get("created")
        except FileNotFoundError:
            if self._tombstone(key_id).exists():
                raise KeyDestroyedError(str(key_id)) from None
            raise KeyStoreError(f"key {key_id} is not in the key store {self.root}") from None
        except ValueError:
            raise KeyStoreError(f"key file of {key_id} is damaged") from None
        return datetime.fromisoformat(text) if isinstance(text, str) else None

    # -- internals ----------------------------------------------------------------------------

    def _get_or_create(self, key_id: KeyId) -> DataKey:
        path = self._path(key_id)
        if not path.exists():
            if self._tombstone(key_id).exists():
                raise KeyDestroyedError(str(key_id))
            self._make_dirs(key_id)
            with contextlib.suppress(FileExistsError):  # another worker made it first: use theirs
                files.write_new(path, self._wrap(key_id, AESGCM.generate_key(bit_length=256)))
        return self.get(key_id)

    def _current(self, seller: str, marketplace: str, kind: KeyKind) -> DataKey:
        remembered = self._currents.get((seller, marketplace, kind))
        if remembered is not None:
            successor = KeyId(seller, marketplace, f"{kind}-{remembered.serial + 1}")
            # Another process may have rolled the key: one stat tells, without listing the directory.
            if not self._path(successor).exists() and not self._tombstone(successor).exists():
                with contextlib.suppress(KeyDestroyedError):
                    return self.get(remembered)
        live = [k for k in self.live_keys(seller, marketplace) if k.kind is kind]
        newest = max(live, key=lambda k: k.serial, default=None)
        if newest is not None and self._next_id(seller, marketplace, kind).serial == newest.serial + 1:
            key = self.get(newest)
        else:  # none yet, or the newest was destroyed: never fall back to an older one
            key = self._get_or_create(self._next_id(seller, marketplace, kind))
        self._currents[(seller, marketplace, kind)] = key.key_id
        return key

    def _next_id(self, seller: str, marketplace: str, kind: KeyKind) -> KeyId:
        known = self.live_keys(seller, marketplace) + self.destroyed_keys(seller, marketplace)
        serial = max((k.serial for k in known if k.kind is kind), default=0) + 1
        return KeyId(seller, marketplace, f"{kind}-{serial}")

    def _scan(self, seller: str | None, marketplace: str | None, suffix: str) -> Iterator[KeyId]:
        for part, value in (("seller", seller), ("marketplace", marketplace)):
            if value is not None and not _NAME.fullmatch(value):  # never a glob pattern
                raise KeyStoreError(f"key store: bad {part} {value!r}")
        for path in self.root.glob(f"{seller or '*'}/{marketplace or '*'}/*{suffix}"):
            name = path.name.removesuffix(suffix)
            if _SLOT.fullmatch(name):
                yield KeyId(path.parent.parent.name, path.parent.name, name)

    def _make_dirs(self, key_id: KeyId) -> None:
        (self.root / key_id.seller).mkdir(exist_ok=True, mode=0o700)
        (self.root / key_id.seller / key_id.marketplace).mkdir(exist_ok=True, mode=0o700)

    def _path(self, key_id: KeyId) -> Path:
        path = self._paths.get(key_id)
        if path is None:
            path = self._paths[key_id] = self.root / key_id.seller / key_id.marketplace / f"{key_id.slot}.key"
        return path

    def _tombstone(self, key_id: KeyId) -> Path:
        return self.root / key_id.seller / key_id.marketplace / f"{key_id.slot}.destroyed"

    def _wrap(self, key_id: KeyId, secret: bytes, *, created: datetime | None = None) -> bytes:
        nonce = os.urandom(12)
        wrapped = AESGCM(self.kek.secret).encrypt(nonce, secret, _WRAP_AAD + str(key_id).encode())
        record = {
            "format": _FORMAT,
            "key": str(key_id),
            "kek": self.kek.fingerprint,
            "nonce": base64.b64encode(nonce).decode(),
            "wrapped": base64.b64encode(wrapped).decode(),
            "created": (created or self.clock()).astimezone(UTC).isoformat(),
        }
        return json.dumps(record).encode()

    def _unwrap(self, key_id: KeyId, content: bytes) -> bytes:
        try:
            record = json.loads(content)
            kek = self._keks.get(record["kek"])
            if kek is None:
                raise KeyStoreError(
                    f"key {key_id} is wrapped by KEK {record['kek']}, which is not loaded "
                    f"(loaded: {', '.join(sorted(self._keks))})"
                )
            nonce = base64.b64decode(record["nonce"])
            wrapped = base64.b64decode(record["wrapped"])
            return AESGCM(kek.secret).decrypt(nonce, wrapped, _WRAP_AAD + str(key_id).encode())
        except InvalidTag:
            raise KeyStoreError(f"key file of {key_id} does not unwrap: wrong KEK or damaged file") from None
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise KeyStoreError(f"key file of {key_id} is damaged") from None


def check_placement(root: Path, key_file: Path, database_dirs: Sequence[Path]) -> None:
    """Refuse a key store or KEK file inside a database directory, whose backups would copy it (AC-18)."""
    for database_dir in database_dirs:
        base = database_dir.resolve()
        for path, what in ((root, "key store"), (key_file, "key file")):
            resolved = path.resolve()
            if resolved == base or base in resolved.parents or resolved in base.parents:
                raise KeyStoreError(
                    f"the {what} {path} is inside or around the database directory {database_dir}: "
                    "database backups would copy it; configure it elsewhere"
                )


def open_keystore(
    root: Path,
    *,
    key_file: Path,
    environ: Mapping[str, str] | None = None,
    database_dirs: Sequence[Path] = (),
    copies: KeyCopies | None = None,
    clock: Clock = utc_now,
) -> KeyStore:
    """The key store under `root` with the KEK in force, finishing a KEK-file rotation a crash interrupted.

    `database_dirs` (e.g. the SQLite file's directory) are places the key store must not be in.
    """
    check_placement(root, key_file, database_dirs)
    env = os.environ if environ is None else environ
    if env.get(KEK_ENV):
        previous = [
            KeyEncryptionKey.from_text(text, source=KEK_PREVIOUS_ENV)
            for text in env.get(KEK_PREVIOUS_ENV, "").split(",")
            if text.strip()
        ]
        return KeyStore(root, load_kek(key_file, env), previous=previous, copies=copies, clock=clock)
    pending = _next_kek_file(key_file)
    if pending.exists():
        old = _parse_kek_file(key_file)
        if old is not None:  # crashed while re-wrapping: finish the rotation
            store = KeyStore(root, old, copies=copies, clock=clock)
            rotate_kek_file(store, key_file)
            return store
        if key_file.exists():  # crashed while shredding the old KEK: every key is already re-wrapped
            files.shred(key_file)
        os.replace(pending, key_file)
        files.fsync_dir(key_file.parent)
    return KeyStore(root, read_or_create_kek_file(key_file), copies=copies, clock=clock)


def _parse_kek_file(path: Path) -> KeyEncryptionKey | None:
    try:
        return KeyEncryptionKey.from_text(path.read_text("ascii"), source=str(path))
    except (OSError, UnicodeDecodeError, KeyStoreError):
        return None


def rotate_kek_file(store: KeyStore, key_file: Path) -> int:
    """Rotate a file-held KEK: new key file, re-wrap every data key, shred the old KEK file (AC-20).

    Crash-safe: the new KEK is written to ``<key_file>.next`` first, and `open_keystore` resumes.
    """
    pending = _next_kek_file(key_file)
    if not pending.exists():
        files.write_new(pending, (KeyEncryptionKey.generate().to_text() + "\n").encode("ascii"))
    count = store.rotate_kek(read_kek_file(pending))
    files.shred(key_file)
    os.replace(pending, key_file)
    files.fsync_dir(key_file.parent)
    return count


def _next_kek_file(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".next")

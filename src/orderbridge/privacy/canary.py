"""Canary buyers and raw-byte scans: evidence that no buyer PII reaches a store, log or archive.

A canary buyer's every field is a unique random token (DPP §3.11). After driving it through the system,
`scan` reads the raw bytes of every file given (SQLite db/-wal/-shm, a PostgreSQL data directory and
``pg_dump``, logs, archive and key directories) looking for each value in the forms it could take there:
as is, lower-cased (FTS tokens), UTF-16, base64 at any alignment, JSON-escaped and URL-encoded
(AC-2, AC-3, AC-5, AC-8).
"""

from __future__ import annotations

import base64
import json
import secrets
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20


@dataclass(frozen=True)
class CanaryBuyer:
    """A synthetic buyer: every field a fresh random token, found nowhere else."""

    name: str
    email: str
    phone: str
    address_line1: str
    address_line2: str
    gift_message: str

    @property
    def values(self) -> dict[str, str]:
        """Field name -> value."""
        return {
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "address_line1": self.address_line1,
            "address_line2": self.address_line2,
            "gift_message": self.gift_message,
        }


def make_canary_buyer() -> CanaryBuyer:
    """A new canary buyer (synthetic data only: R14)."""
    token = secrets.token_hex(5)
    return CanaryBuyer(
        name=f"Qz{token.title()} Canarysdottir",
        email=f"qz{token}@marketplace.amazon.co.uk",
        phone=f"+44 7700 9{secrets.randbelow(10**5):05d}",
        address_line1=f"{secrets.randbelow(900) + 100} Qz{token} Lane",
        address_line2=f"Flat Qz{secrets.token_hex(3)}",
        gift_message=f"Happy birthday Qz{secrets.token_hex(4)}!",
    )


def forms(value: str) -> dict[str, bytes]:
    """The byte forms `value` may take in a store, by name."""
    found: dict[str, bytes] = {}
    for case, text in (("", value), ("lower-cased ", value.lower())):
        raw = text.encode("utf-8")
        found[f"{case}utf-8"] = raw
        found[f"{case}utf-16"] = text.encode("utf-16-le")
        found[f"{case}json"] = json.dumps(text)[1:-1].encode("ascii")
        found[f"{case}url-encoded"] = urllib.parse.quote_plus(text).encode("ascii")
        for shift in range(3):
            core = _base64_core(raw, shift)
            if core:
                found[f"{case}base64+{shift}"] = core
    return found


def _base64_core(raw: bytes, shift: int) -> bytes:
    """The base64 characters that depend only on `raw` when it starts `shift` bytes into a 3-byte group."""
    encoded = base64.b64encode(b"\x00" * shift + raw)
    start = 4 if shift else 0
    end = 4 * ((shift + len(raw)) // 3)
    return encoded[start:end] if end - start >= 8 else b""


@dataclass(frozen=True)
class Finding:
    """One canary value found in a file: which field, in which form, where."""

    path: Path
    field: str
    form: str
    offset: int

    def __str__(self) -> str:
        return f"{self.path}: canary {self.field} ({self.form}) at byte {self.offset}"


def files_under(*roots: Path) -> Iterator[Path]:
    """Every regular file under `roots` (a root may itself be a file)."""
    for root in roots:
        if root.is_file():
            yield root
        elif root.is_dir():
            yield from sorted(path for path in root.rglob("*") if path.is_file())


def scan(paths: Iterable[Path], buyer: CanaryBuyer) -> list[Finding]:
    """Every place any of the buyer's values appears in any form in the given files' raw bytes."""
    needles = [
        (field, form, needle)
        for field, value in buyer.values.items()
        for form, needle in forms(value).items()
    ]
    overlap = max(len(needle) for _, _, needle in needles) - 1
    findings = []
    for path in paths:
        for base, chunk in _chunks(path, overlap):
            for field, form, needle in needles:
                at = chunk.find(needle)
                if at != -1:
                    findings.append(Finding(path, field, form, base + at))
    return sorted(set(findings), key=lambda f: (str(f.path), f.offset, f.field, f.form))


def _chunks(path: Path, overlap: int) -> Iterator[tuple[int, bytes]]:
    """The file in 1 MiB chunks that overlap, so that no value is missed across a boundary."""
    try:
        handle = path.open("rb")
    except (FileNotFoundError, PermissionError):
        return  # a file that vanished (a WAL checkpointed) or cannot be read is not scanned
    with handle:
        base, tail = 0, b""
        while block := handle.read(_CHUNK):
            chunk = tail + block
            yield base - len(tail), chunk
            tail = chunk[-overlap:] if overlap else b""
            base += len(block)

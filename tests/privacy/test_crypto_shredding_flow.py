"""The privacy core end to end, without the book: encrypt, index, log, archive, shred, scan, restore.

A stand-in SQLite table plays the vault table of DPP §3.2; the book integration repeats this on its own
tables. Proves at the core's level: AC-2/AC-3 (no canary in any byte store, before or after), AC-4 (nothing
decrypts after the sweep), AC-5 (logs), AC-13/AC-14 (archive first, restorable only offline), AC-17 (no
key copy, an audit event), AC-19 (the e-mail match ends).
"""

from __future__ import annotations

import io
import logging
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from orderbridge.privacy import audit
from orderbridge.privacy.archive import ArchiveRecord, ArchiveWriter, keygen, load_public_key, restore, verify
from orderbridge.privacy.blind_index import BlindIndexer, IndexKind
from orderbridge.privacy.canary import Finding, files_under, make_canary_buyer, scan
from orderbridge.privacy.errors import KeyDestroyedError
from orderbridge.privacy.key_lifecycle import destroy_key
from orderbridge.privacy.keystore import KeyStore
from orderbridge.privacy.log_filter import PiiFilter
from orderbridge.privacy.models import AuditAction
from orderbridge.privacy.vault import FieldRef, Vault, key_id_of
from tests.privacy.fakes import MARKETPLACE, SELLER, FakeClock, all_bytes_under

ORDER_ID = "202-1234567-7654321"
EPOCH = date(2026, 12, 23)


def test_ac2_ac4_ac13_ac17_a_buyer_is_encrypted_archived_then_shredded_everywhere(
    tmp_path: Path, keystore: KeyStore, session: Session, clock: FakeClock
) -> None:
    # given a canary buyer, a book file, a log, an archive whose private key is offline
    canary = make_canary_buyer()
    log_stream = io.StringIO()
    handler = logging.StreamHandler(log_stream)
    handler.addFilter(PiiFilter())
    logger = logging.getLogger("orderbridge.test.flow")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    keygen(tmp_path / "offline.key", tmp_path / "archive.pub")
    writer = ArchiveWriter(tmp_path / "archive", load_public_key(tmp_path / "archive.pub"), clock=clock)
    vault, indexer = Vault(keystore), BlindIndexer(keystore)
    book = sqlite3.connect(tmp_path / "book.db")
    book.execute("PRAGMA journal_mode=WAL")
    book.execute("CREATE TABLE pii (order_id TEXT, field TEXT, value BLOB, email_index BLOB)")

    # when an order arrives and its PII is stored under its retention epoch
    key = keystore.epoch_key(SELLER, MARKETPLACE, EPOCH)
    fields = canary.values
    email_index = indexer.index(IndexKind.EMAIL, canary.email, seller=SELLER, marketplace=MARKETPLACE)
    for field, value in fields.items():
        blob = vault.encrypt(value, at=FieldRef("pii", ORDER_ID, field), key=key)
        book.execute("INSERT INTO pii VALUES (?, ?, ?, ?)", (ORDER_ID, field, blob, email_index))
    book.commit()
    logger.info("booked %s for %s", ORDER_ID, fields)

    # then no store holds the plaintext, while the application reads it
    log_file = tmp_path / "app.log"

    def findings() -> list[Finding]:
        log_file.write_text(log_stream.getvalue())
        return scan(files_under(tmp_path), canary)

    assert findings() == []
    rows = book.execute("SELECT field, value FROM pii").fetchall()
    assert {f: vault.decrypt(v, at=FieldRef("pii", ORDER_ID, f)) for f, v in rows} == fields
    assert indexer.index(IndexKind.EMAIL, canary.email.upper(), seller=SELLER, marketplace=MARKETPLACE) == (
        email_index
    )

    # when the epoch falls due: archive first, then delete the rows, then shred the key
    tax = {f: v for f, v in fields.items() if f in {"name", "address_line1", "address_line2"}}
    batch = writer.append([ArchiveRecord(ORDER_ID, date(2026, 11, 20), SELLER, MARKETPLACE, tax)])
    assert verify(tmp_path / "archive").ok
    backup = tmp_path / "backup-before-sweep.db"
    book.execute(f"VACUUM INTO '{backup}'")
    book.execute("DELETE FROM pii")
    book.commit()
    destroy_key(keystore, session, key_id_of(rows[0][1]), actor="job:sweep", clock=clock)
    logger.info("swept %s; archived in %s", ORDER_ID, batch.file)

    # then nothing decrypts any more, not even the backup taken before the sweep
    for field, blob in sqlite3.connect(backup).execute("SELECT field, value FROM pii"):
        with pytest.raises(KeyDestroyedError):
            vault.decrypt(blob, at=FieldRef("pii", ORDER_ID, field))
    # and no file, the archive and the backup included, holds the plaintext in any form
    assert findings() == []
    # and the key is gone from the key store, with an audit event holding no key bytes
    assert key.secret not in all_bytes_under(keystore.root)
    (event,) = audit.entries(session, action=AuditAction.KEY_DESTROYED)
    assert event.subjects == [f"key:{key.key_id}"]
    # and the buyer's next order matches no old contact (C5)
    assert indexer.index(IndexKind.EMAIL, canary.email, seller=SELLER, marketplace=MARKETPLACE) == email_index
    assert book.execute("SELECT count(*) FROM pii WHERE email_index = ?", (email_index,)).fetchone() == (0,)
    # while the operator with the offline key restores exactly what tax needs
    (restored,) = restore(tmp_path / "archive", tmp_path / "offline.key", order_id=ORDER_ID)
    assert dict(restored.fields) == tax
    book.close()
    logger.removeHandler(handler)

"""Disaster-recovery copies of data keys: sealed to an offline key, shredded with their key (DPP §3.4).

Amazon wants PII restorable within hours, so the key store needs a backup; a backup that outlived epoch
E's key would undo the shred. Each data key is therefore also kept as its own file, sealed (X25519 sealed
box) to an offline recovery public key, in a directory without snapshots, and the key store shreds that
file in the same call that destroys the key (AC-17). The running system can write these copies but not
read them; `recover_keys` runs with the offline private key after losing the key store.
"""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path

from nacl.exceptions import CryptoError
from nacl.public import PublicKey, SealedBox

from orderbridge.privacy import files
from orderbridge.privacy.archive import load_private_key
from orderbridge.privacy.errors import KeyStoreError
from orderbridge.privacy.keystore import DataKey, KeyId, KeyStore


class SealedKeyCopies:
    """Keeps one sealed copy per data key under `directory`; plugs into `KeyStore(copies=...)`."""

    def __init__(self, directory: Path, public_key: PublicKey) -> None:
        self.directory = directory
        self._box = SealedBox(public_key)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, key_id: KeyId) -> Path:
        return self.directory / key_id.seller / key_id.marketplace / f"{key_id.slot}.sealed"

    def keep(self, key: DataKey) -> None:
        path = self.path(key.key_id)
        if path.exists():
            return
        path.parent.parent.mkdir(exist_ok=True, mode=0o700)
        path.parent.mkdir(exist_ok=True, mode=0o700)
        content = {"format": 1, "key": str(key.key_id), "secret": base64.b64encode(key.secret).decode()}
        with contextlib.suppress(FileExistsError):
            files.write_new(path, self._box.encrypt(json.dumps(content).encode()))

    def forget(self, key_id: KeyId) -> None:
        path = self.path(key_id)
        if path.exists():
            files.shred(path)


def recover_keys(directory: Path, private_key_file: Path, keystore: KeyStore) -> list[KeyId]:
    """Put every recoverable key back into `keystore` (re-wrapped under its KEK); destroyed ones stay dead."""
    box = SealedBox(load_private_key(private_key_file))
    restored = []
    for path in sorted(directory.glob("*/*/*.sealed")):
        key_id = KeyId(path.parent.parent.name, path.parent.name, path.name.removesuffix(".sealed"))
        try:
            content = json.loads(box.decrypt(path.read_bytes()))
        except (CryptoError, ValueError):
            raise KeyStoreError(f"recovery copy {path.name} of {key_id}: wrong key or damaged") from None
        if content.get("key") != str(key_id):
            raise KeyStoreError(f"recovery copy of {key_id} holds another key ({content.get('key')})")
        if keystore.restore_key(DataKey(key_id, base64.b64decode(content["secret"]))):
            restored.append(key_id)
    return restored

"""Errors of the privacy package. Messages name keys, files, entries and ids, never PII or key bytes."""

from __future__ import annotations

from orderbridge.errors import OrderbridgeError


class PrivacyError(OrderbridgeError):
    """Base of every privacy error."""


class KeyStoreError(PrivacyError):
    """The key store or the key-encryption key cannot be used (missing, unsafe mode, wrong KEK, corrupt)."""


class KeyDestroyedError(PrivacyError):
    """The data key was destroyed (crypto-shredded): what it protected is redacted for good."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"redacted: key for epoch {key_id} destroyed")
        self.key_id = key_id


class DecryptionError(PrivacyError):
    """A ciphertext does not decrypt: malformed, tampered with, or moved to another row or field."""


class MisboundValueError(DecryptionError):
    """A sealed value was put on a row or field it was not sealed for, and where it came from is unknown.

    Copy buyer data between rows as plaintext opened through the vault (`sealing.open_address`), or as a
    value read from its row (it carries where it was sealed, and sealing moves it)."""


class RetentionSettingError(PrivacyError):
    """A retention period longer than Amazon allows or not positive, or a time without a timezone."""


class NothingToIndexError(PrivacyError):
    """A value normalises to nothing, so it must not get a blind index (it would match every empty value)."""


class ArchiveError(PrivacyError):
    """The sealed archive cannot be written or read."""


class ArchiveDamagedError(ArchiveError):
    """An archive file fails its integrity check; names the file and the first bad entry."""

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(f"archive file {file} is damaged: {problem}")
        self.file = file
        self.problem = problem


class ArchiveKeyError(ArchiveError):
    """The private key given cannot open the archive (wrong key, or not an archive private key)."""


class AuditChainError(PrivacyError):
    """The audit log's hash chain is broken at entry `seq`."""

    def __init__(self, seq: int, problem: str) -> None:
        super().__init__(f"audit log broken at entry {seq}: {problem}")
        self.seq = seq
        self.problem = problem


class PiiInAuditError(PrivacyError):
    """Something that looks like PII (an e-mail address or phone number) was about to enter the audit log."""


class IncidentError(PrivacyError):
    """A security incident cannot be recorded or changed as asked."""

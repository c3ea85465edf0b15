"""Durable file operations for keys and archives: no-clobber creation, atomic replace, shredding, fsync."""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make a rename, link or unlink in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(path: Path, content: bytes) -> Path:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    return temp


def write_new(path: Path, content: bytes) -> None:
    """Create `path` (mode 0600) with `content`, complete or not at all; FileExistsError if it exists."""
    temp = _write_temp(path, content)
    try:
        os.link(temp, path)
    except FileExistsError:
        raise
    except OSError as error:  # a file system without hard links: exclusive create, then rename over
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def write_replace(path: Path, content: bytes) -> None:
    """Replace `path` (mode 0600) atomically with `content`."""
    temp = _write_temp(path, content)
    os.replace(temp, path)
    fsync_dir(path.parent)


def shred(path: Path) -> None:
    """Overwrite a file's bytes in place, fsync, unlink and fsync the directory (AC-17).

    On copy-on-write or log-structured file systems and some SSDs an overwrite may land elsewhere;
    the key store relies on the KEK too, which rotation replaces, and documents this limit.
    """
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return  # another process shredded it first
    try:
        size = os.fstat(fd).st_size
        os.pwrite(fd, secrets.token_bytes(size), 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)

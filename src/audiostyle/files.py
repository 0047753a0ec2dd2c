"""Output files: atomic writes, an early writability probe, and disk faults as clear errors.

A crash or a full disk never leaves half a file under the final name; a folder that cannot be
written fails before any optimisation, and a write that fails later names the file and why.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from audiostyle.errors import StorageError

# write failures that are the machine's state, not a bug: full disk, quota, file size limit,
# permissions, read-only file system, a file where a folder should be
DISK_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EFBIG,
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ENOTDIR,
    errno.EEXIST,
}


@contextlib.contextmanager
def atomic_path(path: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def describe(err: OSError) -> str:
    where = f"{err.filename}: " if err.filename else ""
    return f"{where}{err.strerror or err}"


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """Turn a full disk, a file size limit or a permission problem into one clear StorageError."""
    try:
        yield
    except OSError as err:
        if err.errno not in DISK_ERRNOS:
            raise
        hint = " (the disk or quota is full)" if err.errno in (errno.ENOSPC, errno.EDQUOT) else ""
        raise StorageError(f"cannot write output: {describe(err)}{hint}") from None


def check_writable(folder: Path, what: str) -> None:
    """Create `folder` and write and remove a small probe file, so a read-only or full place
    fails before any work rather than after it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-") as probe:
            probe.write(b"\0" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as err:
        raise StorageError(f"{folder}: cannot write {what} there ({describe(err)})") from None


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes on one machine (flock on `path`; the kernel frees
    it if the holder dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

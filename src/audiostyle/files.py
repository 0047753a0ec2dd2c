"""Output files: atomic writes, an early writability probe, and disk faults as clear errors.

A crash or a full disk never leaves half a file under the final name; a folder that cannot be
written fails before any optimisation, and a write that fails later names the file and why.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock

from audiostyle.errors import ConfigError, StorageError

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


def new_file(folder: Path, suffix: str) -> Path:
    """Create an empty file with a fresh name `tmp*suffix` in `folder`; the kernel applies the
    umask to 0666, as for any file a program opens for writing."""
    while True:
        path = folder / f"tmp{secrets.token_hex(6)}{suffix}"
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:  # astronomically unlikely: try another name
            continue
        return path


def sqlite_url(path: Path, store: str, setting: str) -> str:
    """The sqlite:/// URL of a file. SQLAlchemy reads `?` in the URL as the start of options and
    decodes `%XX`, and MLflow makes folders from the raw URL, so escaping cannot work: such a
    path is refused before anything is written."""
    path = path.resolve()
    if "%" in str(path) or "?" in str(path):
        raise ConfigError(
            f"runs_dir {path.parent}: the {store}'s SQLite URL cannot hold '%' or '?'; "
            f"use another runs_dir, or set {setting}"
        )
    return f"sqlite:///{path}"


@contextlib.contextmanager
def atomic_path(path: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.
    The file gets the mode a plain open() gives (0666 less the umask), not mkstemp's 0600, so
    colleagues and an MLflow server running as another user can read it and its copies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_file(path.parent, suffix or path.suffix)
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


def check_output_file(path: Path, option: str, suffix: str) -> None:
    """A file a command will write: not a folder, and its folder writable, checked before the
    command's work rather than after it."""
    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a folder; name the {suffix} file to write")
    check_writable(path.parent, option)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes on one machine (filelock: flock on POSIX, msvcrt on
    Windows; the system frees it if the holder dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path):
        yield

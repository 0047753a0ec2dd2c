"""Values computed from a clip, kept by the clip's digest: in memory for the process, and on
disk across processes where a run says where (its runs_dir/cache).

pyin and speech recognition cost seconds per clip, and a sweep, a rerun or the next trial sees
the same x_C, x_S and mix again. A value is computed once per clip and settings; the disk copy
is written atomically, and a copy that cannot be read or written only costs a recomputation.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from audiostyle.files import atomic_path

log = logging.getLogger(__name__)

T = TypeVar("T")


def digest(x: np.ndarray, settings: str) -> str:
    """A name for (x's float32 samples, settings)."""
    samples = np.ascontiguousarray(x, np.float32).tobytes()
    head = settings.encode() + b"\0" + len(samples).to_bytes(8, "little")
    return hashlib.blake2b(head + samples, digest_size=16).hexdigest()


class DigestCache(Generic[T]):
    """The last `size` values in memory; on disk under `folder` when `keep` is asked for."""

    def __init__(
        self,
        suffix: str,
        write: Callable[[T, Path], None],
        read: Callable[[Path], T],
        size: int = 8,
    ):
        self.suffix, self._write, self._read, self.size = suffix, write, read, size
        self.memory: OrderedDict[str, T] = OrderedDict()
        self.folder: Path | None = None

    def get(self, key: str, compute: Callable[[], T], keep: bool = False) -> T:
        """The value for `key`: from memory, else from disk, else computed; with `keep`, also
        written to disk (if a folder is set) unless it is there."""
        if key not in self.memory:
            value = self._from_disk(key)
            self.memory[key] = compute() if value is None else value
            while len(self.memory) > self.size:
                self.memory.popitem(last=False)
        self.memory.move_to_end(key)
        if keep and self.folder is not None and not self.on_disk(key):
            self._to_disk(key, self.memory[key])
        return self.memory[key]

    def on_disk(self, key: str) -> bool:
        return self.folder is not None and (self.folder / (key + self.suffix)).exists()

    def _from_disk(self, key: str) -> T | None:
        if self.folder is None:
            return None
        try:
            return self._read(self.folder / (key + self.suffix))
        except FileNotFoundError:  # not there yet: compute it
            return None
        except Exception as err:  # a damaged copy (a cut-off write, a bad zip): compute it
            log.info("cache copy unreadable, computing it again (%s): %s", self.folder, err)
            return None

    def _to_disk(self, key: str, value: T) -> None:
        if self.folder is None:
            return
        path = self.folder / (key + self.suffix)
        try:
            with atomic_path(path) as tmp:
                self._write(value, tmp)
        except OSError as err:
            log.info("not cached (%s): %s", path, err)


Arrays = tuple[np.ndarray, ...]


def arrays_cache(*names: str, size: int = 8) -> DigestCache[Arrays]:
    """A DigestCache of fixed tuples of arrays, each kept on disk under its name in one .npz."""

    def write(arrays: Arrays, path: Path) -> None:
        np.savez(path, **dict(zip(names, arrays, strict=True)))  # path ends in .npz already

    def read(path: Path) -> Arrays:
        with np.load(path) as held:
            return tuple(held[name] for name in names)

    return DigestCache(".npz", write, read, size)

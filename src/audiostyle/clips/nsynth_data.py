"""The NSynth dataset in both published layouts, read by note_str.

- Folder ("json/wav"): `examples.json` (note_str -> metadata) and `audio/<note_str>.wav`.
- TFRecord: one file of tf.train.Example records (`nsynth-test.tfrecord`), features `note_str`,
  `pitch`, `velocity`, `audio` (float list, 16 kHz), `instrument_family_str`, ...

`open_dataset(root)` picks the layout from what `root` is; both give the same metadata dicts
(the examples.json fields) and audio as float32 at the dataset's rate. Datasets are cached per
process, so a reproduction of several experiments indexes a TFRecord once; the index keeps each
record's offset, so a note is read where it lies, not found by scanning the file again.
"""

from __future__ import annotations

import abc
import functools
import json
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from audiostyle.clips.audio import read_audio, to_mono
from audiostyle.errors import AudioError, ConfigError

FAMILIES = (
    "bass",
    "brass",
    "flute",
    "guitar",
    "keyboard",
    "mallet",
    "organ",
    "reed",
    "string",
    "synth_lead",
    "vocal",
)
SOURCES = ("acoustic", "electronic", "synthetic")
QUALITIES = (
    "bright",
    "dark",
    "distortion",
    "fast_decay",
    "long_release",
    "multiphonic",
    "nonlinear_env",
    "percussive",
    "reverb",
    "tempo-synced",
)
SAMPLE_RATE = 16000
NOTE_STR = re.compile(r"^([a-z_]+)_(acoustic|electronic|synthetic)_(\d{3})-(\d{3})-(\d{3})$")
METADATA_INTS = ("note", "instrument", "pitch", "velocity", "sample_rate")
METADATA_STRS = ("note_str", "instrument_str", "instrument_family_str", "instrument_source_str")
MAX_RECORD = 1 << 30  # bytes: an NSynth record is about 260 kB; more means not a TFRecord


def note_str(family: str, source: str, instrument: int, pitch: int, velocity: int) -> str:
    """NSynth's name of a note: `<family>_<source>_<instrument>-<pitch>-<velocity>`."""
    return f"{family}_{source}_{instrument:03d}-{pitch:03d}-{velocity:03d}"


def is_note_str(text: str) -> bool:
    return NOTE_STR.match(text) is not None


@dataclass
class NSynthDataset(abc.ABC):
    """Metadata of every note (examples.json fields, no audio) and a way to read one note."""

    root: Path
    notes: dict[str, dict]

    @abc.abstractmethod
    def audio(self, name: str) -> tuple[np.ndarray, int]:
        """One note's samples (mono float32) and its sample rate."""

    def select(
        self,
        family: str | None = None,
        source: str | None = None,
        pitch_range: tuple[int, int] | None = None,
    ) -> list[str]:
        """note_strs of one family and/or source, with pitch in [lo, hi], sorted."""
        out = []
        for name, meta in self.notes.items():
            if family is not None and meta["instrument_family_str"] != family:
                continue
            if source is not None and meta["instrument_source_str"] != source:
                continue
            if pitch_range is not None and not pitch_range[0] <= meta["pitch"] <= pitch_range[1]:
                continue
            out.append(name)
        return sorted(out)

    def require(self, names: list[str], key: str) -> None:
        """ConfigError naming every note in `names` the dataset lacks, with a few it has."""
        missing = [n for n in names if n not in self.notes]
        if missing:
            have = sorted(self.notes)[:5]
            raise ConfigError(
                f"{key}: {self.root} has no note {', '.join(missing)} "
                f"({len(self.notes)} notes, e.g. {', '.join(have) or 'none'})"
            )


class FolderDataset(NSynthDataset):
    def audio(self, name: str) -> tuple[np.ndarray, int]:
        data, rate = read_audio(self.root / "audio" / f"{name}.wav")
        return to_mono(data), rate


@dataclass
class TFRecordDataset(NSynthDataset):
    offsets: dict[str, int] = field(default_factory=dict)  # note_str -> its record's offset

    def audio(self, name: str) -> tuple[np.ndarray, int]:
        """Read at the record's offset: NSynth's test set is about 1 GB, too much to scan
        again for every note."""
        import tensorflow as tf

        if name not in self.offsets:
            raise AudioError(f"{self.root}: no note {name}")
        with open(self.root, "rb") as f:
            f.seek(self.offsets[name])
            _, data = next(tfrecord_records(f, self.root))
        ex = tf.io.parse_single_example(data, {"audio": tf.io.VarLenFeature(tf.float32)})
        audio = tf.sparse.to_dense(ex["audio"]).numpy().astype(np.float32)
        return audio, int(self.notes[name]["sample_rate"])


def tfrecord_records(f: BinaryIO, path: Path) -> Iterator[tuple[int, bytes]]:
    """(offset, serialized example) for each record from f's position on. The TFRecord framing:
    uint64 length, its masked CRC, the data, the data's masked CRC (CRCs are not checked; a
    damaged record fails to parse)."""
    while True:
        offset = f.tell()
        head = f.read(12)
        if not head:
            return
        length = struct.unpack("<Q", head[:8])[0] if len(head) == 12 else -1
        data = f.read(length) if 0 <= length <= MAX_RECORD else b""
        if len(data) != length or len(f.read(4)) != 4:
            raise ConfigError(
                f"data.nsynth_root: {path} is not an uncompressed TFRecord, or it is truncated "
                f"(record at byte {offset})"
            )
        yield offset, data


def read_examples_json(root: Path) -> dict[str, dict]:
    path = root / "examples.json"
    try:
        notes = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"data.nsynth_root: {path} is not readable JSON ({err})") from None
    if not isinstance(notes, dict) or not all(isinstance(v, dict) for v in notes.values()):
        raise ConfigError(
            f"data.nsynth_root: {path} is not an NSynth examples.json (note_str -> fields)"
        )
    return notes


def read_tfrecord_index(path: Path) -> TFRecordDataset:
    """Every record's metadata (all fields but audio) and offset: the file is read once."""
    import tensorflow as tf

    spec = {k: tf.io.FixedLenFeature([], tf.int64) for k in METADATA_INTS}
    spec.update({k: tf.io.FixedLenFeature([], tf.string) for k in METADATA_STRS})
    spec["instrument_family"] = tf.io.FixedLenFeature([], tf.int64, default_value=-1)
    spec["instrument_source"] = tf.io.FixedLenFeature([], tf.int64, default_value=-1)
    dataset = TFRecordDataset(path, {})
    try:
        with open(path, "rb") as f:
            for offset, record in tfrecord_records(f, path):
                ex = tf.io.parse_single_example(record, spec)
                meta = {k: v.numpy() for k, v in ex.items()}
                meta = {k: v.decode() if isinstance(v, bytes) else int(v) for k, v in meta.items()}
                dataset.notes[meta["note_str"]] = meta
                dataset.offsets[meta["note_str"]] = offset
    except tf.errors.OpError as err:
        msg = str(err).splitlines()[0]
        raise ConfigError(f"data.nsynth_root: {path} is not an NSynth TFRecord ({msg})") from None
    except OSError as err:
        raise ConfigError(f"data.nsynth_root: cannot read {path} ({err.strerror})") from None
    return dataset


@functools.lru_cache(maxsize=4)
def _open(root: Path, stamp: float) -> NSynthDataset:
    if root.is_dir():
        if not (root / "examples.json").exists():
            found = sorted(p.name for p in root.glob("*.tfrecord"))
            hint = f"; give the TFRecord file itself, e.g. {root / found[0]}" if found else ""
            raise ConfigError(
                f"data.nsynth_root: {root} has no examples.json (the folder layout needs "
                f"examples.json and audio/<note_str>.wav){hint}"
            )
        return FolderDataset(root, read_examples_json(root))
    return read_tfrecord_index(root)


def open_dataset(root: str | Path | None) -> NSynthDataset:
    """The dataset at `root`: a folder with examples.json, or an NSynth .tfrecord file."""
    if not root:
        raise ConfigError(
            "nsynth: clips need data.nsynth_root=DIR (a folder with examples.json or a .tfrecord)"
        )
    path = Path(root).expanduser().resolve()
    if not path.exists():
        raise ConfigError(f"data.nsynth_root: {path} does not exist")
    stamp_of = path / "examples.json" if (path / "examples.json").exists() else path
    return _open(path, stamp_of.stat().st_mtime)

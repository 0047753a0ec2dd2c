"""The NSynth dataset in both published layouts, read by note_str.

- Folder ("json/wav"): `examples.json` (note_str -> metadata) and `audio/<note_str>.wav`.
- TFRecord: one file of tf.train.Example records (`nsynth-test.tfrecord`), features `note_str`,
  `pitch`, `velocity`, `audio` (float list, 16 kHz), `instrument_family_str`, ...

`open_dataset(root)` picks the layout from what `root` is; both give the same metadata dicts
(the examples.json fields) and audio as float32 at the dataset's rate. Datasets are cached per
process, so a reproduction of several experiments indexes a TFRecord once.
"""

from __future__ import annotations

import abc
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiostyle.audio import read_audio, to_mono
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


class TFRecordDataset(NSynthDataset):
    def audio(self, name: str) -> tuple[np.ndarray, int]:
        import tensorflow as tf

        spec = {
            "note_str": tf.io.FixedLenFeature([], tf.string),
            "audio": tf.io.VarLenFeature(tf.float32),
        }
        for record in tf.data.TFRecordDataset(str(self.root)):
            ex = tf.io.parse_single_example(record, spec)
            if ex["note_str"].numpy().decode() == name:
                audio = tf.sparse.to_dense(ex["audio"]).numpy().astype(np.float32)
                return audio, int(self.notes[name]["sample_rate"])
        raise AudioError(f"{self.root}: no note {name}")


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


def read_tfrecord_index(path: Path) -> dict[str, dict]:
    """Every record's metadata (all fields but audio); TensorFlow reads the file once."""
    import tensorflow as tf

    spec = {k: tf.io.FixedLenFeature([], tf.int64) for k in METADATA_INTS}
    spec.update({k: tf.io.FixedLenFeature([], tf.string) for k in METADATA_STRS})
    spec["instrument_family"] = tf.io.FixedLenFeature([], tf.int64, default_value=-1)
    spec["instrument_source"] = tf.io.FixedLenFeature([], tf.int64, default_value=-1)
    notes: dict[str, dict] = {}
    try:
        for record in tf.data.TFRecordDataset(str(path)):
            ex = tf.io.parse_single_example(record, spec)
            meta = {k: v.numpy() for k, v in ex.items()}
            meta = {k: v.decode() if isinstance(v, bytes) else int(v) for k, v in meta.items()}
            notes[meta["note_str"]] = meta
    except tf.errors.OpError as err:
        msg = str(err).splitlines()[0]
        raise ConfigError(f"data.nsynth_root: {path} is not an NSynth TFRecord ({msg})") from None
    return notes


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
    return TFRecordDataset(root, read_tfrecord_index(root))


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

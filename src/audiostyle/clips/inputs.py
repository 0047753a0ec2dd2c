"""A run's two clips, the one way in: spec -> source -> mono, resampled, cropped or padded to
`audio.duration`, peak-scaled (see `specs.load`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiostyle.clips import specs
from audiostyle.clips.audio import num_samples
from audiostyle.config.schema import Config, Loudness


@dataclass
class Inputs:
    content: np.ndarray
    style: np.ndarray
    paths: tuple[Path, ...]


def load_inputs(cfg: Config) -> Inputs:
    a = cfg.audio
    n = num_samples(a.duration, a.sample_rate)
    peak = a.peak if a.loudness == Loudness.peak else None
    root = cfg.data.nsynth_root
    content = specs.load(a.content, a.sample_rate, n, peak, root)
    style = specs.load(a.style, a.sample_rate, n, peak, root)
    paths = specs.input_paths(a.content, root) + specs.input_paths(a.style, root)
    return Inputs(content, style, paths)


def clip_digest(wave: np.ndarray, rate: int) -> str:
    """16 hex digits of SHA-256 over the rate and the float32 samples (MLflow keeps <= 36):
    runs and sweep studies on the same processed clip carry the same digest."""
    h = hashlib.sha256(np.int64(rate).tobytes())
    h.update(np.ascontiguousarray(wave, dtype=np.float32).tobytes())
    return h.hexdigest()[:16]


def mix_of(content: np.ndarray, style: np.ndarray) -> np.ndarray:
    """The plain mix, 0.5 (x_C + x_S): the baseline a transfer must beat, measured and judged."""
    return (0.5 * (content + style)).astype(np.float32)

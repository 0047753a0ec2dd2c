"""Clips in and out: read anything soundfile reads, mix to mono, resample, crop or pad, write.

Every problem with an input names the file and the reason (AudioError). Outputs are written
to a temporary file and renamed, so a crash never leaves half a WAV, and never over an input.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from audiostyle.errors import AudioError
from audiostyle.files import atomic_path

log = logging.getLogger(__name__)

HOP = 512  # the encoder pools over 512 samples; every clip length is a multiple of it
READ_MARGIN = 1024  # frames read past the needed length: soxr's filter reaches ~250 frames ahead
# A peak below this (-80 dBFS, three 16-bit steps) is silence or dither: scaled to audio.peak it
# would be loud noise, and there is nothing in it to style.
SILENCE = 1e-4


def read_audio(path: Path, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Samples [frames, channels] as float32 and the file's rate, or a clear AudioError.

    With `max_seconds`, only that much (plus a margin for the resampler) is read, so a clip far
    longer than the run needs costs no memory."""
    try:  # Python opens it, so a permission problem is named as such, not "System error"
        handle = open(path, "rb")  # noqa: SIM115 (closed by the with below)
    except FileNotFoundError:
        raise AudioError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AudioError(f"{path}: is a directory, not an audio file") from None
    except OSError as err:  # permission denied, also on a folder above it
        raise AudioError(f"{path}: cannot be read ({err.strerror or err})") from None
    try:
        with handle, sf.SoundFile(handle) as f:
            rate = int(f.samplerate)
            frames = -1 if max_seconds is None else int(np.ceil(max_seconds * rate)) + READ_MARGIN
            data = f.read(frames, dtype="float32", always_2d=True)
            if max_seconds is not None and f.frames > len(data):
                log.info("%s: read the first %d of %d frames", path, len(data), f.frames)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise AudioError(f"{path}: not a readable audio file ({err})") from None
    except OSError as err:
        raise AudioError(f"{path}: cannot be read ({err.strerror or err})") from None
    if data.size == 0:
        raise AudioError(f"{path}: contains no samples")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{path}: contains NaN or infinite samples")
    return data, rate


def to_mono(data: np.ndarray, name: str = "clip") -> np.ndarray:
    if data.shape[1] == 1:
        return data[:, 0]
    log.info("%s: mixed %d channels down to mono (their mean)", name, data.shape[1])
    return data.mean(axis=1, dtype=np.float64).astype(np.float32)  # float32 sums can overflow


def resample(x: np.ndarray, rate: int, target: int, name: str = "clip") -> np.ndarray:
    if rate == target:
        return x
    log.info("%s: resampled from %d Hz to %d Hz", name, rate, target)
    try:  # in float64: a float file's samples far beyond full scale overflow float32's filter
        y = soxr.resample(x.astype(np.float64), rate, target, quality="HQ")
    except (ValueError, RuntimeError) as err:
        raise AudioError(f"{name}: cannot resample from {rate} Hz to {target} Hz ({err})") from None
    with np.errstate(over="ignore"):
        return y.astype(np.float32)


def num_samples(duration: float, rate: int) -> int:
    """The clip length a duration asks for, rounded down to a whole number of hops."""
    return max(HOP, int(round(duration * rate)) // HOP * HOP)


def fit_length(x: np.ndarray, n: int, name: str) -> np.ndarray:
    if len(x) > n:
        log.info("%s: cropped from %d to %d samples", name, len(x), n)
        return x[:n]
    if len(x) < n:
        log.info("%s: zero-padded from %d to %d samples", name, len(x), n)
        return np.pad(x, (0, n - len(x)))
    return x


def read_mono(path: Path, rate: int, n: int | None) -> np.ndarray:
    """A file as mono at `rate`; with `n`, only about the first n samples' worth is read."""
    data, file_rate = read_audio(path, None if n is None else n / rate)
    return resample(to_mono(data, str(path)), file_rate, rate, str(path))


def finish_clip(x: np.ndarray, n: int | None, peak: float | None, name: str) -> np.ndarray:
    """Crop or pad to `n` samples, refuse silence, scale to `peak` (None: keep the level)."""
    if n is not None:
        x = fit_length(x, n, name)
    if not np.all(np.isfinite(x)):  # finite in the file, beyond float32 once resampled
        raise AudioError(f"{name}: its samples overflow float32 (far beyond full scale, 1.0)")
    top = float(np.max(np.abs(x))) if x.size else 0.0
    if top < SILENCE:
        raise AudioError(
            f"{name}: is silent or nearly (peak {top:.3g}, below {SILENCE:g} = -80 dBFS) "
            "in the part used"
        )
    if peak is not None:
        x = x * (peak / top)
    return np.ascontiguousarray(x, dtype=np.float32)


def refuse_inputs(path: Path, protected: tuple[Path, ...] = ()) -> None:
    """Refuse to write over an input clip (atomic_path makes the folder)."""
    resolved = path.resolve()
    if any(resolved == p.resolve() for p in protected):
        raise AudioError(f"{path}: refusing to overwrite an input file")


def write_wav(path: Path, x: np.ndarray, rate: int, protected: tuple[Path, ...] = ()) -> Path:
    """Write mono audio atomically. Over-range audio is kept as float WAV, never clipped."""
    if not np.all(np.isfinite(x)):
        raise AudioError(f"{path}: refusing to write non-finite samples")
    refuse_inputs(path, protected)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    subtype = "PCM_16" if peak <= 1.0 else "FLOAT"
    if subtype == "FLOAT":
        log.warning("%s: peak %.2f exceeds 1.0; written as float WAV, not clipped", path, peak)
    with atomic_path(path, ".wav") as tmp:
        sf.write(tmp, x, rate, subtype=subtype)
    return path

"""Cross-syntheses of x_C and x_S: what a sound designer would do instead of a transfer.

Both are issue #34's baselines and the starting points `init=world` and `init=vocoder`:
- `world_cross`: WORLD's source-filter analysis (pyworld: harvest, CheapTrick, D4C). Where x_C is
  voiced, x_C's f0 (optionally moved by whole octaves, into x_S's register) and loudness drive x_S's
  mean spectral envelope and aperiodicity; where x_C is unvoiced its own envelope and aperiodicity
  stay (the consonants' noise carries words). `content_envelope` in [0, 1] blends x_C's envelope
  back into the voiced frames (log domain): 0 is the instrument's, 1 resynthesises x_C; with
  `semitones` the melody is played on equal-tempered notes, as an instrument would play it.
- `channel_vocoder`: x_S as the carrier and x_C's mel-band envelopes as the modulator (a talk
  box): x_C's words and rhythm on x_S's sound, at x_S's pitch, so a held note drones by design.
Each is returned at x_C's length and peak level.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

FRAME_MS = 5.0  # WORLD's frame period
F0_FLOOR, F0_CEIL = 50.0, 1100.0  # harvest's search range: a low male voice to a flute's C6
NOTE_FRAMES = 9  # as_notes' median filter: 45 ms, shorter than a played note
VOCODER_FFT, VOCODER_HOP, VOCODER_BANDS = 1024, 256, 40
CARRIER_FLOOR = 1e-4  # a carrier band quieter than this share of its loudest is not boosted


@dataclass(frozen=True)
class WorldAnalysis:
    f0: np.ndarray  # Hz per frame, 0 where unvoiced
    envelope: np.ndarray  # CheapTrick's power spectral envelope, frames x (fft_size / 2 + 1)
    aperiodicity: np.ndarray  # D4C's band aperiodicity, same shape, in [0, 1]


def analyse(x: np.ndarray, rate: int) -> WorldAnalysis:
    """WORLD's analysis of x (float64 inside, as pyworld requires)."""
    import pyworld

    x64 = np.ascontiguousarray(x, dtype=np.float64)
    f0, times = pyworld.harvest(
        x64, rate, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=FRAME_MS
    )
    envelope = pyworld.cheaptrick(x64, f0, times, rate)
    aperiodicity = pyworld.d4c(x64, f0, times, rate)
    return WorldAnalysis(f0, envelope, aperiodicity)


def register_octaves(content_f0: np.ndarray, style_f0: np.ndarray) -> int:
    """The whole octaves that bring x_C's median voiced pitch nearest x_S's (0 if either has none)."""
    c, s = content_f0[content_f0 > 0], style_f0[style_f0 > 0]
    if not len(c) or not len(s):
        return 0
    return int(np.round(np.log2(np.median(s) / np.median(c))))


def world_cross(
    content: np.ndarray,
    style: np.ndarray,
    rate: int,
    content_envelope: float = 0.0,
    octaves: int | None = 0,
    semitones: bool = False,
) -> np.ndarray:
    """x_C's melody and loudness on x_S's envelope and aperiodicity (module docstring).

    octaves: whole octaves x_C's f0 moves; None chooses them from x_S's register.
    semitones: the melody played as notes, as an instrument plays it (`as_notes`)."""
    import pyworld

    with ThreadPoolExecutor(max_workers=2) as pool:  # pyworld releases the GIL: 1.8x on 2 cores
        c, s = pool.map(analyse, (content, style), (rate, rate))
    voiced = c.f0 > 0
    if octaves is None:
        octaves = register_octaves(c.f0, s.f0)
    source = s.f0 > 0 if np.any(s.f0 > 0) else np.ones_like(s.f0, dtype=bool)
    style_log = held_below_pitch(np.log(s.envelope[source] + 1e-16).mean(axis=0), s.f0, rate)
    # each voiced frame keeps x_C's power: the loudness contour, so pauses stay quiet
    gain = np.log(c.envelope.sum(axis=1)) - np.log(np.exp(style_log).sum())
    voiced_log = (1.0 - content_envelope) * (style_log + gain[:, None]) + content_envelope * np.log(
        c.envelope + 1e-16
    )
    envelope = np.where(voiced[:, None], np.exp(voiced_log), c.envelope)
    aperiodicity = np.where(voiced[:, None], s.aperiodicity[source].mean(axis=0), c.aperiodicity)
    f0 = (as_notes(c.f0) if semitones else c.f0) * 2.0**octaves
    y = pyworld.synthesize(
        np.ascontiguousarray(f0), np.ascontiguousarray(envelope), np.ascontiguousarray(aperiodicity),
        rate, FRAME_MS,
    )  # fmt: skip
    return _fit(y, content)


def as_notes(f0: np.ndarray) -> np.ndarray:
    """f0 on the equal-tempered semitones (A4 = 440 Hz), each voiced run's note sequence median-
    filtered over NOTE_FRAMES so a glide steps from note to note instead of trilling between two.
    Snapping keeps every frame within 50 cents of the voice's pitch; the filter holds a note
    through an excursion shorter than NOTE_FRAMES / 2."""
    from scipy.ndimage import median_filter

    out = np.zeros_like(f0)
    voiced = f0 > 0
    notes = np.round(12.0 * np.log2(np.where(voiced, f0, 440.0) / 440.0))
    for start, stop in _runs(voiced):
        held = median_filter(notes[start:stop], size=NOTE_FRAMES, mode="nearest")
        out[start:stop] = 440.0 * 2.0 ** (held / 12.0)
    return out


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """The [start, stop) of each run of True in flags."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(np.int8), [0]])))
    return list(zip(edges[::2], edges[1::2], strict=True))


def held_below_pitch(log_envelope: np.ndarray, f0: np.ndarray, rate: int) -> np.ndarray:
    """The envelope held at its level at x_S's median pitch below it. An instrument's envelope
    says nothing under its own fundamental (no partial lives there), and CheapTrick's falls
    away: a lower voice given it would lose its fundamental, and pyin and the ear its pitch."""
    if not np.any(f0 > 0):
        return log_envelope
    pitch_bin = int(round(np.median(f0[f0 > 0]) * 2 * (len(log_envelope) - 1) / rate))
    held = log_envelope.copy()
    held[:pitch_bin] = log_envelope[pitch_bin]
    return held


def channel_vocoder(content: np.ndarray, style: np.ndarray, rate: int) -> np.ndarray:
    """x_S's STFT, each mel band scaled to x_C's band energy frame by frame (module docstring)."""
    import librosa

    n = len(content)
    carrier = np.resize(style, n)  # x_S repeated when shorter: the carrier sounds throughout
    stft = {"n_fft": VOCODER_FFT, "hop_length": VOCODER_HOP}
    modulator_spec = librosa.stft(content.astype(np.float32), **stft)
    carrier_spec = librosa.stft(carrier.astype(np.float32), **stft)
    bands = librosa.filters.mel(sr=rate, n_fft=VOCODER_FFT, n_mels=VOCODER_BANDS, norm=None)
    modulator = bands @ np.abs(modulator_spec) ** 2
    carrier_power = bands @ np.abs(carrier_spec) ** 2
    carrier_power = np.maximum(carrier_power, CARRIER_FLOOR * carrier_power.max())
    band_gain = np.sqrt(modulator / carrier_power)
    weights = bands / np.maximum(bands.sum(axis=0, keepdims=True), 1e-12)  # each bin's bands
    y = librosa.istft(carrier_spec * (weights.T @ band_gain), length=n, **stft)
    return _fit(y, content)


def _fit(y: np.ndarray, content: np.ndarray) -> np.ndarray:
    """y cut or zero-padded to x_C's length, at x_C's peak level, float32."""
    out = np.zeros(len(content), dtype=np.float32)
    out[: min(len(content), len(y))] = y[: len(content)]
    peak = np.max(np.abs(out))
    return out * np.float32(np.max(np.abs(content)) / peak) if peak > 0 else out

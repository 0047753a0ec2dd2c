"""Pitch-invariant measures that tell a timbre transfer from a drone or an interpolation.

metrics.py's log-mel Gram distance rewards x_S's absolute pitch: the instrument's note laid over
the voice (a "drone") moves it as far toward x_S as a real transfer. These measures separate
the two axes a transfer must move along, each read at a clip's own f0 (pyin):

- harmonic profile P(x): in each loud voiced frame, the power of harmonics 1..8 at k * f0
  (the STFT power summed from (k - 1/2) f0 to (k + 1/2) f0), in dB relative to the frame's
  total harmonic power; the profile is the median over frames. Harmonics at or above 0.9 x
  Nyquist are left out of that frame.
- harmonic distance h(x, ref) = mean over k of |P_k(x) - P_k(ref)| (dB), both profiles first
  renormalised over the harmonics they share. 0 = the same timbre at any pitch and gain;
  1/k against 1/k^2 harmonic amplitudes differ by 10.4 dB, the bundled speech and flute by 5-6
  (their first 1 or 3 s). None when either clip has no loud voiced frame.
- pitch share s(x, ref): the share of x's voiced frames within 50 cents of ref's pitch, framewise
  (frames where ref is unvoiced do not count as hits); when ref is one steady note (90% of its
  voiced frames within 50 cents of its median), against that median in every frame.

`transfer_score` = h(x_G, x_S) / h(x_C, x_S) + (1 - s(x_G, x_C)) + d_C(x_G, x_C) is the sweep
objective that rewards a transfer and neither interpolation nor a drone. Its terms are the
timbre not yet moved (1: x_C's timbre, 0: x_S's), the melody lost (the share of x_G's voiced
frames off x_C's pitch: a drone or a copy of x_S scores near 1) and the pattern lost (metrics'
content distance). x_C scores 1, a copy of x_S about 2, a drone well above 1 (1.7 in
tests/test_metrics.py), and so does the plain mix wherever pyin hears the sum's common period
instead of x_C's melody; a transfer that moves the timbre at x_C's pitch scores below 1. The
denominator is floored at 1 dB (x_S with x_C's timbre leaves nothing to move); where a harmonic
distance is undefined (an unpitched x_S or x_G) the timbre term is 1, so the score then rewards
only kept melody and pattern.

pyin is the cost (about 0.5 s per second of audio on 2 cores): tracks are cached by the clip's
bytes, so x_C's, x_S's and the mix's are computed once per run and x_G's once per evaluation.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict

import numpy as np

log = logging.getLogger(__name__)

FMIN, FMAX = 50.0, 2000.0  # Hz: low voice to a high flute
FRAME, HOP = 2048, 256  # pyin and the STFT share frames (centred)
CENTS = 50.0
HARMONICS = 8
LOUD_DB = 30.0  # frames quieter than the loudest (95th percentile) by more are left out
STEADY = 0.9  # share of voiced frames near the median that makes a clip one note
MIN_REF_DB = 1.0  # floor of h(x_C, x_S) in transfer_score
# beats_mix: x_G's harmonic distance must be at most this share of both references'. A margin,
# so that x_G(0) = x_C + 1e-6 noise (the output when keep_best finds no lower loss) is no win.
NEARER = 0.95

Track = tuple[np.ndarray, np.ndarray]  # f0 per frame (Hz, NaN unvoiced), voiced flags
_tracks: OrderedDict[tuple[bytes, int], Track] = OrderedDict()


def f0_track(x: np.ndarray, rate: int) -> Track:
    """pyin f0 per frame (Hz, NaN where unvoiced) and the voiced flags; cached by content.

    A clip shorter than one frame (128 ms at 16 kHz) holds no pitch pyin can read: unvoiced."""
    if len(x) < FRAME:
        frames = 1 + len(x) // HOP
        return np.full(frames, np.nan), np.zeros(frames, dtype=bool)
    key = (hashlib.blake2b(np.ascontiguousarray(x, np.float32).tobytes()).digest(), rate)
    if key not in _tracks:
        import librosa

        f0, voiced, _ = librosa.pyin(
            x.astype(np.float32), fmin=FMIN, fmax=FMAX, sr=rate, frame_length=FRAME, hop_length=HOP
        )
        _tracks[key] = (f0, voiced.astype(bool))
        while len(_tracks) > 8:  # x_C, x_S, the mix, a few x_G
            _tracks.popitem(last=False)
    _tracks.move_to_end(key)
    return _tracks[key]


def within_cents(
    f0: np.ndarray, voiced: np.ndarray, ref_f0: np.ndarray, ref_voiced: np.ndarray
) -> float:
    """Share of the voiced frames of f0 where ref is voiced too and within 50 cents of it."""
    n = min(len(f0), len(ref_f0))
    mine = voiced[:n]
    if not mine.any():
        return 0.0
    both = mine & ref_voiced[:n]
    cents = np.full(n, np.inf)
    cents[both] = np.abs(1200.0 * np.log2(f0[:n][both] / ref_f0[:n][both]))
    return float(np.sum(cents <= CENTS) / np.sum(mine))


def steady_note(track: Track) -> float | None:
    """The median f0 if the clip is one steady note, else None."""
    f0, voiced = track
    if not voiced.any():
        return None
    median = float(np.median(f0[voiced]))
    near = np.abs(1200.0 * np.log2(f0[voiced] / median)) <= CENTS
    return median if near.mean() >= STEADY else None


def pitch_share(track: Track, ref: Track) -> float:
    """s(x, ref): x's voiced frames at ref's pitch (its single note, or framewise)."""
    note = steady_note(ref)
    if note is None:
        return within_cents(*track, *ref)
    f0, voiced = track
    return within_cents(f0, voiced, np.full(len(f0), note), np.ones(len(f0), dtype=bool))


def _harmonic_db(power: np.ndarray, f0: float, rate: int) -> np.ndarray:
    """One frame's harmonics 1..8 in dB relative to their sum; NaN at 0.9 x Nyquist and above.

    Harmonic k's power is the sum over the bins within half an f0 of k * f0: all of its energy
    even when a glide or vibrato smears it over several bins, and none of its neighbours'."""
    edges = np.round((np.arange(HARMONICS + 1) + 0.5) * f0 * FRAME / rate).astype(int)
    levels = np.full(HARMONICS, np.nan)
    for k in range(1, HARMONICS + 1):
        if k * f0 >= 0.45 * rate:
            break
        levels[k - 1] = power[edges[k - 1] : edges[k]].sum()
    total = np.nansum(levels)
    if not total > 0:  # a voiced frame with nothing at its harmonics: nothing to read
        return np.full(HARMONICS, np.nan)
    return 10.0 * np.log10(np.maximum(levels, 1e-12 * total) / total)


def harmonic_profile(x: np.ndarray, rate: int) -> np.ndarray | None:
    """P(x): median relative level (dB) of harmonics 1..8 over loud voiced frames, or None."""
    import librosa

    f0, voiced = f0_track(x, rate)
    if not voiced.any():
        return None
    power = np.abs(librosa.stft(x.astype(np.float32), n_fft=FRAME, hop_length=HOP)) ** 2
    n = min(power.shape[1], len(f0))
    frame_db = 10.0 * np.log10(power[:, :n].sum(axis=0) + 1e-20)
    loud = frame_db >= np.percentile(frame_db, 95) - LOUD_DB
    frames = np.flatnonzero(voiced[:n] & loud)
    if len(frames) == 0:
        return None
    rows = np.array([_harmonic_db(power[:, i], f0[i], rate) for i in frames])
    present = np.isfinite(rows).mean(axis=0) >= 0.5  # a harmonic in most frames
    if present.sum() < 2:
        return None
    profile = np.full(HARMONICS, np.nan)
    profile[present] = np.nanmedian(rows[:, present], axis=0)
    return profile


def _renormalised(profile: np.ndarray, keep: np.ndarray) -> np.ndarray:
    power = 10.0 ** (profile[keep] / 10.0)
    return 10.0 * np.log10(power / power.sum())


def profile_distance(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """Mean |dB| difference over the harmonics both profiles hold; None if either is None."""
    if a is None or b is None:
        return None
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 2:
        return None
    return float(np.mean(np.abs(_renormalised(a, keep) - _renormalised(b, keep))))


def harmonic_distance(x: np.ndarray, ref: np.ndarray, rate: int) -> float | None:
    """h(x, ref) in dB: how far x's harmonic balance is from ref's, each at its own pitch."""
    return profile_distance(harmonic_profile(x, rate), harmonic_profile(ref, rate))


def transfer_measures(
    generated: np.ndarray, content: np.ndarray, style: np.ndarray, rate: int
) -> dict[str, float]:
    """eval/* pitch shares and harmonic distances of x_G and the references x_C and the mix.

    A harmonic distance that is undefined (no loud voiced frame) is left out, with a log line:
    MLflow compares numbers, and a sentinel would read as a distance."""
    mix = 0.5 * (content + style)
    tracks = {"c": f0_track(content, rate), "s": f0_track(style, rate)}
    style_profile = harmonic_profile(style, rate)
    out: dict[str, float] = {}
    for prefix, timbre_key, x in (
        ("eval/", "eval/timbre/", generated),
        ("eval/ref_content/", "eval/ref_content/", content),
        ("eval/ref_mix/", "eval/ref_mix/", mix),
    ):
        track = f0_track(x, rate)
        out[f"{prefix}pitch/at_content"] = pitch_share(track, tracks["c"])
        out[f"{prefix}pitch/at_style"] = pitch_share(track, tracks["s"])
        distance = profile_distance(harmonic_profile(x, rate), style_profile)
        if distance is None:
            log.info("%sharmonic_distance left out: no loud voiced frames to read", timbre_key)
        else:
            out[f"{timbre_key}harmonic_distance"] = distance
    return out


def beats_mix(out: dict[str, float]) -> float:
    """1 if x_G keeps more of x_C's melody and is nearer x_S's timbre than the plain mix, and
    nearer than x_C too: pyin reads a mix at the sum's common period, where its harmonic
    distance can exceed x_C's (7.0 against 5.9 dB, bundled clips, 3 s) and x_C would win.
    Nearer means by at least 5% (NEARER), not by rounding."""
    melody = out["eval/pitch/at_content"] > out["eval/ref_mix/pitch/at_content"]
    h = out.get("eval/timbre/harmonic_distance")
    refs = [out.get(f"eval/{r}/harmonic_distance") for r in ("ref_mix", "ref_content")]
    return float(melody and h is not None and None not in refs and h <= NEARER * min(refs))


def transfer_score(out: dict[str, float], content_distance: float) -> float:
    """Timbre not moved + melody lost + pattern lost (module docstring); lower is better."""
    h, h_ref = (
        out.get("eval/timbre/harmonic_distance"),
        out.get("eval/ref_content/harmonic_distance"),
    )
    timbre = 1.0 if h is None or h_ref is None else h / max(h_ref, MIN_REF_DB)
    return timbre + (1.0 - out["eval/pitch/at_content"]) + content_distance

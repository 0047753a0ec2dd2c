"""Pitch-invariant measures that tell a timbre transfer from a drone or an interpolation.

metrics.py's log-mel Gram distance rewards x_S's absolute pitch: the instrument's note laid over
the voice (a "drone") moves it as far toward x_S as a real transfer. These measures separate
the two axes a transfer must move along, each read at a clip's own f0 (pyin):

- harmonic profile P(x): in each loud voiced frame, the power of harmonics 1..8 at k * f0
  (the STFT power summed from (k - 1/2) f0 to (k + 1/2) f0), in dB relative to the frame's
  total harmonic power, floored at FLOOR_DB; the profile is the median over frames. Harmonics
  at or above 0.9 x Nyquist are left out of that frame.
- harmonic distance h(x, ref) = mean over k of |P_k(x) - P_k(ref)| (dB), both profiles first
  renormalised over the harmonics they share. 0 = the same timbre at any pitch and gain;
  1/k against 1/k^2 harmonic amplitudes differ by 10.4 dB, the bundled speech and flute by 5-6
  (their first 1 or 3 s). None when either clip has no loud voiced frame.
- pitch share s(x, ref): the share of x's voiced frames within 50 cents of ref's pitch, framewise
  (frames where ref is unvoiced do not count as hits); when ref is one steady note (90% of its
  voiced frames within 50 cents of its median), against that median in every frame.
- drone d(x) in dB, when x_S is one steady note: comb_contrast(x, x_S's note) minus x_C's, how
  much more x's long-term spectrum peaks at x_S's partials k * f_S (all below 0.9 x Nyquist,
  not only 1..8) than x_C's does. Pitch shares read f0 and profiles read harmonics 1..8 of
  x's own pitch, so neither sees x_S's upper partials laid over the voice; this does. x_C
  scores 0, x_S and a drone far above (`eval/drone_db`).
- co-voiced share c(x, ref): the same hits, counted over the frames where x and x_C are both
  voiced (`eval/pitch/covoiced_at_*`). The issue's targets read these: x_G's melody where the
  voice sings, whatever x_G does in the voice's pauses.

`transfer_score` = h(x_G, x_S) / h(x_C, x_S) + (1 - s(x_G, x_C)) + d_C(x_G, x_C) + D is the
sweep objective that rewards a transfer and neither interpolation nor a drone. Its terms are the
timbre not yet moved (1: x_C's timbre, 0: x_S's), the melody lost (the share of x_G's voiced
frames off x_C's pitch: a drone or a copy of x_S scores near 1), the pattern lost (metrics'
content distance) and the drone D = d(x_G) / d(x_S) clipped to [0, 1] (x_S's partials laid
over x_C, the upper ones too; 0 where x_S is no steady note). x_C scores 1, a copy of x_S about
3, a drone well above 1 (2.4 in tests/test_metrics.py), and so does the plain mix wherever pyin hears the sum's common period
instead of x_C's melody; a transfer that moves the timbre at x_C's pitch scores below 1. The
denominator is floored at 1 dB (x_S with x_C's timbre leaves nothing to move); where a harmonic
distance is undefined (an unpitched x_S or x_G) the timbre term is 1, so the score then rewards
only kept melody and pattern.

pyin is the cost (about 0.5 s per second of audio on 2 cores): tracks are cached by the clip's
bytes, so x_C's, x_S's and the mix's are computed once per run and x_G's once per evaluation.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from audiostyle.clips.inputs import mix_of
from audiostyle.digests import arrays_cache, digest

log = logging.getLogger(__name__)

FMIN, FMAX = 50.0, 2000.0  # Hz: low voice to a high flute
FRAME, HOP = 2048, 256  # pyin and the STFT share frames (centred)
CENTS = 50.0
OCTAVES = 3  # covoiced_any_octave tries x_C's melody moved by up to this many whole octaves
HARMONICS = 8
# A harmonic's level floor, dB under its frame's harmonic total: quieter ones read as this. Below
# it a harmonic is inaudible beside the others, and a pure tone's upper harmonics would read
# window leakage and float32 noise (near -120 dB) that one 1e-4 Adam step moves by tens of dB.
FLOOR_DB = -60.0
LOUD_DB = 30.0  # frames quieter than the loudest (95th percentile) by more are left out
STEADY = 0.9  # share of voiced frames near the median that makes a clip one note
MIN_REF_DB = 1.0  # floor of h(x_C, x_S) in transfer_score
# beats_mix: x_G's harmonic distance must be at most this share of both references'. A margin,
# so that x_G(0) = x_C + 1e-6 noise (the output when keep_best finds no lower loss) is no win.
NEARER = 0.95

Track = tuple[np.ndarray, np.ndarray]  # f0 per frame (Hz, NaN unvoiced), voiced flags


_tracks = arrays_cache("f0", "voiced")


def use_disk_cache(folder: Path | None) -> None:
    """Keep x_C's and x_S's tracks in `folder` too (write_track): the bundled clips, a sweep's
    x_C and x_S, a rerun's, are tracked once, not once per process (pyin: 1.8 s per 3 s clip)."""
    _tracks.folder = None if folder is None else Path(folder)


def _key(x: np.ndarray, rate: int) -> str:
    import librosa

    return digest(x, f"pyin {rate} {FMIN} {FMAX} {FRAME} {HOP} librosa {librosa.__version__}")


def f0_track(x: np.ndarray, rate: int) -> Track:
    """pyin f0 per frame (Hz, NaN where unvoiced) and the voiced flags; cached by content.

    A clip shorter than one frame (128 ms at 16 kHz) holds no pitch pyin can read: unvoiced."""
    if len(x) < FRAME:
        frames = 1 + len(x) // HOP
        return np.full(frames, np.nan), np.zeros(frames, dtype=bool)
    return _tracks.get(_key(x, rate), lambda: _pyin(x, rate))


def write_track(x: np.ndarray, rate: int) -> None:
    """x's track, kept on disk too (use_disk_cache): tracked first unless memory or disk has it."""
    if len(x) >= FRAME:
        _tracks.get(_key(x, rate), lambda: _pyin(x, rate), keep=True)


def _pyin(x: np.ndarray, rate: int) -> Track:
    import librosa

    f0, voiced, _ = librosa.pyin(
        x.astype(np.float32), fmin=FMIN, fmax=FMAX, sr=rate, frame_length=FRAME, hop_length=HOP
    )
    return f0, voiced.astype(bool)


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
    return within_cents(*track, *_reference_pitch(track, ref))


def _reference_pitch(track: Track, ref: Track) -> tuple[np.ndarray, np.ndarray]:
    """ref's f0 and voiced flags on track's frames: its one note everywhere, or framewise."""
    note = steady_note(ref)
    n = len(track[0])
    if note is not None:
        return np.full(n, note), np.ones(n, dtype=bool)
    m = min(n, len(ref[0]))  # a shorter ref is unvoiced past its end
    ref_f0, ref_voiced = np.full(n, np.nan), np.zeros(n, dtype=bool)
    ref_f0[:m], ref_voiced[:m] = ref[0][:m], ref[1][:m]
    return ref_f0, ref_voiced


def covoiced_share(track: Track, content: Track, ref: Track) -> float:
    """c(x, ref): of the frames where x and x_C are both voiced, the share where x is within 50
    cents of ref's pitch (its note, or framewise where ref is voiced). 0 with no such frame."""
    f0, voiced = track
    n = min(len(f0), len(content[0]))
    both = voiced[:n] & content[1][:n]
    if not both.any():
        return 0.0
    ref_f0, ref_voiced = _reference_pitch((f0[:n], voiced[:n]), ref)
    hit = both & ref_voiced
    cents = np.full(n, np.inf)
    cents[hit] = np.abs(1200.0 * np.log2(f0[:n][hit] / ref_f0[hit]))
    return float(np.sum(cents <= CENTS) / np.sum(both))


def covoiced_any_octave(track: Track, content: Track) -> float:
    """c(x, x_C) with x_C's melody moved by the whole octaves (-OCTAVES..OCTAVES, one shift for
    the whole clip) that fit x best: the melody kept in another register, as a player would."""
    f0, voiced = content
    shifts = range(-OCTAVES, OCTAVES + 1)
    return max(covoiced_share(track, content, (f0 * 2.0**k, voiced)) for k in shifts)


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
    return 10.0 * np.log10(np.maximum(levels, 10.0 ** (FLOOR_DB / 10.0) * total) / total)


def power_spectrogram(x: np.ndarray) -> np.ndarray:
    """|STFT|^2 [bins, frames] on pyin's frames (librosa, centred)."""
    import librosa

    return np.abs(librosa.stft(x.astype(np.float32), n_fft=FRAME, hop_length=HOP)) ** 2


def loud_mask(frame_power: np.ndarray) -> np.ndarray:
    """The frames within LOUD_DB of the loudest (95th percentile) frame power."""
    frame_db = 10.0 * np.log10(frame_power + 1e-20)
    return frame_db >= np.percentile(frame_db, 95) - LOUD_DB


def loud_frames(x: np.ndarray) -> np.ndarray:
    """Indices of x's loud frames on pyin's frames."""
    return np.flatnonzero(loud_mask(power_spectrogram(x).sum(axis=0)))


def harmonic_profile(x: np.ndarray, rate: int) -> np.ndarray | None:
    """P(x): median relative level (dB) of harmonics 1..8 over loud voiced frames, or None."""
    f0, voiced = f0_track(x, rate)
    if not voiced.any():
        return None
    power = power_spectrogram(x)
    n = min(power.shape[1], len(f0))
    frames = np.flatnonzero(voiced[:n] & loud_mask(power[:, :n].sum(axis=0)))
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


def comb_contrast(x: np.ndarray, note_hz: float, rate: int) -> float:
    """How strongly x's long-term spectrum peaks at a note's partials k * note_hz, in dB: the
    mean over partials below 0.9 x Nyquist of the level within note_hz / 8 of each partial
    against that midway between it and the next. A clip that plays the note scores high (x_S:
    20-40 dB); one whose partials move with its own pitch, as a voice's, scores near 0."""
    spectrum = power_spectrogram(x).mean(axis=1) + 1e-20
    bin_hz = rate / FRAME
    half = max(note_hz / 8.0, 2.0 * bin_hz)
    centres = np.arange(1, int(0.45 * rate / note_hz)) * note_hz
    contrasts = []
    for centre in centres:
        peak = _band_level(spectrum, centre, half, bin_hz)
        valley = _band_level(spectrum, centre + note_hz / 2.0, half, bin_hz)
        contrasts.append(peak - valley)
    return float(np.mean(contrasts)) if contrasts else 0.0


def _band_level(spectrum: np.ndarray, centre: float, half: float, bin_hz: float) -> float:
    low, high = int(np.floor((centre - half) / bin_hz)), int(np.ceil((centre + half) / bin_hz))
    return float(10.0 * np.log10(np.mean(spectrum[max(low, 0) : high + 1])))


def harmonic_distance(x: np.ndarray, ref: np.ndarray, rate: int) -> float | None:
    """h(x, ref) in dB: how far x's harmonic balance is from ref's, each at its own pitch."""
    return profile_distance(harmonic_profile(x, rate), harmonic_profile(ref, rate))


def transfer_measures(
    generated: np.ndarray, content: np.ndarray, style: np.ndarray, rate: int
) -> dict[str, float]:
    """eval/* pitch shares and harmonic distances of x_G and the references x_C and the mix.

    A harmonic distance that is undefined (no loud voiced frame) is left out, with a log line:
    MLflow compares numbers, and a sentinel would read as a distance."""
    mix = mix_of(content, style)
    tracks = {"c": f0_track(content, rate), "s": f0_track(style, rate)}
    style_profile = harmonic_profile(style, rate)
    note = steady_note(tracks["s"])  # x_S one note: its partials' comb in x_G is a drone
    content_comb = comb_contrast(content, note, rate) if note is not None else 0.0
    out: dict[str, float] = {}
    if note is not None:
        out["eval/ref_style/drone_db"] = comb_contrast(style, note, rate) - content_comb
    for prefix, timbre_key, x in (
        ("eval/", "eval/timbre/", generated),
        ("eval/ref_content/", "eval/ref_content/", content),
        ("eval/ref_mix/", "eval/ref_mix/", mix),
    ):
        track = f0_track(x, rate)
        out[f"{prefix}pitch/at_content"] = pitch_share(track, tracks["c"])
        out[f"{prefix}pitch/at_style"] = pitch_share(track, tracks["s"])
        out[f"{prefix}pitch/covoiced_at_content"] = covoiced_share(track, tracks["c"], tracks["c"])
        out[f"{prefix}pitch/covoiced_at_style"] = covoiced_share(track, tracks["c"], tracks["s"])
        out[f"{prefix}pitch/covoiced_any_octave"] = covoiced_any_octave(track, tracks["c"])
        if note is not None:
            out[f"{prefix}drone_db"] = comb_contrast(x, note, rate) - content_comb
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


def drone_share(out: dict[str, float]) -> float:
    """d(x_G) / d(x_S) in [0, 1]: 0 for x_C's comb at x_S's partials or less, 1 for x_S's own
    (a copy, or its note laid over x_C); 0 when x_S is no steady note or has no comb to show."""
    d, d_style = out.get("eval/drone_db"), out.get("eval/ref_style/drone_db")
    if d is None or d_style is None or d_style < MIN_REF_DB:
        return 0.0
    return float(np.clip(d / d_style, 0.0, 1.0))


def transfer_score(out: dict[str, float], content_distance: float) -> float:
    """Timbre not moved + melody lost + pattern lost + drone (module docstring); lower is
    better."""
    h, h_ref = (
        out.get("eval/timbre/harmonic_distance"),
        out.get("eval/ref_content/harmonic_distance"),
    )
    timbre = 1.0 if h is None or h_ref is None else h / max(h_ref, MIN_REF_DB)
    melody_lost = 1.0 - out["eval/pitch/at_content"]
    return timbre + melody_lost + content_distance + drone_share(out)

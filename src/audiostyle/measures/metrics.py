"""Evaluation metrics that depend neither on alpha nor on the configured layers.

Every run is measured in one fixed feature space, so runs with different choices compare:
L(x) = log(1 + |mel spectrogram|) with 64 mel bands (n_fft 1024, hop 256, 0 Hz to Nyquist), a
[frames, bands] matrix. The bands span 0-8 kHz at NSynth's 16 kHz; they follow
`audio.sample_rate`, so figures compare between runs at one sample rate.

- style distance d_S(x, ref) = ||G(x) - G(ref)||_F / ||G(ref)||_F with G = L^T L / frames:
  how far x's timbre (which bands sound together, how loudly) is from ref's, blind to time.
  0 means the same; a different timbre scores near 1 or above.
- content distance d_C(x, ref) = 1 - corr(P(x), P(ref)), P = L minus each band's mean over
  time, flattened: how far x's time-varying pattern (syllables, onsets, pauses) is from ref's.
  0 means the same pattern; 1 means unrelated. Needs clips of one length.

A transfer moves d_S(x_G, x_S) below d_S(x_C, x_S) while keeping d_C(x_G, x_C) small. The plain
mix 0.5 (x_C + x_S) is the baseline it must beat on both.
The waveform SNR of x_G against x_C and against x_S tells a transfer from a copy.
`eval/dynamic_range_db` (95th - 5th percentile of 64 ms frame power, dB) shows whether pauses
stay quiet; compare it with `eval/ref_content/dynamic_range_db`. `eval/flatness` (librosa's
spectral flatness, the mean over x_C's loud frames) shows noise laid over the sound itself:
a harmonic voice scores near 0.01, white noise near 0.5; `eval/flatness_over_content` is x_G's
over x_C's (1: no noise added).
`eval/score` = d_S(x_G, x_S) / d_S(x_C, x_S) + d_C(x_G, x_C) folds both into one number for
single-objective sweeps: x_C itself scores 1, and so does, nearly, a copy of x_S (0 + d_C(x_S,
x_C), about 1 for unrelated clips: 0.93 for the bundled speech and flute); a transfer that moves
the timbre and keeps the pattern scores below both. The score cannot tell a near-copy of x_S
from a transfer: `eval/snr_vs_style_db` can (a copy shows a high SNR).
Log-mel Grams also reward x_S's absolute pitch, so neither d_S nor eval/score tells a transfer
from a drone (x_S's note over x_C). timbre.py's pitch-invariant measures can: eval/pitch/at_*,
eval/*harmonic_distance, eval/beats_mix and eval/transfer_score, the sweep objective.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import signal

from audiostyle.clips.inputs import mix_of
from audiostyle.measures import timbre

N_FFT = 1024
HOP = 256
BANDS = 64


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)


@functools.lru_cache(maxsize=8)
def mel_matrix(rate: int, n_fft: int = N_FFT, bands: int = BANDS) -> np.ndarray:
    """Triangular HTK-mel filters [n_fft // 2 + 1, bands] from 0 Hz to Nyquist."""
    freqs = np.linspace(0.0, rate / 2.0, n_fft // 2 + 1)
    edges_mel = np.linspace(0.0, _hz_to_mel(np.array(rate / 2.0)), bands + 2)
    edges = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    up = (freqs[:, None] - lower) / (centre - lower)
    down = (upper - freqs[:, None]) / (upper - centre)
    return np.maximum(0.0, np.minimum(up, down))


def log_mel(x: np.ndarray, rate: int) -> np.ndarray:
    """log(1 + |mel|) as [frames, bands]."""
    _, _, z = signal.stft(
        x, fs=rate, nperseg=N_FFT, noverlap=N_FFT - HOP, boundary=None, padded=True
    )
    return np.log1p(np.abs(z).T @ mel_matrix(rate))


def _gram(features: np.ndarray) -> np.ndarray:
    return features.T @ features / len(features)


def style_distance(x: np.ndarray, ref: np.ndarray, rate: int) -> float:
    g, g_ref = _gram(log_mel(x, rate)), _gram(log_mel(ref, rate))
    return float(np.linalg.norm(g - g_ref) / max(np.linalg.norm(g_ref), 1e-12))


def content_distance(x: np.ndarray, ref: np.ndarray, rate: int) -> float:
    p, p_ref = log_mel(x, rate), log_mel(ref, rate)
    p = (p - p.mean(axis=0)).ravel()
    p_ref = (p_ref - p_ref.mean(axis=0)).ravel()
    denom = np.linalg.norm(p) * np.linalg.norm(p_ref)
    return float(1.0 - (p @ p_ref) / denom) if denom > 0 else 1.0


def evaluate(
    generated: np.ndarray, content: np.ndarray, style: np.ndarray, initial: np.ndarray, rate: int
) -> dict[str, float]:
    """eval/* for x_G and the reference points x_C, x_G(0) and the plain mix."""
    mix = mix_of(content, style)
    out: dict[str, float] = {}
    for name, x in (
        ("", generated),
        ("ref_content/", content),
        ("ref_init/", initial),
        ("ref_mix/", mix),
    ):
        out[f"eval/{name}style_distance"] = style_distance(x, style, rate)
        out[f"eval/{name}content_distance"] = content_distance(x, content, rate)
    # One number for single-objective sweeps: style distance relative to x_C's own (1 = no
    # move toward x_S) plus content distance. Staying x_C scores 1, copying x_S d_C(x_S, x_C).
    relative_style = out["eval/style_distance"] / max(out["eval/ref_content/style_distance"], 1e-12)
    out["eval/score"] = relative_style + out["eval/content_distance"]
    out.update(timbre.transfer_measures(generated, content, style, rate))
    out["eval/beats_mix"] = timbre.beats_mix(out)
    out["eval/transfer_score"] = timbre.transfer_score(out, out["eval/content_distance"])
    out["eval/dynamic_range_db"] = dynamic_range_db(generated)
    loud = timbre.loud_frames(content)
    for name, x in (("", generated), ("ref_content/", content), ("ref_mix/", mix)):
        out[f"eval/{name}flatness"] = spectral_flatness(x, loud)
    out["eval/flatness_over_content"] = out["eval/flatness"] / max(
        out["eval/ref_content/flatness"], 1e-12
    )
    out["eval/ref_content/dynamic_range_db"] = dynamic_range_db(content)
    out["eval/snr_vs_content_db"] = snr_db(generated, content)
    out["eval/snr_vs_style_db"] = snr_db(generated, style)
    out["eval/peak"] = float(np.max(np.abs(generated)))
    return out


def dynamic_range_db(x: np.ndarray, frame: int = 1024, hop: int = 256) -> float:
    """Loud-to-quiet ratio: 95th minus 5th percentile of frame power in dB. Speech with pauses
    scores high; a drone laid over the pauses scores low."""
    starts = range(0, max(len(x) - frame, 0) + 1, hop)
    power = np.array([np.mean(x[s : s + frame] ** 2) for s in starts])
    db = 10.0 * np.log10(power + 1e-12)
    return float(np.percentile(db, 95) - np.percentile(db, 5))


def spectral_flatness(x: np.ndarray, frames: np.ndarray) -> float:
    """Mean spectral flatness (geometric over arithmetic mean of the power spectrum, librosa)
    over the given STFT frames (timbre.FRAME / timbre.HOP, centred); NaN with no frames."""
    import librosa

    flat = librosa.feature.spectral_flatness(
        y=x.astype(np.float32), n_fft=timbre.FRAME, hop_length=timbre.HOP
    )[0]
    frames = frames[frames < len(flat)]
    return float(np.mean(flat[frames])) if len(frames) else float("nan")


def snr_db(x: np.ndarray, ref: np.ndarray) -> float:
    """Waveform SNR of x against ref: high means x is (nearly) a copy of ref."""
    noise = float(np.sum((x - ref) ** 2))
    return float(10.0 * np.log10(max(float(np.sum(ref**2)), 1e-20) / max(noise, 1e-20)))

"""Test tones and chords: the paper's sine content clips, and notes stacked into a chord.

Pure numpy. A chord is the plain sum of its notes aligned at sample 0, as the paper built its
C-major chord from C, E and G notes; levels are set afterwards by the clip loader (audio.peak).
"""

from __future__ import annotations

import numpy as np

TONE_AMPLITUDE = 0.5


def sine(freq: float, n: int, rate: int) -> np.ndarray:
    """A sine at `freq` Hz, `n` samples long, amplitude 0.5."""
    t = np.arange(n) / rate
    return (TONE_AMPLITUDE * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def tone_sequence(low: float, high: float, n: int, rate: int) -> np.ndarray:
    """The paper's sine sequence: a low tone, silence, a high tone, one third of `n` each.

    Each tone fades in and out over 10 ms so its edges add no clicks (broadband energy)."""
    third = n // 3
    fade = min(int(0.01 * rate), third // 2)
    ramp = np.ones(third, dtype=np.float32)
    if fade > 0:
        ramp[:fade] = np.linspace(0.0, 1.0, fade)
        ramp[-fade:] = np.linspace(1.0, 0.0, fade)
    out = np.zeros(n, dtype=np.float32)
    out[:third] = sine(low, third, rate) * ramp
    out[n - third :] = sine(high, third, rate) * ramp
    return out


def stack(notes: list[np.ndarray]) -> np.ndarray:
    """Sum notes aligned at their first sample; shorter ones are zero-padded to the longest."""
    if not notes:
        raise ValueError("a chord needs at least one note")
    n = max(len(x) for x in notes)
    out = np.zeros(n, dtype=np.float32)
    for x in notes:
        out[: len(x)] += x
    return out

"""Audio written for listening plays as heard: its peak is at most full scale (1.0).

x_G is free to grow past 1.0 during the optimisation (1.02 and 1.08 measured on two default
runs). A float WAV keeps such samples, but an ordinary player clips them. What a user plays
(generated.wav, the snapshots) is therefore scaled down to audio.peak when, and only when, its
peak is above 1.0; it is never boosted. The gain applied is reported (output/gain_db).

The metrics (eval/*, measure/*) and the pictures use the unscaled x_G: the optimisation's result
as it is, so that the losses and the level-dependent figures match it.
"""

from __future__ import annotations

import math

import numpy as np

FULL_SCALE = 1.0


def limit_peak(x: np.ndarray, target: float) -> tuple[np.ndarray, float]:
    """x scaled to peak `target` if its peak exceeds 1.0, else x itself; and the gain in dB
    (0.0 when unchanged, negative when scaled down)."""
    if not 0 < target <= FULL_SCALE:
        raise ValueError(f"target peak must be in (0, 1], got {target}")
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak <= FULL_SCALE:
        return x, 0.0
    gain = target / peak
    scaled = np.clip(x * gain, -target, target)  # the clip only absorbs float rounding
    return scaled.astype(x.dtype, copy=False), 20.0 * math.log10(gain)

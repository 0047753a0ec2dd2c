"""Measurements that show whether a transfer happened, beyond metrics.py's log-mel distances.

- Pitch (`measure.pitch`): pyin f0 tracks of x_G, x_C and x_S; the share of x_G's voiced
  frames within 50 cents of x_S's f0 (and of x_C's), framewise. Tests the paper's claim that
  x_G matches x_S "quite closely in pitch". The tracks are timbre.py's, cached: metrics'
  default eval/pitch/at_* shares have computed them already.
- Loss curve (always): monotonic or not, the final over the initial loss, and the share of the
  total reduction reached by iteration 50 (the paper reports 99.7%).
The waveform SNR of x_G against x_S and x_C (copy or transfer) is in metrics.evaluate.
Whether x_C's words survive is a judge's question, not a measure's: judges/speech.py.
"""

from __future__ import annotations

import logging

import numpy as np

from audiostyle.config.schema import MeasureConfig
from audiostyle.measures.timbre import f0_track, within_cents

log = logging.getLogger(__name__)


def pitch_measures(
    generated: np.ndarray, content: np.ndarray, style: np.ndarray, rate: int
) -> dict[str, float]:
    tracks = {
        name: f0_track(x, rate)
        for name, x in (("generated", generated), ("content", content), ("style", style))
    }
    out = {}
    for name, (f0, voiced) in tracks.items():
        out[f"eval/pitch/{name}_voiced_share"] = float(np.mean(voiced))
        out[f"eval/pitch/{name}_median_hz"] = float(np.median(f0[voiced])) if voiced.any() else 0.0
    g = tracks["generated"]
    out["eval/pitch/within50_of_style"] = within_cents(*g, *tracks["style"])
    out["eval/pitch/within50_of_content"] = within_cents(*g, *tracks["content"])
    return out


def loss_curve_facts(total: list[float], at: int = 50) -> dict[str, float]:
    """1 if the loss never rose, L_last / L_0 (how far it fell), and (L_0 - L_at) / (L_0 - L_last):
    how soon. `total` holds the loss of every x_G(i), the output's last (the paper: 99.7% by 50
    of 100 steps)."""
    loss = np.asarray(total, dtype=float)
    out = {"eval/loss_curve/monotonic": float(np.all(np.diff(loss) <= 0))}
    if loss[0] > 0:  # a zero loss (nothing to optimise) has no ratio
        out["eval/loss_curve/final_over_initial"] = float(loss[-1] / loss[0])
    drop = loss[0] - loss[-1]
    if len(loss) > at + 1 and drop != 0:  # `at` before the output
        out[f"eval/loss_curve/share_of_drop_by_{at}"] = float((loss[0] - loss[at]) / drop)
    return out


def measure(
    cfg: MeasureConfig,
    generated: np.ndarray,
    content: np.ndarray,
    style: np.ndarray,
    rate: int,
    total_loss: list[float],
) -> dict[str, float]:
    """The measurements that apply to this run."""
    out = loss_curve_facts(total_loss)
    if cfg.pitch:
        out.update(pitch_measures(generated, content, style, rate))
    return out

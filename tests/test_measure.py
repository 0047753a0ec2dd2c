"""Measurements: pitch agreement (pyin) and loss-curve facts."""

import numpy as np
import pytest

from audiostyle.clips.synth import sine
from audiostyle.measures.extras import (
    f0_track,
    loss_curve_facts,
    pitch_measures,
    within_cents,
)


@pytest.mark.slow  # librosa's pyin compiles with numba on first use: about a minute on 2 cores
def test_pyin_recovers_a_known_tones_pitch_within_10_cents():
    for freq in (130.0, 261.63, 447.3):
        f0, voiced = f0_track(sine(freq, 16000, 16000), 16000)
        assert voiced.mean() > 0.8
        cents = 1200 * np.log2(np.nanmedian(f0[voiced]) / freq)
        assert abs(cents) < 10, (freq, cents)
    # a fifth away is not within 50 cents; the same tone is
    low, high = sine(220.0, 16000, 16000), sine(330.0, 16000, 16000)
    out = pitch_measures(low, low, high, 16000)
    assert out["eval/pitch/within50_of_content"] > 0.9
    assert out["eval/pitch/within50_of_style"] < 0.1


def test_within_cents_counts_only_x_gs_voiced_frames():
    f0 = np.array([100.0, 100.0, 100.0, np.nan])
    voiced = np.array([True, True, True, False])
    ref = np.array([102.0, 110.0, np.nan, 100.0])  # 34 cents, 165 cents, unvoiced
    ref_voiced = np.array([True, True, False, True])
    assert within_cents(f0, voiced, ref, ref_voiced) == pytest.approx(1 / 3)


def test_loss_curve_facts():
    falling = [10.0, 5.0, *np.linspace(2.0, 0.0, 99)]
    facts = loss_curve_facts(falling)
    assert facts["eval/loss_curve/monotonic"] == 1.0
    assert facts["eval/loss_curve/share_of_drop_by_50"] == pytest.approx((10 - falling[50]) / 10)
    bumpy = loss_curve_facts([3.0, 1.0, 2.0, 0.5])
    assert bumpy["eval/loss_curve/monotonic"] == 0.0
    assert "eval/loss_curve/share_of_drop_by_50" not in bumpy  # fewer than 51 iterations
    # 50 steps: x_G(50) is the output, so "by iteration 50" would read 100% whatever happened
    assert "eval/loss_curve/share_of_drop_by_50" not in loss_curve_facts(falling[:51])
    assert "eval/loss_curve/share_of_drop_by_50" in loss_curve_facts(falling[:52])

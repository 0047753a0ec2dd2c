"""The pitch-invariant measures (timbre.py) and their eval/* keys, on synthetic harmonic tones.

pyin compiles with numba on its first use in a fresh environment (about half a minute); after
that this file takes about 20 s on 2 cores.
"""

import numpy as np
import pytest

from audiostyle.clips.specs import load
from audiostyle.science.metrics import evaluate
from audiostyle.science.timbre import (
    HARMONICS,
    f0_track,
    harmonic_distance,
    harmonic_profile,
    transfer_measures,
)

RATE = 16000
N = RATE  # 1 s clips
FLAT = 1.0 / np.arange(1, HARMONICS + 1)  # 1/k: a bright, flute-like balance
STEEP = FLAT**2  # 1/k^2: a darker one


def tone(f0: float | np.ndarray, amps: np.ndarray, n: int = N) -> np.ndarray:
    """Harmonics k * f0 with amplitudes amps[k - 1], those below Nyquist (no aliases); f0 may
    vary per sample (a melody)."""
    f0 = np.broadcast_to(f0, (n,))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    x = sum(a * np.sin(k * phase) for k, a in enumerate(amps, 1) if k * f0.max() < RATE / 2)
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def melody(n: int = N) -> np.ndarray:
    """A voice-like contour: 180-260 Hz, rising and falling twice a second."""
    return 220.0 + 40.0 * np.sin(2 * np.pi * 2.0 * np.arange(n) / RATE)


def expected_profile(amps: np.ndarray) -> np.ndarray:
    power = amps**2
    return 10 * np.log10(power / power.sum())


def test_pyin_track_of_a_harmonic_tone_is_its_f0_and_is_cached():
    x = tone(261.63, FLAT)
    f0, voiced = f0_track(x, RATE)
    assert voiced.mean() > 0.8
    assert abs(1200 * np.log2(np.median(f0[voiced]) / 261.63)) < 10
    assert f0_track(x.copy(), RATE)[0] is f0  # same samples: pyin is not run again


def test_profile_reads_the_synthesised_harmonic_balance():
    for amps in (FLAT, STEEP):
        profile = harmonic_profile(tone(220.0, amps), RATE)
        assert np.max(np.abs(profile - expected_profile(amps))) < 0.1, profile


def test_distance_to_itself_is_zero_and_blind_to_gain_and_a_time_shift():
    x = tone(melody(), STEEP)
    assert harmonic_distance(x, x, RATE) == 0.0
    assert harmonic_distance(0.05 * x, x, RATE) < 0.05
    shifted = np.concatenate([np.zeros(37, np.float32), x[:-37]])
    assert harmonic_distance(shifted, x, RATE) < 0.05


def test_distance_is_pitch_invariant_and_tells_timbres_apart():
    same_timbre = harmonic_distance(tone(220.0, FLAT), tone(330.0, FLAT), RATE)
    other_timbre = harmonic_distance(tone(220.0, FLAT), tone(220.0, STEEP), RATE)
    assert same_timbre < 0.1
    # 1/k against 1/k^2: 10.4 dB on average over harmonics 1..8, as synthesised
    analytic = np.mean(np.abs(expected_profile(FLAT) - expected_profile(STEEP)))
    assert other_timbre == pytest.approx(analytic, abs=0.1)
    # at 1.5 kHz only harmonics 1-4 lie below 0.9 x Nyquist: compared over those, still ~0
    assert harmonic_distance(tone(1500.0, FLAT), tone(300.0, FLAT), RATE) < 0.1


def test_a_clip_without_voiced_frames_has_no_distance_and_no_key(caplog):
    silence = np.zeros(N, np.float32)
    assert harmonic_profile(silence, RATE) is None
    assert harmonic_profile(tone(220.0, FLAT, n=1024), RATE) is None  # shorter than a frame
    with caplog.at_level("INFO"):
        out = transfer_measures(silence, tone(melody(), STEEP), tone(392.0, FLAT), RATE)
    assert "eval/timbre/harmonic_distance" not in out
    assert "harmonic_distance left out" in caplog.text
    assert out["eval/pitch/at_content"] == 0.0
    assert np.isfinite(list(out.values())).all()


def test_a_transfer_beats_the_mix_and_a_drone_does_not():
    """x_C a voice-like melody (1/k^2), x_S a steady 1/k note at G4. The transfer plays x_S's
    timbre along x_C's melody; the drone lays x_S's note over x_C, louder (pyin hears the sum's
    common period, mostly G3 or C3, neither x_C's pitch nor x_S's); the copy is x_S."""
    content, style = tone(melody(), STEEP), tone(392.0, FLAT)
    transfer = tone(melody(), FLAT)
    drone = content + 2.0 * style
    got = {
        name: evaluate(x, content, style, content, RATE)
        for name, x in (("transfer", transfer), ("drone", drone), ("copy", style))
    }
    t, d, c = got["transfer"], got["drone"], got["copy"]
    assert t["eval/pitch/at_content"] > 0.8 > 0.3 > d["eval/pitch/at_content"]
    assert c["eval/pitch/at_style"] > 0.9 > 0.2 > t["eval/pitch/at_style"]
    assert t["eval/timbre/harmonic_distance"] < 0.1 < 5.0 < t["eval/ref_content/harmonic_distance"]
    assert t["eval/beats_mix"] == 1.0 and d["eval/beats_mix"] == 0.0
    assert t["eval/transfer_score"] < 1.0 < 1.5 < d["eval/transfer_score"]
    assert c["eval/transfer_score"] > 1.5 and c["eval/beats_mix"] == 0.0
    assert t["eval/ref_content/pitch/at_content"] == 1.0


@pytest.mark.parametrize("gain", [0.2, 1.0])
def test_x_c_itself_scores_one(gain):
    content, style = tone(melody(), STEEP), tone(392.0, FLAT)
    out = evaluate(gain * content, content, style, content, RATE)
    assert out["eval/transfer_score"] == pytest.approx(1.0, abs=0.05)
    assert out["eval/beats_mix"] == 0.0  # keeping the melody is not enough


def test_x_c_with_the_init_noise_does_not_beat_the_mix():
    """x_G(0) = x_C + U[-1e-6, 1e-6] is a run's output when no step lowers the loss. On the
    bundled clips (3 s) the mix is farther from x_S's timbre than x_C, so only x_C bounds it, and
    the noise moves the harmonic distance by rounding alone (5.923801 against 5.923823 dB):
    that must not count as nearer."""
    n = 16000 * 3 // 512 * 512
    content = load("example:speech", RATE, n, 0.9, None)
    style = load("example:flute", RATE, n, 0.9, None)
    noise = np.random.default_rng(0).uniform(-1e-6, 1e-6, n).astype(np.float32)
    out = evaluate(content + noise, content, style, content, RATE)
    h, h_c = out["eval/timbre/harmonic_distance"], out["eval/ref_content/harmonic_distance"]
    assert out["eval/ref_mix/harmonic_distance"] > h_c  # so x_C is the bound that matters
    assert h == pytest.approx(h_c, rel=1e-4)
    assert out["eval/beats_mix"] == 0.0

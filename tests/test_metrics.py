"""The pitch-invariant measures (timbre.py) and their eval/* keys, on synthetic harmonic tones.

pyin compiles with numba on its first use in a fresh environment (about half a minute); after
that this file takes about 20 s on 2 cores.
"""

import numpy as np
import pytest

from audiostyle.clips.specs import load
from audiostyle.measures.metrics import evaluate
from audiostyle.measures.timbre import (
    FLOOR_DB,
    HARMONICS,
    covoiced_any_octave,
    covoiced_share,
    f0_track,
    harmonic_distance,
    harmonic_profile,
    pitch_share,
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
    assert harmonic_distance(x, x, RATE) == pytest.approx(0.0, abs=1e-6)
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


def test_a_pure_tone_reads_the_floor_above_its_fundamental_at_any_pitch_and_noise():
    """Harmonics 2..8 of a sine are window leakage and noise; they read FLOOR_DB, so two sines
    (the tone:F clips), or one with x_G(0)'s 1e-6 noise, share one profile."""
    t = np.arange(N) / RATE
    sine = (0.5 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)
    profile = harmonic_profile(sine, RATE)
    assert profile[0] == pytest.approx(0.0, abs=1e-3)
    np.testing.assert_allclose(profile[1:], FLOOR_DB, atol=1e-3)
    noisy = sine + 1e-6 * np.random.default_rng(0).standard_normal(N).astype(np.float32)
    higher = (0.3 * np.sin(2 * np.pi * 660.0 * t)).astype(np.float32)
    assert harmonic_distance(noisy, higher, RATE) < 0.01


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


def test_covoiced_shares_count_only_where_the_voice_sings():
    """x_C sings its melody for the first half and pauses; x_G follows it there, then holds
    x_S's note through x_C's pause. Over x_G's voiced frames half are at x_C's pitch; over the
    co-voiced frames (both voiced: the first half) all are, and none at x_S's. x_G at x_S's
    note while x_C sings scores the reverse."""
    half = N // 2
    voice = tone(melody(), STEEP)
    content = np.concatenate([voice[:half], np.zeros(N - half, np.float32)])
    style = tone(392.0, FLAT)
    follows = np.concatenate([voice[:half], style[half:]])
    drones = np.concatenate([style[:half], voice[half:]])
    tracks = {name: f0_track(x, RATE) for name, x in (("c", content), ("s", style))}
    f, d = f0_track(follows, RATE), f0_track(drones, RATE)
    assert 0.35 < pitch_share(f, tracks["c"]) < 0.65  # x_G's second half counts as a miss
    assert covoiced_share(f, tracks["c"], tracks["c"]) > 0.9
    assert covoiced_share(f, tracks["c"], tracks["s"]) < 0.1
    assert covoiced_share(d, tracks["c"], tracks["c"]) < 0.1
    assert covoiced_share(d, tracks["c"], tracks["s"]) > 0.9
    silence = f0_track(np.zeros(N, np.float32), RATE)
    assert covoiced_share(silence, tracks["c"], tracks["c"]) == 0.0  # nothing co-voiced


def test_the_melody_an_octave_up_counts_for_any_octave_not_at_x_cs_pitch():
    """x_G plays x_C's melody one octave up for the whole clip: at x_C's pitch it scores 0, for
    any octave 1; an octave and a fifth up (x 3) is no whole octave, and a held note no melody."""
    content = f0_track(tone(melody(), STEEP), RATE)
    up = f0_track(tone(2.0 * melody(), STEEP), RATE)
    assert covoiced_share(up, content, content) < 0.1
    assert covoiced_any_octave(up, content) > 0.9
    assert covoiced_any_octave(content, content) > 0.9  # no shift is a whole-octave shift
    assert covoiced_any_octave(f0_track(tone(3.0 * melody(), STEEP), RATE), content) < 0.2
    assert covoiced_any_octave(f0_track(tone(392.0, FLAT), RATE), content) < 0.3


def test_flatness_is_numpys_geometric_over_arithmetic_mean_on_x_cs_loud_frames():
    """eval/flatness against a numpy reference on x_C's loud frames; a harmonic tone is far
    from flat, white noise near exp(-Euler's gamma) = 0.56; noise over x_C raises the ratio."""
    import librosa

    from audiostyle.measures.metrics import spectral_flatness
    from audiostyle.measures.timbre import FRAME, HOP, loud_frames

    content = np.concatenate([tone(melody(), STEEP)[: N // 2], np.zeros(N // 2, np.float32)])
    noise = (0.1 * np.random.default_rng(0).normal(size=N)).astype(np.float32)
    loud = loud_frames(content)
    assert 0 < len(loud) < 0.7 * (1 + N // HOP)  # the pause's frames are left out
    for x in (content, noise, content + noise):
        power = np.abs(librosa.stft(x, n_fft=FRAME, hop_length=HOP)) ** 2
        power = np.maximum(power[:, loud], 1e-10)
        reference = np.mean(np.exp(np.mean(np.log(power), axis=0)) / np.mean(power, axis=0))
        assert spectral_flatness(x, loud) == pytest.approx(reference, rel=1e-3)
    assert spectral_flatness(content, loud) < 0.01
    assert spectral_flatness(noise, loud) == pytest.approx(np.exp(-np.euler_gamma), abs=0.05)
    style = tone(392.0, FLAT)
    clean = evaluate(content, content, style, content, RATE)
    noisy = evaluate(content + 0.1 * noise, content, style, content, RATE)
    assert clean["eval/flatness_over_content"] == pytest.approx(1.0)
    assert noisy["eval/flatness_over_content"] > 1.5


def test_the_drone_measure_hears_x_ss_upper_partials_over_the_voice():
    """x_S's partials 6..20 laid quietly over a transfer, above the eight harmonics that the
    profile reads at x_C's pitch and far below what moves pyin: pitch shares and harmonic
    distance do not change, eval/drone_db and transfer_score do. x_C scores 0, x_S's copy 1."""
    content, style = tone(melody(), STEEP), tone(392.0, FLAT)
    t = np.arange(N) / RATE
    upper = sum(np.sin(2 * np.pi * 392.0 * k * t) for k in range(6, 21)).astype(np.float32)
    transfer = tone(melody(), FLAT)
    droned = transfer + 0.01 * upper / np.max(np.abs(upper))
    got = {
        name: evaluate(x, content, style, content, RATE)
        for name, x in (("transfer", transfer), ("droned", droned), ("x_C", content))
    }
    t_, d, c = got["transfer"], got["droned"], got["x_C"]
    assert c["eval/drone_db"] == pytest.approx(0.0, abs=1e-6)  # x_C's comb less x_C's
    assert c["eval/ref_style/drone_db"] > 15.0
    assert t_["eval/drone_db"] < 1.0 < 5.0 < d["eval/drone_db"]
    for key in ("eval/pitch/covoiced_at_content", "eval/pitch/covoiced_at_style"):
        assert d[key] == pytest.approx(t_[key], abs=0.05), key
    h_t, h_d = t_["eval/timbre/harmonic_distance"], d["eval/timbre/harmonic_distance"]
    assert h_d == pytest.approx(h_t, abs=0.5)
    assert d["eval/transfer_score"] > t_["eval/transfer_score"] + 0.2
    copy = evaluate(style, content, style, content, RATE)
    assert copy["eval/drone_db"] == pytest.approx(copy["eval/ref_style/drone_db"])


def test_a_track_kept_on_disk_serves_another_process_without_pyin(tmp_path, monkeypatch):
    """Issue #31: x_C's and x_S's tracks are kept by digest, so a later run skips pyin."""
    from audiostyle.measures import timbre

    x = tone(233.08, FLAT)
    monkeypatch.setattr(timbre._tracks, "folder", None)
    timbre.use_disk_cache(tmp_path)
    timbre.write_track(x, RATE)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    tracked = timbre.f0_track(x, RATE)

    def no_pyin(*args):
        raise AssertionError("pyin ran although the track was on disk")

    monkeypatch.setattr(timbre._tracks, "memory", type(timbre._tracks.memory)())  # a new process
    monkeypatch.setattr(timbre, "_pyin", no_pyin)
    f0, voiced = timbre.f0_track(x, RATE)
    # copied through the file, not computed again: equal to the bit is the point
    np.testing.assert_array_equal(f0, tracked[0], err_msg="the file holds the track as computed")
    np.testing.assert_array_equal(voiced, tracked[1])
    with pytest.raises(AssertionError, match="pyin ran"):  # another clip is tracked
        timbre.f0_track(x * 0.5, RATE)

"""The noise term: its flatness against librosa's, its one-sidedness, its gradient, its place in
the objective (whole and chunked) and on the command line."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import tensorflow as tf

from audiostyle.losses.harmonic import stft_power
from audiostyle.losses.noise import DEFAULT_FLOOR_DB, NoiseLoss, log_flatness
from audiostyle.measures import timbre

from conftest import SPECTRAL, plain_config

RATE = 16000


def voice(f0: float = 180.0, noise: float = 0.0, seconds: float = 1.0) -> np.ndarray:
    """Harmonics of f0 (1/k) with a swell, plus white noise of the given amplitude (seeded)."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 30) if k * f0 < RATE / 2)
    x = 0.4 * x / np.max(np.abs(x)) * np.sin(np.pi * t / seconds)
    return (x + noise * np.random.default_rng(0).standard_normal(len(t))).astype(np.float32)


def term_at(content: np.ndarray, wave: np.ndarray, floor_db: float = DEFAULT_FLOOR_DB) -> float:
    return float(NoiseLoss(content, floor_db)(tf.constant(wave[None, :])))


def test_flatness_matches_librosa_frame_by_frame():
    x = voice(noise=0.003)
    ours = np.exp(log_flatness(stft_power(tf.constant(x[None]))[0]).numpy())
    ref = librosa.feature.spectral_flatness(y=x, n_fft=timbre.FRAME, hop_length=timbre.HOP)[0]
    assert ours.shape == ref.shape and np.ptp(ref) > 1e-4  # frames that differ
    np.testing.assert_allclose(ours, ref, rtol=1e-3)


def test_zero_at_x_c_and_for_a_cleaner_x_g_and_growing_with_added_noise():
    noisy = voice(noise=0.01)
    assert term_at(noisy, noisy) == pytest.approx(0.0, abs=1e-9)  # x_C's flatness, twice
    assert term_at(noisy, voice()) == 0.0, "cleaner than x_C: clamped to 0 (one-sided)"
    clean = voice()
    levels = [term_at(clean, voice(noise=a)) for a in (0.001, 0.01, 0.1)]
    assert 0 < levels[0] < levels[1] < levels[2]


def test_a_gradient_step_takes_noise_out():
    clean = voice()
    noisy = tf.Variable(voice(noise=0.01)[None])
    term = NoiseLoss(clean)
    with tf.GradientTape() as tape:
        before = term(noisy)
    grad = tape.gradient(before, noisy)
    assert np.all(np.isfinite(grad.numpy()))
    after = term(noisy - 1e-4 * grad / tf.reduce_max(tf.abs(grad)))
    assert float(after) < float(before)


def test_term_counts_in_the_spectral_objective_and_chunks_match_it():
    from audiostyle.losses.chunked import ChunkedObjective
    from audiostyle.networks.encoder import build_network
    from audiostyle.optimisation.transfer import build_objective

    weights = {"loss.noise_weight": 2.0, "loss.harmonic_weight": 0.5}
    cfg = plain_config(SPECTRAL, {**weights, "encoder.spectral.filters": 64})
    content, style = voice(), voice(f0=300.0)
    objective = build_objective(cfg, build_network(cfg))
    objective.set_targets(tf.constant(content[None]), tf.constant(style[None]))
    x = tf.constant(voice(noise=0.01)[None])  # neither clip, and noisier than x_C
    with tf.GradientTape() as tape:
        tape.watch(x)
        whole = objective(x)
    grad = tape.gradient(whole.total, x).numpy()
    assert float(whole.noise) > 0.1
    expected = (
        float(whole.style)
        + cfg.alpha * float(whole.content)
        + cfg.loss.energy_weight * float(whole.energy)
        + 0.5 * float(whole.harmonic)
        + 2.0 * float(whole.noise)
    )
    assert float(whole.total) == pytest.approx(expected, rel=1e-5)
    chunked = ChunkedObjective(build_objective(cfg, objective.network), 4096)
    chunked.set_targets(tf.constant(content[None]), tf.constant(style[None]))
    parts, part_grad = chunked(x)
    for name in ("total", "noise", "harmonic", "style"):
        assert float(getattr(parts, name)) == pytest.approx(float(getattr(whole, name)), rel=1e-4)
    np.testing.assert_allclose(part_grad.numpy(), grad, atol=1e-4 * np.abs(grad).max())


def test_negative_weight_is_refused(compose_config):
    from audiostyle.config.validation import validate
    from audiostyle.errors import ConfigError

    with pytest.raises(ConfigError, match="noise_weight"):
        validate(compose_config("loss.noise_weight=-0.5"))


def test_a_run_logs_the_term_and_it_stays_zero_when_off():
    from audiostyle.networks.encoder import build_network
    from audiostyle.optimisation.transfer import run_transfer

    content, style = voice(), voice(f0=300.0)
    plain = {"encoder.spectral.filters": 64, "init.source": "content", "init.scale": 0.0}  # x_C
    on = plain_config(SPECTRAL, {"loss.noise_weight": 1.0, **plain})
    off = plain_config(SPECTRAL, plain, {"loss.noise_weight": 0.0})
    result = run_transfer(on, build_network(on), content, style)
    assert result.history["noise"][0] == pytest.approx(0.0, abs=1e-9)  # no excess over x_C yet
    assert all(np.isfinite(result.history["noise"]))
    assert run_transfer(off, build_network(off), content, style).history["noise"] == [0.0] * 3


def test_the_floor_ignores_noise_far_below_x_c_and_not_noise_above_it():
    # A tone as clean as a synthetic glide, and noise some 100 dB under its peak bin, as Adam's
    # first update lays over it: read with the floor at 80 dB, it is no noise; at 140 dB it is.
    clean = voice()
    faint = voice(noise=1e-5)
    assert term_at(clean, faint) < 1e-4  # the swell's quieter frames: a trace at most
    assert term_at(clean, faint, floor_db=140.0) > 1.0
    assert term_at(clean, voice(noise=0.01)) > 0.1  # 40 dB under the peak: above the floor


def test_the_floor_is_librosa_flatness_of_the_floored_spectrum():
    x = voice(noise=1e-5)
    power = stft_power(tf.constant(x[None]))[0].numpy()
    floor = power.max(axis=1, keepdims=True) * 1e-6  # 60 dB under each frame's peak bin
    ours = np.exp(log_flatness(tf.constant(power), tf.constant(floor)).numpy())
    ref = librosa.feature.spectral_flatness(S=np.maximum(power, floor).T, power=1.0)[0]
    np.testing.assert_allclose(ours, ref, rtol=1e-3)


def test_a_non_positive_floor_is_refused(compose_config):
    from audiostyle.config.validation import validate
    from audiostyle.errors import ConfigError

    with pytest.raises(ConfigError, match="noise_floor_db"):
        validate(compose_config("loss.noise_floor_db=0"))

"""optim.domain=stft_gain: x_G as log-gains on x_C's STFT. Zero gains are x_C; a gain moves
the balance of x_C's partials, never their frequencies; both optimisers drive it."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from audiostyle.config.schema import Domain
from audiostyle.errors import ConfigError
from audiostyle.measures.timbre import f0_track, harmonic_distance
from audiostyle.networks.encoder import build_network
from audiostyle.optimisation.domains import GAIN_FFT, GAIN_HOP, Parametrisation
from audiostyle.optimisation.transfer import run_transfer

from conftest import SPECTRAL, plain_config

RATE = 16000


def partials(f0: float, power: float, n: int = RATE) -> np.ndarray:
    t = np.arange(n) / RATE
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k**power for k in range(1, 9))
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


@pytest.mark.parametrize("samples", [1000, 16000, 16001])
def test_zero_gains_are_x_c_to_float32_precision(samples):
    x = (0.3 * np.random.default_rng(samples).normal(size=samples)).astype(np.float32)
    param = Parametrisation(Domain.stft_gain, x)
    var = param.initial(x)
    assert var.shape == (1, -(-(samples + 2 * GAIN_FFT) // GAIN_HOP), GAIN_FFT // 2 + 1)
    assert not np.any(var.numpy())
    np.testing.assert_allclose(param.waveform(var)[0].numpy(), x, atol=2e-6)


def test_a_gain_reshapes_partials_without_moving_them():
    """Gains that fall 12 dB an octave above 400 Hz turn x_C's 1/k balance toward 1/k^2: its
    pitch stays 220 Hz, its harmonic profile moves toward the darker tone's."""
    content = partials(220.0, 1.0)
    param = Parametrisation(Domain.stft_gain, content)
    freqs = np.fft.rfftfreq(GAIN_FFT, 1 / RATE)
    tilt = -np.log(2.0**2) * np.log2(np.maximum(freqs, 400.0) / 400.0)  # nepers: 1/f^2 in power
    var = tf.constant(np.broadcast_to(tilt, param.initial(content).shape), tf.float32)
    darker = param.waveform(var)[0].numpy()
    f0, voiced = f0_track(darker, RATE)
    assert voiced.mean() > 0.8 and np.all(np.abs(1200 * np.log2(f0[voiced] / 220.0)) < 50)
    target = partials(220.0, 2.0)
    assert harmonic_distance(darker, target, RATE) < 0.5 * harmonic_distance(content, target, RATE)


@pytest.mark.parametrize("method", ["adam", "lbfgs"])
def test_both_optimisers_move_the_gains_and_keep_the_pitch(method):
    settings = {"optim.domain": "stft_gain", "optim.method": method, "optim.steps": 8}
    settings.update({"optim.lr": 0.03, "audio.duration": 0.5, "encoder.spectral.filters": 256})
    cfg = plain_config(SPECTRAL, settings, {"loss.harmonic_weight": 0.03})
    content, style = partials(220.0, 1.0, 8192), partials(330.0, 2.0, 8192)
    result = run_transfer(cfg, build_network(cfg), content, style)
    totals = result.history["total"]
    assert len(totals) == 9 and totals[result.output_step] < totals[0]
    assert np.max(np.abs(result.output - content)) > 1e-3  # it moved
    f0, voiced = f0_track(result.output, RATE)
    assert np.all(np.abs(1200 * np.log2(f0[voiced] / 220.0)) < 50)


def test_stft_gain_needs_x_c_as_the_start(compose_config):
    from audiostyle.config.validation import validate

    with pytest.raises(ConfigError, match="optim.domain=stft_gain .* init.source=style"):
        validate(compose_config("optim.domain=stft_gain", "init=style"))
    validate(compose_config("optim.domain=stft_gain", "init=content_noise"))
    with pytest.raises(ConfigError, match="init.source=world"):  # the default run's x_G(0)
        validate(compose_config("optim.domain=stft_gain"))

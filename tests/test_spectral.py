"""The spectral network: STFT front end and features against numpy, gradients, transfer."""

import numpy as np
import pytest
import tensorflow as tf

from audiostyle.config import SpectralConfig, validate
from audiostyle.errors import ConfigError
from audiostyle.metrics import style_distance
from audiostyle.spectral import SpectralNetwork
from audiostyle.transfer import run_transfer

SMALL = SpectralConfig(n_fft=64, hop=16, filters=8, width=3)


def numpy_spectrum(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    frames = -(-len(x) // hop)  # pad_end: ceil(len / hop) frames
    padded = np.concatenate([x, np.zeros(frames * hop + n_fft - len(x))])
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    spec = np.stack(
        [np.fft.rfft(padded[i * hop : i * hop + n_fft] * window) for i in range(frames)]
    )
    return np.log1p(np.abs(spec))


def test_spectrum_matches_numpy_fft():
    x = np.random.default_rng(0).normal(size=300).astype(np.float32) * 0.3
    net = SpectralNetwork(SMALL, seed=0)
    ours = net.spectrum(tf.constant(x[None])).numpy()[0]
    want = numpy_spectrum(x.astype(np.float64), 64, 16)
    assert ours.shape == want.shape == (19, 33)
    np.testing.assert_allclose(ours, want, atol=1e-4)


def test_conv_features_match_numpy():
    x = np.random.default_rng(1).normal(size=256).astype(np.float32) * 0.3
    net = SpectralNetwork(SMALL, seed=3)
    feats = net.features(tf.constant(x[None]), ["spectrum", "conv"])
    spec = numpy_spectrum(x.astype(np.float64), 64, 16)
    kernel = net.kernel.numpy().astype(np.float64)  # [width, bins, filters]
    padded = np.pad(spec, ((1, 1), (0, 0)))
    want = np.maximum(sum(padded[j : j + len(spec)] @ kernel[j] for j in range(3)), 0.0)
    assert feats["conv"].shape == (1, 16, 8)
    np.testing.assert_allclose(feats["conv"].numpy()[0], want, atol=1e-4)


def test_kernel_is_seeded_he_normal():
    net = SpectralNetwork(SpectralConfig(n_fft=1024, hop=256, filters=64, width=11), seed=0)
    std = net.kernel.numpy().std()
    assert std == pytest.approx(np.sqrt(2 / (11 * 513)), rel=0.05)
    again = SpectralNetwork(SpectralConfig(n_fft=1024, hop=256, filters=64, width=11), seed=0)
    np.testing.assert_array_equal(net.kernel.numpy(), again.kernel.numpy())


def test_gradient_with_respect_to_the_waveform_is_finite():
    x = tf.Variable(np.random.default_rng(2).normal(size=(1, 512)).astype(np.float32) * 0.1)
    net = SpectralNetwork(SMALL, seed=0)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(net.features(x, ["conv"])["conv"])
    grad = tape.gradient(loss, x).numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0


def test_layer_names_are_checked_against_the_network(compose_config):
    validate(compose_config("experiment=spectral"))
    with pytest.raises(
        ConfigError,
        match=r"unknown layer 'A_1' for encoder.network=spectral; valid layers are spectrum, conv",
    ):
        validate(compose_config("experiment=spectral", "style_layers=relu_first"))
    with pytest.raises(
        ConfigError, match=r"unknown layer 'conv' for encoder.network=nsynth; valid layers are A_1"
    ):
        validate(compose_config("experiment=nsynth", "content_layer=spectral"))
    for layers in ("[spectrum]", "[conv]", "[spectrum,conv]"):
        validate(
            compose_config(
                "experiment=spectral",
                f"style_layers.layers={layers}",
                "content_layer.layer=spectrum",
            )
        )


def test_short_transfer_lowers_the_loss_and_moves_toward_the_style(compose_config):
    from audiostyle.encoder import build_network
    from audiostyle.runner import load_inputs

    cfg = compose_config(
        "experiment=spectral",
        "audio.duration=1.0",
        "optim.steps=80",
        "snapshots=[]",
        "encoder.spectral.filters=512",
    )
    inputs = load_inputs(cfg)
    result = run_transfer(cfg, build_network(cfg), inputs.content, inputs.style)
    total = result.history["total"]
    assert total[-1] < 0.8 * total[0]
    before = style_distance(inputs.content, inputs.style, 16000)
    after = style_distance(result.output, inputs.style, 16000)
    assert after < 0.95 * before  # measured: 0.978 -> 0.923 after 80 steps

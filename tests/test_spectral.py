"""The spectral network: STFT front end and features against numpy, gradients, transfer."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from audiostyle.config.schema import ContentLayerConfig, SpectralConfig
from audiostyle.config.validation import validate
from audiostyle.errors import ConfigError
from audiostyle.measures.metrics import style_distance
from audiostyle.measures.timbre import harmonic_distance
from audiostyle.networks.spectral import SpectralNetwork
from audiostyle.optimisation.transfer import run_transfer

from conftest import SPECTRAL, plain_config

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


@pytest.mark.parametrize("width", [3, 4, 11])  # even widths pad one more frame on the right
def test_conv_features_match_numpy(width):
    x = np.random.default_rng(1).normal(size=256).astype(np.float32) * 0.3
    net = SpectralNetwork(dataclasses.replace(SMALL, width=width), seed=3)
    feats = net.features(tf.constant(x[None]), ["spectrum", "conv"])
    spec = numpy_spectrum(x.astype(np.float64), 64, 16)
    kernel = net.kernel.numpy().astype(np.float64)  # [width, bins, filters]
    left = (width - 1) // 2
    padded = np.pad(spec, ((left, width - 1 - left), (0, 0)))
    want = np.maximum(sum(padded[j : j + len(spec)] @ kernel[j] for j in range(width)), 0.0)
    assert feats["conv"].shape == (1, 16, 8)
    # TensorFlow's own "SAME" convolution agrees too
    same = tf.nn.convolution(feats["spectrum"], net.kernel, padding="SAME")
    np.testing.assert_allclose(feats["conv"].numpy()[0], np.maximum(same.numpy()[0], 0), atol=1e-5)
    np.testing.assert_allclose(feats["conv"].numpy()[0], want, atol=1e-4)


def test_kernel_is_seeded_he_normal():
    net = SpectralNetwork(SpectralConfig(n_fft=1024, hop=256, filters=64, width=11), seed=0)
    std = net.kernel.numpy().std()
    assert std == pytest.approx(np.sqrt(2 / (11 * 513)), rel=0.05)
    again = SpectralNetwork(SpectralConfig(n_fft=1024, hop=256, filters=64, width=11), seed=0)
    np.testing.assert_array_equal(net.kernel.numpy(), again.kernel.numpy(), err_msg="seeded draws")


def test_gradient_with_respect_to_the_waveform_is_finite():
    x = tf.Variable(np.random.default_rng(2).normal(size=(1, 512)).astype(np.float32) * 0.1)
    net = SpectralNetwork(SMALL, seed=0)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(net.features(x, ["conv"])["conv"])
    grad = tape.gradient(loss, x).numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0


def test_layer_names_are_checked_against_the_network(compose_config):
    cfg = compose_config("experiment=spectral")
    validate(cfg)
    nsynth_layer = dataclasses.replace(cfg.style_layers, layers=["A_1"])
    with pytest.raises(
        ConfigError,
        match=r"unknown layer 'A_1' for encoder.network=spectral; valid layers are spectrum, "
        r"conv \('A_1' is a layer of the NSynth encoder\)",
    ):
        validate(dataclasses.replace(cfg, style_layers=nsynth_layer))
    cfg = compose_config("experiment=nsynth")
    with pytest.raises(
        ConfigError, match=r"unknown layer 'conv' for encoder.network=nsynth; valid layers are A_1"
    ):
        validate(dataclasses.replace(cfg, content_layer=ContentLayerConfig("conv")))
    for layers in ("[spectrum]", "[conv]", "[spectrum,conv]"):
        validate(
            compose_config(
                "experiment=spectral",
                f"style_layers.layers={layers}",
                "content_layer.layer=spectrum",
            )
        )


def short_transfer(*settings: dict):
    from audiostyle.clips.inputs import load_inputs
    from audiostyle.networks.encoder import build_network

    short = {"audio.duration": 1.0, "optim.steps": 80, "snapshots": []}
    cfg = plain_config(SPECTRAL, short, {"encoder.spectral.filters": 512}, *settings)
    inputs = load_inputs(cfg)
    result = run_transfer(cfg, build_network(cfg), inputs.content, inputs.style)
    return inputs, result


def test_the_networks_gram_transfer_lowers_the_loss_and_moves_toward_the_style():
    # the network's own Gram transfer, read by the log-mel distance it moves; the other terms
    # have their own tests
    only = {"loss.type": "gram", "loss.energy_weight": 0.0, "loss.harmonic_weight": 0.0}
    inputs, result = short_transfer({**only, "loss.noise_weight": 0.0})
    total = result.history["total"]
    assert total[-1] < 0.8 * total[0]
    before = style_distance(inputs.content, inputs.style, 16000)
    after = style_distance(result.output, inputs.style, 16000)
    assert after < 0.95 * before  # measured: 0.978 -> 0.919 after 80 steps


def test_the_default_transfer_lowers_the_loss_and_takes_the_styles_harmonic_profile():
    """The default's terms on the bundled clips (speech -> flute): x_G's harmonics at its own
    pitch move to the flute's balance (measured: 5.39 -> 0.57 dB after 80 steps)."""
    inputs, result = short_transfer()
    total = result.history["total"]
    assert total[result.output_step] < 0.5 * total[0]
    before = harmonic_distance(inputs.content, inputs.style, 16000)
    assert harmonic_distance(result.output, inputs.style, 16000) < 0.5 * before


def test_energy_term_is_zero_at_the_content_and_counts_in_the_total():
    from audiostyle.losses.objective import energy_contour
    from audiostyle.networks.encoder import build_network
    from audiostyle.optimisation.transfer import build_objective

    t = np.arange(4096) / 16000
    content = (0.5 * np.sin(2 * np.pi * 220 * t) * (t < 0.128)).astype(np.float32)  # a pause after
    style = (0.3 * np.sin(2 * np.pi * 880 * t)).astype(np.float32)
    cfg = plain_config(SPECTRAL, {"loss.energy_weight": 2.0, "encoder.spectral.filters": 64})
    objective = build_objective(cfg, build_network(cfg))
    objective.set_targets(tf.constant(content[None]), tf.constant(style[None]))
    assert float(objective(tf.constant(content[None])).energy) == pytest.approx(0.0, abs=1e-9)
    quieter = tf.constant(0.1 * content[None])
    terms = objective(quieter)
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(content, (0, 1024)), 1024)[::256][:16]
    want = np.log(np.mean(frames**2, axis=1) + 1e-8)
    np.testing.assert_allclose(
        energy_contour(tf.constant(content[None])).numpy()[0], want, rtol=1e-4, atol=1e-4
    )
    assert float(terms.energy) > 1.0
    expected = float(terms.style) + cfg.alpha * float(terms.content) + 2.0 * float(terms.energy)
    expected += cfg.loss.harmonic_weight * float(terms.harmonic)  # the default's harmonic term
    expected += cfg.loss.noise_weight * float(terms.noise)  # and its noise term
    assert float(terms.total) == pytest.approx(expected, rel=1e-5)


def test_dynamic_range_tells_pauses_from_a_drone():
    from audiostyle.measures.metrics import dynamic_range_db

    t = np.arange(32000) / 16000
    speechlike = np.sin(2 * np.pi * 200 * t) * (np.sin(2 * np.pi * 1.5 * t) > 0)
    drone = np.sin(2 * np.pi * 200 * t) + 0.3 * np.sin(2 * np.pi * 400 * t)
    assert dynamic_range_db(speechlike) > 60
    assert dynamic_range_db(drone) < 3

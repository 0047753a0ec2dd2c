"""The science of the loss: Gram vs L2 in time, falling loss, pitch experiment direction."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from audiostyle.config.schema import Config, InitSource, LossType, MuLaw, Normalize
from audiostyle.losses.objective import (
    FrameGramTarget,
    StyleTransferObjective,
    distance,
    frame_gram_distance,
    gram,
    gram_by_frames,
)
from audiostyle.measures.metrics import style_distance
from audiostyle.networks.encoder import NSynthEncoder, NSynthFeatures
from audiostyle.networks.weights import random_weights
from audiostyle.optimisation.transfer import build_objective, run_transfer

from conftest import NSYNTH, plain_config

FIRST5 = {
    "style_layers.layers": ["A_1", "B_1", "A_2", "B_2", "A_3"],
    "style_layers.weights": [0.2] * 5,
}


def nsynth_config(*settings: dict) -> Config:
    """A plain Config for the NSynth network with its measured settings, tiny, and `settings`."""
    return plain_config(NSYNTH, *settings)


@pytest.fixture(scope="module")
def encoder():
    return NSynthFeatures(NSynthEncoder(random_weights(0)), MuLaw.continuous)


def tone(freq: float, n: int = 2048, rate: int = 16000) -> np.ndarray:
    t = np.arange(n) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t) * np.hanning(n)).astype(np.float32)


def test_gram_is_time_averaged_outer_product():
    f = tf.constant(np.arange(12, dtype=np.float32).reshape(1, 4, 3))
    want = f.numpy()[0].T @ f.numpy()[0] / 4
    np.testing.assert_allclose(gram(f).numpy()[0], want, rtol=1e-6)


def test_per_layer_normalisation_is_relative_squared_error():
    x, t = tf.constant([[3.0, 4.0]]), tf.constant([[0.0, 2.0]])
    assert float(distance(x, t, Normalize.per_layer)) == pytest.approx((9 + 4) / 4)
    assert float(distance(x, t, Normalize.none)) == pytest.approx((9 + 4) / 2)


def test_gram_ignores_a_time_shift_of_the_style_clip_and_l2_does_not(encoder):
    core = tone(660, 1024)
    style = np.concatenate([np.zeros(512), core, np.zeros(1024)]).astype(np.float32)
    shifted = np.concatenate([np.zeros(1024), core, np.zeros(512)]).astype(np.float32)
    probe = tf.constant(style[None])  # x_G = x_S: any loss against x_S itself is zero
    losses = {}
    for loss in ("gram", "l2"):
        cfg = nsynth_config({"loss.type": loss, "alpha": 0.0}, FIRST5)
        objective = build_objective(cfg, encoder)
        objective.set_targets(probe, tf.constant(shifted[None]))
        losses[loss] = float(objective(probe).style)
    assert losses["gram"] < 1e-6  # same Gram matrices: the shift is invisible
    assert losses["l2"] > 0.1  # activations no longer line up in time


def test_loss_falls_over_a_few_adam_steps(encoder):
    noise = {"init.source": "noise", "init.scale": 0.01}
    cfg = nsynth_config({"optim.steps": 6, "snapshots": [], "optim.lr": 0.005}, FIRST5, noise)
    result = run_transfer(cfg, encoder, tone(440), tone(880))
    total = result.history["total"]
    assert len(total) == 7  # x_G(0) .. x_G(6), the output
    assert total[-1] < 0.7 * total[0]


def test_l2_on_early_layers_from_content_moves_toward_the_style(encoder):
    l2 = {"loss.type": "l2", "alpha": 0.0, "optim.steps": 25, "optim.lr": 0.01, "snapshots": []}
    cfg = nsynth_config(l2, FIRST5)
    content, style = tone(300), tone(1200)
    result = run_transfer(cfg, encoder, content, style)
    before = np.linalg.norm(content - style)
    after = np.linalg.norm(result.output - style)
    assert after < 0.8 * before
    assert style_distance(result.output, style, 16000) < style_distance(content, style, 16000)


def test_snapshots_are_the_iterates(encoder):
    cfg = nsynth_config({"optim.steps": 3, "snapshots": [0, 3], "optim.keep_best": False})
    seen = {}
    result = run_transfer(
        cfg, encoder, tone(440), tone(880), on_snapshot=lambda i, w: seen.setdefault(i, w)
    )
    assert sorted(seen) == [0, 3]
    np.testing.assert_allclose(seen[0], tone(440), atol=2e-6)  # x_C + U[-1e-6, 1e-6]
    np.testing.assert_array_equal(seen[3], result.output, err_msg="x_G(3)'s samples, copied")


def test_every_domain_starts_at_the_same_waveform(encoder):
    outs = []
    for domain in ("waveform", "mu_law", "mu_law_units"):
        cfg = nsynth_config({"optim.domain": domain, "optim.steps": 1, "snapshots": [0]})
        run_transfer(cfg, encoder, tone(440), tone(880), on_snapshot=lambda i, w: outs.append(w))
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)
    np.testing.assert_allclose(outs[0], outs[2], atol=1e-5)


def test_init_sources(compose_config):
    from audiostyle.clips.cross_synthesis import channel_vocoder, world_cross
    from audiostyle.optimisation.start import initial_waveform

    content, style = tone(440), tone(880)
    for option, base in (
        ("content_noise", content),
        ("style", style),
        ("noise", np.zeros_like(content)),
        ("world", world_cross(content, style, 16000)),
        ("vocoder", channel_vocoder(content, style, 16000)),
    ):
        cfg = compose_config(f"init={option}")
        x0 = initial_waveform(cfg, content, style)
        assert np.max(np.abs(x0 - base)) <= cfg.init.scale + 1e-7  # float32 rounding
        assert np.max(np.abs(x0 - base)) > 0
    cfg = dataclasses.replace(compose_config(), seed=1)
    assert not np.array_equal(
        initial_waveform(cfg, content, style), initial_waveform(compose_config(), content, style)
    )
    assert (
        cfg.loss.type == LossType.mmd  # the default run's (experiment=spectral)
        and compose_config("init=style").init.source == InitSource.style
    )


class FeaturesOnly:
    """The same encoder seen only through `features`: the objective then takes each Gram
    with autodiff of plain einsums, the reference for the in-stack Grams."""

    def __init__(self, network: NSynthFeatures):
        self.network = network

    def features(self, wave, names):
        return self.network.features(wave, names)


def test_grams_taken_in_the_stack_give_the_same_loss_and_gradient(encoder):
    rng = np.random.default_rng(3)
    content, style, x = (0.3 * rng.normal(size=(3, 1, 2048))).astype(np.float32)
    style_layers = ["A_2", "B_30", "C_3", "encoding", "B_1"]  # B_30 is the content layer too
    results = []
    for network in (encoder, FeaturesOnly(encoder)):
        objective = StyleTransferObjective(
            network, "final_relu", style_layers, [1.0, 0.5, 2.0, 1.0, 0.3],
            LossType.gram, Normalize.per_layer, alpha=0.7,
        )  # fmt: skip
        objective.set_targets(tf.constant(content), tf.constant(style))
        wave = tf.constant(x)

        @tf.function  # as the Adam step runs it: in a graph, where the Gram's wait applies
        def loss_and_grad(w, objective=objective):
            with tf.GradientTape() as tape:
                tape.watch(w)
                terms = objective(w)
            return terms.total, terms.per_layer, tape.gradient(terms.total, w)

        results.append([t.numpy() for t in loss_and_grad(wave)])
    (total, per_layer, grad), (want_total, want_per_layer, want_grad) = results
    np.testing.assert_allclose(total, want_total, rtol=1e-5)
    np.testing.assert_allclose(per_layer, want_per_layer, rtol=1e-5)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-4, atol=1e-6 * np.abs(want_grad).max())
    assert np.abs(grad).max() > 0


def test_alpha_zero_computes_no_content_layer_and_the_same_gradient(encoder):
    """The pitch experiments' alpha 0 with final_relu content: only the style's three blocks."""
    asked = []

    class Recording:
        def features(self, wave, names):
            asked.append(list(names))
            return encoder.features(wave, names)

    rng = np.random.default_rng(4)
    content, style, x = (0.3 * rng.normal(size=(3, 1, 2048))).astype(np.float32)
    style_layers = ["A_1", "B_1", "A_2", "B_2", "A_3"]
    results = []
    for network, uses_content in ((Recording(), None), (encoder, True)):
        objective = StyleTransferObjective(
            network, "final_relu", style_layers, [0.2] * 5, LossType.l2, Normalize.none, 0.0
        )
        if uses_content:  # the reference: the content layer computed, its term weighted 0
            objective.uses_content = True
        objective.set_targets(tf.constant(content), tf.constant(style))
        asked.clear()
        wave = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(wave)
            terms = objective(wave)
        results.append((terms, tape.gradient(terms.total, wave).numpy(), list(asked)))
    (terms, grad, requested), (want, want_grad, _) = results
    assert requested == [style_layers]  # final_relu (block 30) never asked for
    assert float(terms.content) == 0.0 and float(want.content) > 0
    np.testing.assert_allclose(float(terms.total), float(want.total), rtol=1e-6)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-5, atol=1e-7)


def channel_gram_distance64(f: np.ndarray, fs: np.ndarray, normalize: Normalize) -> float:
    """The reference: the C x C Gram matrices in float64 numpy."""
    g = np.einsum("btc,btd->bcd", f, f) / f.shape[1]
    s = np.einsum("btc,btd->bcd", fs, fs) / fs.shape[1]
    if normalize == Normalize.none:
        return float(np.mean((g - s) ** 2))
    return float(np.sum((g - s) ** 2) / np.sum(s**2))


@pytest.mark.parametrize("normalize", [Normalize.none, Normalize.per_layer])
@pytest.mark.parametrize("eps", [1.0, 1e-2, 1e-4])  # down to a distance 10^9 below the start
def test_gram_distance_by_frames_is_the_gram_distance(normalize, eps):
    """Few frames, many channels (the spectral network's shape): T x T products in float64
    give the Gram distance, closer to exact than float32 Gram matrices even near the style."""
    rng = np.random.default_rng(5)
    fs = np.maximum(rng.normal(size=(1, 12, 200)), 0)
    f = np.maximum(fs + eps * rng.normal(size=fs.shape), 0)
    assert gram_by_frames(12, 200) and not gram_by_frames(12, 10)
    f32, fs32 = f.astype(np.float32), fs.astype(np.float32)  # what both forms are given
    want = channel_gram_distance64(f32.astype(np.float64), fs32.astype(np.float64), normalize)
    target = FrameGramTarget(tf.constant(fs32))
    x = tf.constant(f32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        by_frames = frame_gram_distance(x, target, normalize)
        by_grams = distance(gram(x), gram(tf.constant(fs32)), normalize)
    by_frames_error = abs(float(by_frames) - want) / want
    assert by_frames_error < 1e-5
    assert by_frames_error <= abs(float(by_grams) - want) / want + 1e-7
    g_frames, g_grams = tape.gradient(by_frames, x), tape.gradient(by_grams, x)
    scale = np.abs(g_grams.numpy()).max()
    np.testing.assert_allclose(g_frames.numpy(), g_grams.numpy(), atol=1e-3 * scale)
    np.testing.assert_allclose(
        target.as_gram_matrix().numpy(), gram(tf.constant(fs32)).numpy(), rtol=1e-5
    )


def assert_frames_match_gram_matrices(
    network, content_layer: str, style_layers: list[str], by_frames: list[bool], seed: int
) -> None:
    """The objective's targets are held by frames where `by_frames` says, and its loss and
    gradient (in a tf.function, as the Adam step runs it) are those of C x C Gram targets."""
    rng = np.random.default_rng(seed)
    content, style, x = (0.3 * rng.normal(size=(3, 1, 1024))).astype(np.float32)
    weights = list(np.linspace(1.0, 0.5, len(style_layers)))
    results = []
    for as_grams in (False, True):
        objective = StyleTransferObjective(
            network, content_layer, style_layers, weights, LossType.gram, Normalize.none, 0.3
        )
        objective.set_targets(tf.constant(content), tf.constant(style))
        assert [isinstance(t, FrameGramTarget) for t in objective.style_targets] == by_frames
        if as_grams:  # the reference: the same targets as C x C Gram matrices
            objective.as_gram_matrices()

        @tf.function
        def loss_and_grad(w, objective=objective):
            with tf.GradientTape() as tape:
                tape.watch(w)
                terms = objective(w)
            return terms.total, terms.per_layer, tape.gradient(terms.total, w)

        results.append([t.numpy() for t in loss_and_grad(tf.constant(x))])
    (total, per_layer, grad), (want_total, want_per_layer, want_grad) = results
    np.testing.assert_allclose(per_layer, want_per_layer, rtol=1e-4)
    np.testing.assert_allclose(total, want_total, rtol=1e-5)
    np.testing.assert_allclose(grad, want_grad, atol=1e-4 * np.abs(want_grad).max())
    assert np.abs(grad).max() > 0


def test_spectral_layers_with_few_frames_go_by_frames_with_the_same_loss_and_gradient():
    """128 filters and 129 bins, 16 frames: both layers under 0.2 frames per channel."""
    from audiostyle.config.schema import SpectralConfig
    from audiostyle.networks.spectral import SpectralNetwork

    net = SpectralNetwork(SpectralConfig(n_fft=256, hop=64, filters=128, width=5), 0)
    assert_frames_match_gram_matrices(net, "conv", ["conv", "spectrum"], [True, True], seed=6)


def test_nsynth_mixes_frame_and_stack_grams_with_the_same_loss_and_gradient(encoder):
    """`encoding` (2 frames of 16 channels at 1024 samples) goes by frames while C_1, also the
    content layer, keeps its Gram taken in the stack."""
    assert_frames_match_gram_matrices(encoder, "C_1", ["encoding", "C_1"], [True, False], seed=8)


def test_frame_gram_distance_broadcasts_one_style_over_a_batch():
    rng = np.random.default_rng(7)
    fs = np.maximum(rng.normal(size=(1, 6, 90)), 0).astype(np.float32)
    x = np.maximum(rng.normal(size=(2, 8, 90)), 0).astype(np.float32)
    for normalize in (Normalize.none, Normalize.per_layer):
        got = frame_gram_distance(tf.constant(x), FrameGramTarget(tf.constant(fs)), normalize)
        want = distance(gram(tf.constant(x)), gram(tf.constant(fs)), normalize)
        np.testing.assert_allclose(float(got), float(want), rtol=1e-5)


def test_frames_are_counted_at_x_g_length_not_the_style_clips():
    """A short style clip (16 frames, under 0.2 x 128) against a 4x longer x_C: x_G has 64
    frames, over the break-even, so the Gram matrices are kept."""
    from audiostyle.config.schema import SpectralConfig
    from audiostyle.networks.spectral import SpectralNetwork

    net = SpectralNetwork(SpectralConfig(n_fft=256, hop=64, filters=128, width=5), 0)
    rng = np.random.default_rng(9)
    style = tf.constant((0.3 * rng.normal(size=(1, 1024))).astype(np.float32))
    for length, by_frames in ((1024, True), (4096, False)):
        content = tf.constant((0.3 * rng.normal(size=(1, length))).astype(np.float32))
        objective = StyleTransferObjective(
            net, "conv", ["conv"], [1.0], LossType.gram, Normalize.none, 0.3
        )
        objective.set_targets(content, style)
        assert isinstance(objective.style_targets[0], FrameGramTarget) == by_frames

"""Chunked evaluation gives the whole clip's loss and gradient, for both networks and losses."""

import numpy as np
import pytest
import tensorflow as tf

from audiostyle.config.schema import LossType, MuLaw, Normalize, SpectralConfig
from audiostyle.config.validation import validate
from audiostyle.errors import ConfigError
from audiostyle.losses.chunked import ChunkedObjective, chunk_samples
from audiostyle.losses.gram import gram_sum
from audiostyle.losses.histogram import SortedTarget
from audiostyle.losses.mmd import KernelTarget
from audiostyle.losses.objective import FrameGramTarget, StyleTransferObjective
from audiostyle.networks.encoder import NSynthEncoder, NSynthFeatures
from audiostyle.networks.spectral import SpectralNetwork
from audiostyle.networks.weights import random_weights
from audiostyle.optimisation.transfer import run_transfer

from conftest import NSYNTH, plain_config


@pytest.fixture(scope="module")
def nsynth():
    return NSynthFeatures(NSynthEncoder(random_weights(0)), MuLaw.continuous)


@pytest.fixture(scope="module")
def spectral():
    # 128 filters: the whole clip's Gram distance goes through frames (18 < 0.2 x 128)
    return SpectralNetwork(SpectralConfig(n_fft=1024, hop=256, filters=128, width=11), 0)


def clips(samples: int) -> list[tf.Tensor]:
    rng = np.random.default_rng(1)
    return [tf.constant((0.3 * rng.normal(size=(1, samples))).astype(np.float32)) for _ in range(3)]


def whole_and_chunked(
    network, content_layer, style_layers, loss, normalize, samples, chunk, alpha=0.7
):
    """(terms, gradient) of the whole clip and of chunks of `chunk` samples, same inputs."""
    content, style, x = clips(samples)

    def objective():
        weights = list(np.linspace(0.5, 1.5, len(style_layers)))
        return StyleTransferObjective(
            network, content_layer, style_layers, weights, loss, normalize, alpha, 0.5
        )

    whole = objective()
    whole.set_targets(content, style)
    with tf.GradientTape() as tape:
        tape.watch(x)
        terms = whole(x)
    grad = tape.gradient(terms.total, x)
    chunked = ChunkedObjective(objective(), chunk)
    assert chunked.context > 0 and -(-samples // chunk) > 1  # really in several chunks
    chunked.set_targets(content, style)
    held = chunked.style_targets if loss == LossType.l2 else chunked.objective.style_targets
    assert len(held) == len(style_layers)
    for want, got in zip(whole.style_targets, held):
        want, got = comparable(want), comparable(got)
        got = got[:, : want.shape[1]]  # L2 targets are held padded to whole chunks
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=2e-4, atol=1e-6)
    chunk_terms, chunk_grad = chunked(x)
    return (terms, grad), (chunk_terms, chunk_grad)


def comparable(target) -> tf.Tensor:
    """A style target as one tensor: a Gram matrix, x_S's sorted or kernel frames, or taps."""
    if isinstance(target, FrameGramTarget):  # the whole clip holds it by frames
        return target.as_gram_matrix()
    if isinstance(target, SortedTarget):
        return target.sorted
    if isinstance(target, KernelTarget):
        return target.frames
    return target


def assert_same(whole, chunked, content: bool = True):
    (terms, grad), (chunk_terms, chunk_grad) = whole, chunked
    for name in ("total", "content", "style", "energy", "per_layer"):
        want, got = getattr(terms, name).numpy(), getattr(chunk_terms, name).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, err_msg=name)
    assert float(terms.energy) > 0 and (float(terms.content) > 0) == content
    scale = np.abs(grad.numpy()).max()
    assert scale > 0
    np.testing.assert_allclose(chunk_grad.numpy(), grad.numpy(), atol=1e-4 * scale)


@pytest.mark.parametrize(
    "loss, normalize", [(LossType.gram, Normalize.per_layer), (LossType.l2, Normalize.none)]
)
def test_nsynth_chunks_give_the_whole_clip_loss_and_gradient(nsynth, loss, normalize):
    # blocks 1..6 (context 64 samples) keep this quick; a last, partial chunk is included
    layers = ["A_1", "B_3", "C_5", "A_6"]
    whole, chunked = whole_and_chunked(nsynth, "B_6", layers, loss, normalize, 2560, 1024)
    assert_same(whole, chunked)


def test_alpha_zero_chunks_skip_the_content_layer_and_match(nsynth):
    """The pitch experiments' shape: style on early blocks, content deep, alpha 0."""
    layers = ["A_1", "B_1", "A_2"]
    whole, chunked = whole_and_chunked(
        nsynth, "final_relu", layers, LossType.l2, Normalize.none, 2560, 1024, alpha=0.0
    )
    assert_same(whole, chunked, content=False)
    objective = StyleTransferObjective(
        nsynth, "final_relu", layers, [1.0] * 3, LossType.l2, Normalize.none, 0.0
    )
    assert ChunkedObjective(objective, 1024).context == 1024  # block 2's, not block 30's 3070


@pytest.mark.parametrize(
    "loss, normalize", [(LossType.gram, Normalize.none), (LossType.l2, Normalize.per_layer)]
)
def test_spectral_chunks_give_the_whole_clip_loss_and_gradient(spectral, loss, normalize):
    layers = ["conv", "spectrum"]
    whole, chunked = whole_and_chunked(spectral, "conv", layers, loss, normalize, 4608, 1024)
    assert_same(whole, chunked)


@pytest.mark.parametrize("loss", [LossType.histogram, LossType.mmd])
def test_whole_clip_losses_in_chunks_give_the_whole_clip_loss_and_gradient(spectral, loss):
    """histogram sorts and mmd pairs every frame: pass 1 gathers the clip's frames, pass 2
    takes <dL/dF, F> chunk by chunk; the same loss and gradient as the whole clip."""
    layers = ["conv", "spectrum"]
    whole, chunked = whole_and_chunked(spectral, "conv", layers, loss, Normalize.none, 4608, 1024)
    assert_same(whole, chunked)
    assert float(whole[0].style) > 0


def test_one_matmul_gram_gradient_equals_autodiff():
    f = tf.constant(np.random.default_rng(2).normal(size=(1, 50, 6)).astype(np.float32))
    d = tf.constant(np.random.default_rng(3).normal(size=(1, 6, 6)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(f)
        fast = tf.reduce_sum(d * gram_sum(f))
        plain = tf.reduce_sum(d * tf.einsum("btc,btd->bcd", f, f))
    np.testing.assert_allclose(float(fast), float(plain), rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(fast, f), tape.gradient(plain, f), rtol=1e-5)


def test_chunks_are_equal_and_aligned(nsynth, spectral):
    assert chunk_samples(1.0, 16000, nsynth, 48000) == 16384  # 3 chunks, whole 512-blocks
    assert chunk_samples(1.0, 16000, nsynth, 960000) == 16384  # 60 s: 59 chunks
    assert chunk_samples(0.01, 16000, nsynth, 48000) == 512
    assert chunk_samples(1.0, 16000, spectral, 48000) == 16128  # whole 256-sample hops
    assert chunk_samples(1.0, 16000, nsynth, 47616) == 15872  # 3 s as a run crops it
    assert chunk_samples(5.0, 16000, nsynth, 47616) == 47616  # one chunk: the whole clip


def test_chunk_seconds_must_be_positive(compose_config):
    with pytest.raises(ConfigError, match="runtime.chunk_seconds must be a positive"):
        validate(compose_config("runtime.chunk_seconds=0"))


@pytest.mark.slow
def test_all_30_blocks_chunked_match_and_compile(nsynth):
    """The full receptive field (6141 samples, encoding content), and the XLA-compiled run."""
    layers = ["A_1", "B_10", "A_20", "B_30"]
    whole, chunked = whole_and_chunked(
        nsynth, "encoding", layers, LossType.gram, Normalize.per_layer, 7168, 2048
    )
    assert_same(whole, chunked)
    short = {"audio.duration": 0.448, "optim.steps": 3, "snapshots": [0, 3], "runtime.xla": True}
    cfg = plain_config(NSYNTH, short)
    content, style, _ = (c.numpy()[0] for c in clips(7168))
    plain = run_transfer(cfg, nsynth, content, style)
    split = run_transfer(
        plain_config(NSYNTH, short, {"runtime.chunk_seconds": 0.128}), nsynth, content, style
    )
    np.testing.assert_allclose(split.history["total"], plain.history["total"], rtol=2e-3)
    # Adam moves each sample by about lr a step whatever its gradient's size, so a sample whose
    # gradient is ~0 may move either way on rounding: compare on average, against lr
    lr = cfg.optim.lr
    assert np.mean(np.abs(split.output - plain.output)) < 0.05 * lr

"""The TensorFlow encoder against the independent numpy implementation in tests/reference.py."""

import numpy as np
import pytest
import tensorflow as tf

from audiostyle.config.schema import MuLaw
from audiostyle.networks.checkpoint import weights_from_tensors
from audiostyle.networks.encoder import NSynthEncoder, dilation
from audiostyle.networks.layers import NSYNTH_LAYERS
from audiostyle.networks.mulaw import encoder_input
from audiostyle.networks.weights import random_weights

from reference import encoder_taps, mu_law_quantized, random_tensors


@pytest.fixture(scope="module")
def tensors():
    return random_tensors(seed=3)


@pytest.fixture(scope="module")
def clip():
    rng = np.random.default_rng(0)
    t = np.arange(1024) / 16000
    return (0.5 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.normal(size=t.size)).astype(np.float32)


def test_every_tap_matches_numpy(tensors, clip):
    encoder = NSynthEncoder(weights_from_tensors(tensors))
    x = encoder_input(tf.constant(clip[None]), MuLaw.quantized)[..., None]
    ours = encoder.taps(x, list(NSYNTH_LAYERS))
    ref = encoder_taps(mu_law_quantized(clip.astype(np.float64)), tensors)
    for name in NSYNTH_LAYERS:
        got, want = ours[name].numpy()[0], ref[name]
        assert got.shape == want.shape, name
        scale = np.max(np.abs(want)) + 1e-6
        assert np.max(np.abs(got - want)) / scale < 1e-4, name


def test_encoding_shape_is_time_over_512_by_16():
    encoder = NSynthEncoder(random_weights(0))
    out = encoder.taps(tf.zeros([2, 2048, 1]), ["encoding", "final_relu"])
    assert out["encoding"].shape == (2, 4, 16)
    assert out["final_relu"].shape == (2, 2048, 128)


def test_dilations_cycle_three_times():
    assert [dilation(i) for i in range(1, 31)] == [2**k for k in range(10)] * 3


def test_random_weights_follow_magentas_initialiser():
    w = random_weights(7)
    limit = np.sqrt(3.0 / (3 * 128))
    assert np.max(np.abs(w.dilated_w[0])) <= limit
    assert np.max(np.abs(w.dilated_w[0])) > 0.95 * limit  # uniform fills the range
    assert np.all(w.start_b == 0)
    assert w.num_parameters() == 1_976_336
    assert not np.allclose(random_weights(7).dilated_w[3], random_weights(8).dilated_w[3])
    np.testing.assert_array_equal(random_weights(7).res_w[5], w.res_w[5], err_msg="seeded draws")


def test_only_needed_blocks_are_built():
    encoder = NSynthEncoder(random_weights(0))
    graph = (
        tf.function(lambda x: encoder.taps(x, ["A_2"]))
        .get_concrete_function(tf.TensorSpec([1, 1024, 1]))
        .graph
    )
    convs = [op for op in graph.get_operations() if op.type in ("Conv2D", "Conv1D", "Conv3D")]
    assert len(convs) <= 3  # start conv and the first dilated conv, nothing deeper

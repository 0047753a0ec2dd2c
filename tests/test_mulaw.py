"""Mu-law companding: Magenta's curve forward, its true slope backward (also at 0)."""

import math

import numpy as np
import tensorflow as tf

from audiostyle.networks.mulaw import MU, compand, expand


def slope_of(f, x: np.ndarray) -> np.ndarray:
    v = tf.constant(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(v)
        y = f(v)
    return tape.gradient(y, v).numpy()


def test_compand_gradient_is_the_curves_slope_also_at_zero():
    """Autodiff of sign(x) log(1 + mu|x|) gives 0 at x = 0; a silent sample would never move."""
    x = np.array([0.0, 1e-7, -1e-3, 0.25, -0.9], np.float32)
    want = MU / ((1 + MU * np.abs(x)) * math.log(1 + MU))
    np.testing.assert_allclose(slope_of(compand, x), want, rtol=1e-5)
    assert slope_of(compand, np.zeros(1, np.float32))[0] > 45.9  # 255 / log(256) = 45.99


def test_expand_gradient_is_its_slope_and_inverts_compand():
    y = np.array([0.0, 1e-6, -0.3, 0.8], np.float32)
    want = math.log(1 + MU) * (1 + MU) ** np.abs(y) / MU
    np.testing.assert_allclose(slope_of(expand, y), want, rtol=1e-5)
    x = np.linspace(-1, 1, 101).astype(np.float32)
    np.testing.assert_allclose(expand(compand(tf.constant(x))).numpy(), x, atol=2e-6)

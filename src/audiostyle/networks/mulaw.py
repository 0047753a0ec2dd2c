"""Mu-law companding (mu = 255) as the encoder sees audio, and the optimiser's domains.

Magenta feeds the encoder `floor(128 * sign(x) * log(1 + 255|x|) / log(256)) / 128`. The floor
has no gradient, so optimising a waveform needs `continuous` (the same curve, no floor) or
`straight_through` (floor forward, the curve's gradient backward).
"""

from __future__ import annotations

import math

import tensorflow as tf

from audiostyle.config.schema import Domain, MuLaw

MU = 255.0
UNITS = 128.0


LOG_MU = math.log(1.0 + MU)


@tf.custom_gradient
def compand(x: tf.Tensor):
    """Waveform [-1, 1] -> mu-law curve [-1, 1], continuous.

    Written in the same operation order as Magenta's (log(1 + mu|x|), not log1p), so that the
    quantized mode lands on exactly the same integer at every sample. Its gradient is the
    curve's slope, mu / ((1 + mu|x|) log(1 + mu)): autodiff of sign(x) and |x| gives 0 at x = 0,
    the steepest point, and a sample at exactly 0 would never move.
    """

    def slope(dy: tf.Tensor) -> tf.Tensor:
        return dy * MU / ((1.0 + MU * tf.abs(x)) * LOG_MU)

    return tf.sign(x) * tf.math.log(1.0 + MU * tf.abs(x)) / LOG_MU, slope


@tf.custom_gradient
def expand(y: tf.Tensor):
    """Inverse of `compand`; its gradient log(1 + mu) (1 + mu)^|y| / mu, also at y = 0."""
    grows = tf.pow(1.0 + MU, tf.abs(y))

    def slope(dx: tf.Tensor) -> tf.Tensor:
        return dx * LOG_MU * grows / MU

    return tf.sign(y) * (grows - 1.0) / MU, slope


def encoder_input(x: tf.Tensor, mode: MuLaw) -> tf.Tensor:
    """What the encoder reads for waveform x, per `audio.mu_law`."""
    if mode == MuLaw.none:
        return x
    y = compand(x)
    if mode == MuLaw.continuous:
        return y
    q = tf.floor(y * UNITS) / UNITS
    if mode == MuLaw.quantized:
        return q
    return y + tf.stop_gradient(q - y)  # straight_through


def to_domain(x: tf.Tensor, domain: Domain) -> tf.Tensor:
    """Waveform -> the variable the optimiser holds."""
    if domain == Domain.waveform:
        return x
    y = compand(x)
    return y if domain == Domain.mu_law else UNITS * y


def to_waveform(v: tf.Tensor, domain: Domain) -> tf.Tensor:
    """The optimiser's variable -> waveform."""
    if domain == Domain.waveform:
        return v
    return expand(v if domain == Domain.mu_law else v / UNITS)

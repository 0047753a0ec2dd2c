"""Gram matrices of a layer's frames, with one-matmul gradients: the style statistic of the
`gram` loss, also taken inside the NSynth encoder's stack (gram_tap) to bound its memory."""

from __future__ import annotations

import tensorflow as tf


def _gram_sum(features: tf.Tensor) -> tf.Tensor:
    return tf.einsum("btc,btd->bcd", features, features)


def _gram_sum_gradient(features: tf.Tensor, d_gram: tf.Tensor) -> tf.Tensor:
    """d/dF <dG, F^T F> = F (dG + dG^T): one matmul."""
    return tf.einsum("btc,bcd->btd", features, d_gram + tf.linalg.matrix_transpose(d_gram))


@tf.custom_gradient
def gram_sum(features: tf.Tensor):
    """F^T F summed over time, [batch, channels, channels], with a one-matmul gradient.

    Autodiff of einsum(F, F) differentiates each operand separately (two matmuls and an add);
    d/dF <dG, F^T F> = F (dG + dG^T) is one. Measured 4x faster under XLA on CPU
    (benchmarks/speed.py; docs/speed.md).
    """

    def backward(d_gram: tf.Tensor) -> tf.Tensor:
        return _gram_sum_gradient(features, d_gram)

    return _gram_sum(features), backward


@tf.custom_gradient
def gram_tap(features: tf.Tensor):
    """(features, F^T F summed over time) for a layer the network goes on computing from.

    The same gradient as gram_sum, but it waits for the network path's gradient of F: the
    Gram's own part, F (dG + dG^T), is ready as soon as backprop starts, and TensorFlow's
    executor would compute all 60 of them at once and hold them until their blocks are reached.
    Waiting cut a whole-clip step at T = 48000 from 4.20 to 2.58 GB (same loss and gradient;
    docs/speed.md). XLA schedules by its own rules and does not keep the wait.
    bfloat16 features (runtime.precision) give a float32 Gram: it is taken from F in float32.
    """
    exact = tf.cast(features, tf.float32)

    def backward(d_features: tf.Tensor | None, d_gram: tf.Tensor) -> tf.Tensor:
        if d_features is None:  # nothing downstream of this layer: no path to wait for
            d_features = tf.zeros_like(features)
        with tf.control_dependencies([d_features]):
            return d_features + tf.cast(_gram_sum_gradient(exact, d_gram), features.dtype)

    return (tf.identity(features), _gram_sum(exact)), backward


def gram(features: tf.Tensor) -> tf.Tensor:
    """[batch, time, channels] -> [batch, channels, channels], averaged over time."""
    steps = tf.cast(tf.shape(features)[1], features.dtype)
    return gram_sum(features) / steps

"""Maximum mean discrepancy style loss (Li et al. 2017, "Demystifying Neural Style Transfer").

Li et al. show that matching Gram matrices is minimising the MMD between the sets of x_G's and
x_S's feature vectors (one per frame) under the kernel k(x, y) = (x . y)^2; other kernels match
other statistics of the same sets. With a Gaussian kernel k(x, y) = exp(-|x - y|^2 / (2 s^2))
the MMD is zero only when the two distributions of frames are equal, not only their second
moments. Here the squared MMD is the biased (V-statistic) estimate over every pair of frames:

    MMD^2 = mean k(g, g') + mean k(s, s') - 2 mean k(g, s),

which is >= 0, 0 at x_G = x_S, blind to where in time a frame occurs (as the Gram is) and
bounded by 2 on every layer, so `loss.normalize` does not rescale it. s^2 is Li et al.'s choice,
the mean squared distance between x_S's frames, times `loss.mmd_bandwidth`. Every pair of frames
is formed, so a layer with many frames (NSynth's taps: one per sample) is refused above
MAX_PAIRS; the spectral network has 188 frames at 3 s.
"""

from __future__ import annotations

import tensorflow as tf

from audiostyle.errors import ConfigError

MAX_PAIRS = 2**26  # the largest frames x frames matrix formed (float64: 512 MB)
TINY = 1e-12


def squared_distances(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """|a_i - b_j|^2 for frames a [batch, n, C], b [batch, m, C] -> [batch, n, m], >= 0."""
    a2 = tf.reduce_sum(tf.square(a), axis=-1)[:, :, None]
    b2 = tf.reduce_sum(tf.square(b), axis=-1)[:, None, :]
    return tf.maximum(a2 + b2 - 2.0 * tf.einsum("bnc,bmc->bnm", a, b), 0.0)


def check_pairs(frames: int, style_frames: int, layer: str) -> None:
    """Refuse, before any optimisation, a layer whose frame pairs would not fit."""
    pairs = max(frames, style_frames) ** 2
    if pairs > MAX_PAIRS:
        raise ConfigError(
            f"loss=mmd compares every pair of frames; layer {layer!r} has {frames} frames for "
            f"x_G and {style_frames} for x_S at this duration, {pairs:,} pairs, over the limit "
            f"of {MAX_PAIRS:,}. Use the spectral network (the default run's), a shorter "
            "audio.duration, or loss=gram or loss=histogram"
        )


class KernelTarget:
    """x_S's frames of one layer (float64), its Gaussian kernel's width and mean k(s, s')."""

    def __init__(self, features: tf.Tensor, bandwidth: float):
        s = tf.cast(features, tf.float64)
        between = squared_distances(s, s)
        spread = tf.reduce_mean(between)
        # identical frames (a steady tone) have no spread: fall back to their size
        floor = 1e-6 * tf.reduce_mean(tf.reduce_sum(tf.square(s), axis=-1)) + TINY
        self.width2 = tf.Variable(bandwidth * tf.maximum(spread, floor), trainable=False)
        self.frames = tf.Variable(s, trainable=False)
        self.self_similarity = tf.Variable(
            tf.reduce_mean(self.kernel(between), axis=[1, 2]), trainable=False
        )

    def kernel(self, squared: tf.Tensor) -> tf.Tensor:
        return tf.exp(-squared / (2.0 * self.width2))


def mmd_distance(features: tf.Tensor, target: KernelTarget) -> tf.Tensor:
    """The squared MMD between x_G's frames [batch, T, C] and x_S's, averaged over the batch
    (float64 inside: the three terms nearly cancel near the optimum)."""
    g = tf.cast(features, tf.float64)
    s = tf.broadcast_to(target.frames, [g.shape[0], *target.frames.shape[1:]])
    within = tf.reduce_mean(target.kernel(squared_distances(g, g)), axis=[1, 2])
    across = tf.reduce_mean(target.kernel(squared_distances(g, s)), axis=[1, 2])
    return tf.cast(tf.reduce_mean(within + target.self_similarity - 2.0 * across), tf.float32)

"""Histogram style loss (Risser et al. 2017): match each channel's distribution over time.

A Gram matrix keeps only second moments; two layers with the same Gram can have very different
activation histograms. Risser et al. match the histograms themselves. Per channel, the squared
distance between x_G's sorted activations and x_S's quantiles at the same ranks is the squared
1-D Wasserstein-2 distance between the two empirical distributions, and its gradient moves each
activation of x_G to the value of x_S's at its rank: Risser et al.'s histogram remapping,
differentiated. It is blind to where in time a value occurs, as a Gram is, and it compares clips
of any two lengths (x_S's quantiles are read at x_G's ranks by linear interpolation).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def rank_positions(frames: int) -> np.ndarray:
    """The probability level of each rank among `frames` sorted values: (i + 1/2) / frames."""
    return (np.arange(frames) + 0.5) / frames


def rank_weights(frames: int, of: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where `frames` ranks fall among `of` sorted values: (lower index, upper index, the
    upper's share), the linear interpolation np.interp makes between (i + 1/2) / of levels."""
    at = np.clip(rank_positions(frames) * of - 0.5, 0.0, of - 1.0)
    low = np.floor(at).astype(np.int32)
    return low, np.minimum(low + 1, of - 1), (at - low).astype(np.float32)


class SortedTarget:
    """x_S's activations of one layer, sorted over time per channel (float32)."""

    def __init__(self, features: tf.Tensor):
        self.sorted = tf.Variable(sorted_over_time(features), trainable=False)

    def at(self, frames: int) -> tf.Tensor:
        """x_S's quantiles at `frames` ranks, [1, frames, C] (`frames` equal to x_S's own gives
        its sorted values back): the target of x_G's sorted activations."""
        low, high, share = rank_weights(frames, int(self.sorted.shape[1]))
        share = tf.constant(share[None, :, None])
        below, above = tf.gather(self.sorted, low, axis=1), tf.gather(self.sorted, high, axis=1)
        return (1.0 - share) * below + share * above


def sorted_over_time(features: tf.Tensor) -> tf.Tensor:
    """[batch, time, channels] sorted along time per channel, in float32 (bfloat16 features
    give float32 ranks, as they give a float32 Gram)."""
    return tf.sort(tf.cast(features, tf.float32), axis=1)

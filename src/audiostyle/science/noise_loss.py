"""An optional loss term against noise laid over x_C: x_G's spectral flatness held at x_C's.

Style losses that pull x_G's spectral frames toward x_S's distribution (a narrow-kernel MMD
most of all) fill the valleys between x_C's harmonics with noise (issue #18's flatness target,
docs/defaults.md). Flatness (geometric over arithmetic mean of a frame's power spectrum) is
near 0.01 for a harmonic voice and near 0.5 for white noise, and it hardly depends on which
harmonics are loud, so holding it down leaves the timbre terms free. Per loud frame f of x_C,
framed as librosa's (centred, 2048 / 256, power with librosa's amin 1e-10):

    L_n = mean over f of max(0, ln F_f(x_G) - ln F_f(x_C))^2,

one-sided: x_G may be cleaner than x_C, never noisier. x_C's frames and flatness are fixed
before the optimisation (numpy), x_G's come from the harmonic term's TensorFlow STFT.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from audiostyle.science import timbre
from audiostyle.science.harmonic_loss import stft_power

AMIN = 1e-10  # librosa.feature.spectral_flatness's floor on the power spectrum


def log_flatness(power: tf.Tensor) -> tf.Tensor:
    """ln of each frame's spectral flatness, [..., frames] from power [..., frames, bins]."""
    floored = tf.maximum(power, AMIN)
    log_geometric = tf.reduce_mean(tf.math.log(floored), axis=-1)
    return log_geometric - tf.math.log(tf.reduce_mean(floored, axis=-1))


class NoiseLoss:
    """The term's fixed parts (x_C's loud frames and their flatness) and its value at x_G."""

    def __init__(self, content: np.ndarray):
        power = stft_power(tf.constant(content[None, :], tf.float32))[0]
        # never empty: the 95th-percentile frame is within LOUD_DB of itself
        frames = np.flatnonzero(timbre.loud_mask(power.numpy().sum(axis=1)))
        self.frames = tf.constant(frames, tf.int32)
        self.ceiling = tf.gather(log_flatness(power), self.frames)

    def __call__(self, wave: tf.Tensor) -> tf.Tensor:
        """Mean squared excess of x_G's ln flatness over x_C's, on x_C's loud frames."""
        excess = tf.gather(log_flatness(stft_power(wave)[0]), self.frames) - self.ceiling
        return tf.reduce_mean(tf.square(tf.nn.relu(excess)))

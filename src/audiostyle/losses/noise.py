"""An optional loss term against noise laid over x_C: x_G's spectral flatness held at x_C's.

Style losses that pull x_G's spectral frames toward x_S's distribution (a narrow-kernel MMD
most of all) fill the valleys between x_C's harmonics with noise (issue #18's flatness target,
docs/defaults.md). Flatness (geometric over arithmetic mean of a frame's power spectrum) is
near 0.01 for a harmonic voice and near 0.5 for white noise, and it hardly depends on which
harmonics are loud, so holding it down leaves the timbre terms free. Per loud frame f of x_C,
framed as librosa's (centred, 2048 / 256, power with librosa's amin 1e-10):

    L_n = mean over f of max(0, ln F_f(x_G) - ln F_f(x_C))^2,

one-sided: x_G may be cleaner than x_C, never noisier. Both spectra are floored at `floor_db`
below the peak bin of x_C's frame: a synthetic tone's valleys lie far below any voice's, and
without the floor Adam's first update (a broadband noise about its rate in amplitude, some 90 dB
under the tone) reads as a flatness many times x_C's, the loss never falls below x_G(0)'s and
keep-best returns x_C (docs/defaults.md). x_C's frames, floors and flatness are fixed before the
optimisation (numpy), x_G's come from the harmonic term's TensorFlow STFT.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from audiostyle.losses.harmonic import stft_power
from audiostyle.measures import timbre

AMIN = 1e-10  # librosa.feature.spectral_flatness's floor on the power spectrum
DEFAULT_FLOOR_DB = 80.0  # below x_C's peak bin (conf: loss.noise_floor_db; measured, defaults.md)


def log_flatness(power: tf.Tensor, floor: tf.Tensor | float = AMIN) -> tf.Tensor:
    """ln of each frame's spectral flatness, [..., frames] from power [..., frames, bins], with
    the power floored at `floor` (librosa's amin; or per frame, [..., frames, 1])."""
    floored = tf.maximum(power, floor)
    log_geometric = tf.reduce_mean(tf.math.log(floored), axis=-1)
    return log_geometric - tf.math.log(tf.reduce_mean(floored, axis=-1))


class NoiseLoss:
    """The term's fixed parts (x_C's loud frames and their flatness) and its value at x_G."""

    def __init__(self, content: np.ndarray, floor_db: float = DEFAULT_FLOOR_DB):
        power = stft_power(tf.constant(content[None, :], tf.float32))[0].numpy()
        # never empty: the 95th-percentile frame is within LOUD_DB of itself
        frames = np.flatnonzero(timbre.loud_mask(power.sum(axis=1)))
        loud = power[frames]
        peak = loud.max(axis=1, keepdims=True)
        self.frames = tf.constant(frames, tf.int32)
        self.floor = tf.constant(np.maximum(peak * 10.0 ** (-floor_db / 10.0), AMIN), tf.float32)
        self.ceiling = log_flatness(tf.constant(loud), self.floor)

    def __call__(self, wave: tf.Tensor) -> tf.Tensor:
        """Mean squared excess of x_G's ln flatness over x_C's, on x_C's loud frames."""
        power = tf.gather(stft_power(wave)[0], self.frames)
        excess = log_flatness(power, self.floor) - self.ceiling
        return tf.reduce_mean(tf.square(tf.nn.relu(excess)))

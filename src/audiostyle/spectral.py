"""Ulyanov & Lebedev's random spectrogram network, differentiable from the waveform.

`spectrum` = log(1 + |STFT(x)|) (Hann window, `tf.signal`), [batch, frames, n_fft / 2 + 1];
`conv` = ReLU of a 1-D convolution over time with random He-normal filters, the frequency bins
as input channels, [batch, frames, filters]. The waveform itself is optimised through the STFT:
no phase reconstruction. The NSynth mu-law setting does not apply: this network reads x.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from audiostyle.config import SpectralConfig


class SpectralNetwork:
    def __init__(self, cfg: SpectralConfig, seed: int):
        self.cfg = cfg
        bins = cfg.n_fft // 2 + 1
        rng = np.random.default_rng(seed)
        std = np.sqrt(2.0 / (cfg.width * bins))  # He-normal for the ReLU that follows
        self.kernel = tf.constant(
            rng.normal(0.0, std, size=(cfg.width, bins, cfg.filters)).astype(np.float32)
        )

    def spectrum(self, wave: tf.Tensor) -> tf.Tensor:
        stft = tf.signal.stft(
            wave,
            frame_length=self.cfg.n_fft,
            frame_step=self.cfg.hop,
            fft_length=self.cfg.n_fft,
            pad_end=True,
        )
        return tf.math.log1p(tf.abs(stft))

    def features(self, wave: tf.Tensor, names: list[str]) -> dict[str, tf.Tensor]:
        """The named layers of a waveform [batch, time]."""
        spec = self.spectrum(wave)
        out = {"spectrum": spec}
        if "conv" in names:
            out["conv"] = tf.nn.relu(tf.nn.convolution(spec, self.kernel, padding="SAME"))
        return {n: out[n] for n in names}

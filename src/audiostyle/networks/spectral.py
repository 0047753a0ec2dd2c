"""Ulyanov & Lebedev's random spectrogram network, differentiable from the waveform.

`spectrum` = log(1 + |STFT(x)|) (Hann window, `tf.signal`), [batch, frames, n_fft / 2 + 1];
`conv` = ReLU of a 1-D convolution over time with random He-normal filters, the frequency bins
as input channels, [batch, frames, filters], taken as one matmul of the unfolded frames: its
input gradient is then a matmul too (TensorFlow's CPU conv backprop ran at half the speed).
The waveform itself is optimised through the STFT: no phase reconstruction. The NSynth mu-law setting does not apply: this network reads x.
`dtype` bfloat16 (runtime.precision) takes the conv's matmul in bfloat16; the STFT and every
output stay float32.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from audiostyle.config.schema import SpectralConfig


class SpectralNetwork:
    def __init__(self, cfg: SpectralConfig, seed: int, dtype: tf.DType = tf.float32):
        self.cfg = cfg
        bins = cfg.n_fft // 2 + 1
        rng = np.random.default_rng(seed)
        std = np.sqrt(2.0 / (cfg.width * bins))  # He-normal for the ReLU that follows
        self.kernel = tf.constant(
            rng.normal(0.0, std, size=(cfg.width, bins, cfg.filters)).astype(np.float32)
        )
        self.dtype = dtype
        self._matrix = tf.cast(tf.reshape(self.kernel, [cfg.width * bins, cfg.filters]), dtype)

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
        return self._layers(self.spectrum(wave), names)

    def _layers(self, spec: tf.Tensor, names: list[str]) -> dict[str, tf.Tensor]:
        out = {"spectrum": spec}
        if "conv" in names:
            out["conv"] = tf.nn.relu(self._conv(spec))
        return {n: out[n] for n in names}

    def _conv(self, spec: tf.Tensor) -> tf.Tensor:
        """tf.nn.convolution(spec, kernel, "SAME") as [frames, width x bins] @ [width x bins,
        filters]: each row holds the `width` frames around one frame, zeros past the ends."""
        width, frames = self.cfg.width, tf.shape(spec)[1]
        left = (width - 1) // 2
        padded = tf.pad(tf.cast(spec, self.dtype), [[0, 0], [left, width - 1 - left], [0, 0]])
        rows = tf.concat([padded[:, j : j + frames] for j in range(width)], axis=2)
        return tf.cast(tf.einsum("btk,kc->btc", rows, self._matrix), tf.float32)

    # What chunked evaluation (chunked.py) needs to know of this network.
    @property
    def align(self) -> int:
        return self.cfg.hop  # window starts on a frame boundary

    def context(self, names: list[str]) -> int:
        """Samples each side of a chunk its frames depend on: the conv's frames, one FFT."""
        return (self.cfg.width // 2 + 1) * self.cfg.hop + self.cfg.n_fft

    def hop(self, name: str) -> int:
        return self.cfg.hop

    def steps(self, name: str, length: int) -> int:
        return -(-length // self.cfg.hop)  # STFT frames with pad_end

    def window_features(
        self, window: tf.Tensor, start: tf.Tensor, length: int, names: list[str]
    ) -> dict[str, tf.Tensor]:
        """The layers of window [batch, L] whose sample 0 is the clip's sample `start` (a
        multiple of hop, may be negative) of a clip of `length` samples. The whole clip's conv
        sees zero frames before its first and after its last frame, so the window's frames
        there are zeroed."""
        spec = self.spectrum(window)
        frame = start // self.cfg.hop + tf.range(tf.shape(spec)[1])
        frames = self.steps("spectrum", length)
        inside = tf.cast((frame >= 0) & (frame < frames), spec.dtype)[None, :, None]
        return self._layers(spec * inside, names)

"""What the optimiser holds (`optim.domain`), and how it becomes x_G's waveform.

- `waveform`, `mu_law`, `mu_law_units`: x_G's samples, as they are or mu-law companded
  (mulaw.py); one unit of learning rate moves a sample that far.
- `stft_gain`: a log-gain g on every cell of x_C's STFT, x_G = ISTFT(e^g STFT(x_C)). x_G keeps
  x_C's phase, so its partials stay at x_C's frequencies: its pitch is x_C's by construction
  and only the balance of its harmonics and bands, and their loudness, can move (issue #18's
  "time-varying gain on x_C's STFT"). g = 0 is x_C itself; one unit of learning rate is one
  neper (8.7 dB) of gain. Hann windows of GAIN_FFT samples, hop GAIN_HOP, padded by a window on
  each side, so that ISTFT(STFT(x)) = x to float32 precision over the whole clip.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from audiostyle.config.schema import Domain
from audiostyle.networks.mulaw import to_domain, to_waveform

GAIN_FFT = 1024  # 64 ms at 16 kHz: voice harmonics above 60 Hz resolved (4 bins apart at 1024)
GAIN_HOP = 256


class Parametrisation:
    """x_G as the optimiser's variable: `initial` makes it, `waveform` reads x_G from it."""

    def __init__(self, domain: Domain, content: np.ndarray | None = None):
        self.domain = domain
        self.length = 0 if content is None else int(np.asarray(content).shape[-1])
        self.content_stft: tf.Tensor | None = None
        if domain == Domain.stft_gain:
            if content is None:
                raise ValueError("optim.domain=stft_gain needs x_C, whose STFT it scales")
            self.content_stft = tf.constant(self._stft(tf.constant(np.atleast_2d(content))))

    def initial(self, x0: np.ndarray) -> tf.Tensor:
        """The variable at x_G(0): x0 in the domain, or zero gains (x_G(0) = x_C exactly)."""
        x0 = np.atleast_2d(x0).astype(np.float32)
        if self.content_stft is None:
            return to_domain(tf.constant(x0), self.domain)
        frames, bins = self.content_stft.shape[1:]
        return tf.zeros([x0.shape[0], frames, bins], tf.float32)

    def waveform(self, var: tf.Tensor) -> tf.Tensor:
        """x_G [batch, samples] from the variable (differentiable)."""
        if self.content_stft is None:
            return to_waveform(var, self.domain)
        scaled = tf.cast(tf.exp(var), tf.complex64) * self.content_stft
        return self._istft(scaled)

    @staticmethod
    def _stft(wave: tf.Tensor) -> tf.Tensor:
        padded = tf.pad(wave, [[0, 0], [GAIN_FFT, GAIN_FFT]])
        return tf.signal.stft(padded, GAIN_FFT, GAIN_HOP, GAIN_FFT, pad_end=True)

    def _istft(self, spec: tf.Tensor) -> tf.Tensor:
        window = tf.signal.inverse_stft_window_fn(GAIN_HOP)
        wave = tf.signal.inverse_stft(spec, GAIN_FFT, GAIN_HOP, GAIN_FFT, window_fn=window)
        return wave[:, GAIN_FFT : GAIN_FFT + self.length]

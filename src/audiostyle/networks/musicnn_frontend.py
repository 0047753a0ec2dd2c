"""musicnn's log-mel front end and its 3 s patches, in TensorFlow and differentiable.

musicnn's extractor: librosa.load at 16 kHz; librosa.feature.melspectrogram(n_fft=512, hop=256,
n_mels=96) with librosa's defaults (centred frames, zero padding, periodic Hann, power 2, Slaney
mel with Slaney norm); `.astype(np.float16)`; `np.log10(10000 * x + 1)`, which numpy then
computes in float16; non-overlapping patches of 187 frames (3 s), the last partial one dropped.

Here: the STFT in float64 rounded to complex64 as librosa computes it; librosa's own mel matrix;
float16 rounding with its forward value exact and its gradient passed straight through (a cast
to float16 would round the gradient to float16 too). `log10(10000 x + 1)` is looked up for the
rounded x in a table numpy computed in float16, so every value equals musicnn's. Two deviations:
where the float16 product overflows (a mel power above 6.55, common at full scale: musicnn then
feeds +inf to its network), the float32 value is kept; and a clip shorter than one patch is
padded with zeros to 187 frames (musicnn fails on it).
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

SAMPLE_RATE, N_FFT, HOP, N_MELS = 16000, 512, 256, 96
# librosa.time_to_frames(3 s) + 1, as musicnn's extractor computes its patch length
PATCH_FRAMES = (3 * SAMPLE_RATE - N_FFT // 2) // HOP + 1  # 187
MIN_SAMPLES = (PATCH_FRAMES - 1) * HOP  # centred frames: 1 + samples // hop
HALF_MAX = 65504.0  # the largest float16; 65520 and above round to inf


@functools.lru_cache(maxsize=1)
def mel_matrix() -> np.ndarray:
    """librosa's Slaney mel filterbank [257 bins, 96 bands], float32 as librosa applies it."""
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS).T.astype(np.float32)


@functools.lru_cache(maxsize=1)
def log_table() -> np.ndarray:
    """numpy's float16 `log10(10000 h + 1)` for every float16 h, indexed by h's bits."""
    halves = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return np.log10(10000 * halves + 1).astype(np.float32)


def straight_through(x: tf.Tensor, value: tf.Tensor) -> tf.Tensor:
    """`value` forward, the identity's gradient backward. x + (value - x) is exactly value:
    the two are within a factor 2 of each other, so their difference is exact."""
    return x + tf.stop_gradient(value - x)


def round_half(x: tf.Tensor) -> tf.Tensor:
    """x (>= 0) rounded to float16 (values that would overflow are kept), with x's gradient."""
    fits = x < 65520.0
    return straight_through(x, tf.where(fits, as_half(tf.minimum(x, HALF_MAX)), x))


def as_half(x: tf.Tensor) -> tf.Tensor:
    """x >= 0 rounded to the nearest float16 (ties to even), computed in float32 bits: a cast
    to float16 is the same number, but oneDNN prints an error line for it on CPUs without
    AVX-512, in the middle of a run."""
    x32 = tf.cast(x, tf.float32)
    bits = tf.bitcast(x32, tf.int32)
    odd = tf.bitwise.bitwise_and(tf.bitwise.right_shift(bits, 13), 1)
    normal = tf.bitwise.bitwise_and(bits + 0xFFF + odd, ~0x1FFF)  # 10 mantissa bits, to even
    tiny = tf.round(x32 * 2.0**24) / 2.0**24  # float16's subnormals: steps of 2^-24, to even
    rounded = tf.where(x32 < 2.0**-14, tiny, tf.bitcast(normal, tf.float32))
    return tf.cast(rounded, x.dtype)


def half_bits(x: tf.Tensor) -> tf.Tensor:
    """The float16 bit pattern (as int32) of x >= 0 that float16 holds exactly, from float32's
    bits: exponent rebiased from 127 to 15 and the top 10 mantissa bits; below 2^-14, x / 2^-24
    (float16's subnormals). No float16 op: see as_half."""
    x32 = tf.cast(x, tf.float32)
    bits = tf.bitcast(x32, tf.int32)
    exponent = tf.bitwise.right_shift(bits, 23) - 127 + 15
    mantissa = tf.bitwise.right_shift(tf.bitwise.bitwise_and(bits, 0x7FFFFF), 13)
    normal = tf.bitwise.bitwise_or(tf.bitwise.left_shift(exponent, 10), mantissa)
    subnormal = tf.cast(x32 * 2.0**24, tf.int32)
    return tf.where(x32 < 2.0**-14, subnormal, normal)


def power_spectrum(wave: tf.Tensor, dtype: tf.DType = tf.float32) -> tf.Tensor:
    """|STFT|^2 [batch, 1 + samples // 256, 257] of librosa's centred, zero-padded frames."""
    short = tf.maximum(MIN_SAMPLES - tf.shape(wave)[-1], 0)
    x = tf.pad(tf.cast(wave, tf.float64), [[0, 0], [N_FFT // 2, N_FFT // 2 + short]])
    stft = tf.signal.stft(
        x,
        frame_length=N_FFT,
        frame_step=HOP,
        fft_length=N_FFT,
        window_fn=functools.partial(tf.signal.hann_window, periodic=True, dtype=tf.float64),
    )
    if dtype != tf.float64:
        stft = tf.cast(stft, tf.complex64)  # librosa stores its float64 FFT as complex64
    return tf.math.real(stft) ** 2 + tf.math.imag(stft) ** 2  # smooth at 0, unlike |z|


def log_mel(wave: tf.Tensor, dtype: tf.DType = tf.float32, exact: bool = True) -> tf.Tensor:
    """musicnn's input [batch, frames, 96] from a 16 kHz waveform [batch, samples].
    `exact=False` skips the float16 rounding: the same curve, smooth for finite differences."""
    mel = tf.einsum("btf,fm->btm", power_spectrum(wave, dtype), tf.constant(mel_matrix(), dtype))
    smooth = tf.math.log(10000.0 * mel + 1.0) / tf.constant(np.log(10.0), dtype)
    if not exact:
        return smooth
    rounded = round_half(mel)
    bits = half_bits(tf.minimum(rounded, HALF_MAX))  # exact: rounded is a float16
    table = tf.cast(tf.gather(tf.constant(log_table()), bits), dtype)
    return straight_through(smooth, tf.where(tf.math.is_finite(table), table, smooth))


def patch_count(frames: int) -> int:
    """musicnn's patches: every 187 frames from frame 0 while a whole patch fits."""
    return max(frames - PATCH_FRAMES, 0) // PATCH_FRAMES + 1


def frame_count(samples: int) -> int:
    return 1 + max(samples, MIN_SAMPLES) // HOP


def patches(logmel: tf.Tensor) -> tf.Tensor:
    """[batch, frames, 96] -> [batch * patches, 187, 96], each clip's patches in a row."""
    count = patch_count(logmel.shape[1])
    cut = logmel[:, : count * PATCH_FRAMES]
    return tf.reshape(cut, [-1, PATCH_FRAMES, N_MELS])

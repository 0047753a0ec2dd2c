"""An optional loss term that moves x_G's harmonic balance toward x_S's at x_C's pitch.

Gram statistics of a fixed spectrogram network tie x_S's timbre to x_S's absolute pitch (its
harmonics sit at fixed bins). This term reads timbre the way timbre.py measures it instead:
harmonics 1..8 of each loud voiced frame of x_C, at x_C's pyin f0, in dB relative to their
sum. x_C's f0 track, frames and harmonic bands are fixed before the optimisation (numpy, pyin
once); x_S's target profile is timbre.harmonic_profile (its median over its own loud voiced
frames, at its own pitch). During the optimisation x_G's band powers come from a TensorFlow STFT
framed as librosa's (centred, periodic Hann, 2048 / 256), so the term is differentiable:

    L_h = mean over x_C's loud voiced frames f and harmonics k of (P_fk(x_G) - P_k(x_S))^2 (dB^2),

both profiles renormalised, per frame, over the harmonics that frame and x_S both hold (those
under 0.9 x Nyquist at x_C's f0, and x_S's present ones).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from audiostyle.errors import AudioError
from audiostyle.measures import timbre

FLOOR = 10.0 ** (timbre.FLOOR_DB / 10.0)  # a harmonic's power floor, relative to its frame's total


def stft_power(wave: tf.Tensor) -> tf.Tensor:
    """|STFT|^2 [batch, frames, bins], framed as librosa.stft(n_fft=2048, hop=256) (centred)."""
    half = timbre.FRAME // 2
    padded = tf.pad(wave, [[0, 0], [half, half]])
    spec = tf.signal.stft(
        padded, timbre.FRAME, timbre.HOP, timbre.FRAME, window_fn=tf.signal.hann_window
    )
    return tf.square(tf.abs(spec))


def band_masks(f0: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the 0/1 bins of harmonics 1..8 ([frames, 8, bins], timbre._harmonic_db's
    bands) and which harmonics lie under 0.9 x Nyquist ([frames, 8])."""
    bins = timbre.FRAME // 2 + 1
    k = np.arange(1, timbre.HARMONICS + 1)
    masks = np.zeros((len(f0), timbre.HARMONICS, bins), np.float32)
    valid = k[None, :] * f0[:, None] < 0.45 * rate
    for i, f in enumerate(f0):
        edges = np.round((np.arange(timbre.HARMONICS + 1) + 0.5) * f * timbre.FRAME / rate)
        for j in range(timbre.HARMONICS):
            if valid[i, j]:
                masks[i, j, int(edges[j]) : int(edges[j + 1])] = 1.0
    return masks, valid


def frame_profiles(power: tf.Tensor, frames: tf.Tensor, masks: tf.Tensor, valid: tf.Tensor):
    """dB of each harmonic relative to the frame's sum over `valid` ones, [frames, 8].

    power: [frames_all, bins] of one clip; frames: the rows to read; masks, valid: band_masks."""
    levels = tf.einsum("fb,fkb->fk", tf.gather(power, frames), masks) * valid
    total = tf.reduce_sum(levels, axis=-1, keepdims=True)
    ratio = (tf.maximum(levels, FLOOR * total) + 1e-30) / (total + 1e-30)  # as _harmonic_db
    return 10.0 * tf.math.log(ratio) / tf.math.log(10.0)


def _renormalise(db: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per row, dB relative to the sum over `keep`; 0 where not kept."""
    power = np.where(keep, 10.0 ** (np.nan_to_num(db, nan=-300.0) / 10.0), 0.0)
    out = 10.0 * np.log10(np.maximum(power, 1e-300) / power.sum(axis=-1, keepdims=True))
    return np.where(keep, out, 0.0)


class HarmonicLoss:
    """The term's fixed parts (x_C's frames, bands and x_S's profile) and its value at x_G."""

    def __init__(self, content: np.ndarray, style: np.ndarray, rate: int, octaves: int = 0):
        """octaves: x_C's pitch moved by whole octaves, where x_G(0) plays x_C's melody in x_S's
        register (init=world, init.octaves)."""
        target = timbre.harmonic_profile(style, rate)
        if target is None:
            raise AudioError(
                "loss.harmonic_weight needs a pitched x_S: pyin hears no loud voice in it"
            )
        f0, voiced = timbre.f0_track(content, rate)
        power = stft_power(tf.constant(content[None, :], tf.float32))[0].numpy()
        n = min(power.shape[0], len(f0))
        frames = np.flatnonzero(voiced[:n] & timbre.loud_mask(power[:n].sum(axis=1)))
        masks, valid = band_masks(f0[frames] * 2.0**octaves, rate)
        keep = valid & np.isfinite(target)[None, :]
        enough = keep.sum(axis=1) >= 2  # a profile of one harmonic is always 0 dB
        frames, masks, keep = frames[enough], masks[enough], keep[enough]
        if len(frames) == 0:
            raise AudioError(
                "loss.harmonic_weight needs a pitched x_C: pyin hears no loud voice in it"
            )
        self.frames = tf.constant(frames, tf.int32)
        self.masks = tf.constant(masks * keep[:, :, None], tf.float32)
        self.keep = tf.constant(keep, tf.float32)
        self.target = tf.constant(_renormalise(np.tile(target, (len(frames), 1)), keep), tf.float32)

    def profiles(self, wave: tf.Tensor) -> tf.Tensor:
        """x_G's dB profile in each of x_C's loud voiced frames, [frames, 8] (0 where not kept)."""
        db = frame_profiles(stft_power(wave)[0], self.frames, self.masks, self.keep)
        return db * self.keep

    def __call__(self, wave: tf.Tensor) -> tf.Tensor:
        """Mean squared dB difference to x_S's profile over the kept (frame, harmonic) pairs."""
        diff = (self.profiles(wave) - self.target) * self.keep
        return tf.reduce_sum(tf.square(diff)) / tf.reduce_sum(self.keep)

"""musicnn's checkpoints as a run's feature network (encoder=musicnn): taps of a waveform.

`MusicnnNetwork` is the tagger as musicnn runs it; a loss needs three things it does not do:
- **Every sample counts.** musicnn drops a last partial 3 s patch; here the clip is padded with
  zeros to whole patches (so a 3 s clip, 188 frames, is two patches: 2.976 s is one) and each tap
  keeps only the steps of the clip's own frames (`steps`): a clip shorter than a patch works.
- **Smooth.** The log-mel skips musicnn's float16 rounding (`exact=False`): the same curve,
  without a staircase that Adam and a line search would read as flat.
- **Chunks.** Every output depends only on its own 3 s patch, and a patch's frames on the 256
  samples either side of it: chunks are whole patches (`align`), and a window's frames are taken
  from its own samples (uncentred), so a chunked run computes the whole clip's taps exactly.

Taps are [batch, time, channels] as `MusicnnNetwork._by_clip` lays them out. Frame-rate taps
(`logmel`, `timbral`, `temporal`, `cnn1`..`cnn3`) have 187 steps a patch, hop 256; vgg's pools
92, 46, 23, 11 and 2 steps a patch, whose hop (samples per step) is the exact fraction
47,872 / steps, which chunked.py's integer divisions take exactly; `mean_pool`, `max_pool` and
`penultimate` one step a patch. Float32 only (runtime.precision=bfloat16 is refused).
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np
import tensorflow as tf

from audiostyle.networks import musicnn_frontend as fe
from audiostyle.networks.layers import MUSICNN_PATCH_LAYERS
from audiostyle.networks.musicnn import MusicnnNetwork

PATCH_SAMPLES = fe.PATCH_FRAMES * fe.HOP  # 47,872: the samples between two patches' starts
VGG_STEPS = {"pool1": 92, "pool2": 46, "pool3": 23, "pool4": 11, "pool5": 2}  # per patch
VGG_STRIDE = {"pool1": 2, "pool2": 4, "pool3": 8, "pool4": 16, "pool5": 64}  # frames per step


def clip_frames(length: int) -> int:
    """The frames centred inside a clip of `length` samples (librosa's centred frames)."""
    return 1 + length // fe.HOP


class MusicnnFeatures:
    """One musicnn checkpoint as a feature network of a 16 kHz waveform [batch, samples]."""

    def __init__(self, model: str):
        self.model = model
        self.net = MusicnnNetwork(model, tf.float32, exact=False)
        self.mel = tf.constant(fe.mel_matrix())

    # -- the taps --------------------------------------------------------------------------

    def _power(self, x: tf.Tensor) -> tf.Tensor:
        """|STFT|^2 of uncentred frames (frame m is x[m * 256 : m * 256 + 512]), computed as
        musicnn_frontend.power_spectrum computes its centred ones."""
        stft = tf.signal.stft(
            tf.cast(x, tf.float64),
            frame_length=fe.N_FFT,
            frame_step=fe.HOP,
            fft_length=fe.N_FFT,
            window_fn=functools.partial(tf.signal.hann_window, periodic=True, dtype=tf.float64),
        )
        stft = tf.cast(stft, tf.complex64)
        return tf.math.real(stft) ** 2 + tf.math.imag(stft) ** 2

    def _taps(self, power: tf.Tensor, names: list[str]) -> dict[str, tf.Tensor]:
        """Taps of whole patches of power frames [batch, patches x 187, 257]."""
        mel = tf.einsum("btf,fm->btm", power, self.mel)
        logmel = tf.math.log(10000.0 * mel + 1.0) / np.log(10.0).astype(np.float32)
        per_patch = self.net.from_patches(tf.reshape(logmel, [-1, fe.PATCH_FRAMES, fe.N_MELS]))
        batch = tf.shape(power)[0]
        return {n: self.net._by_clip(per_patch[n], batch, n) for n in names}

    def features(self, wave: tf.Tensor, names: list[str]) -> dict[str, tf.Tensor]:
        """The named taps of a waveform [batch, samples]: its steps only (see `steps`)."""
        length = int(wave.shape[1])
        patches = -(-clip_frames(length) // fe.PATCH_FRAMES)
        right = patches * PATCH_SAMPLES - length  # centred frames: 256 of it is the last frame's
        x = tf.pad(wave, [[0, 0], [fe.HOP, right]])
        taps = self._taps(self._power(x)[:, : patches * fe.PATCH_FRAMES], names)
        return {n: taps[n][:, : self.steps(n, length)] for n in names}

    # -- what chunked evaluation (chunked.py) needs to know of this network ------------------

    align = PATCH_SAMPLES  # chunks and windows start on the clip's patch boundaries

    def context(self, names: list[str]) -> int:
        """Samples each side of a chunk its outputs depend on: half an STFT frame."""
        return fe.HOP

    def hop(self, name: str) -> int | Fraction:
        """Samples per time step of a tap (exact: vgg's pools have no whole number)."""
        if name in VGG_STEPS:
            return Fraction(PATCH_SAMPLES, VGG_STEPS[name])
        return PATCH_SAMPLES if name in MUSICNN_PATCH_LAYERS else fe.HOP

    def steps(self, name: str, length: int) -> int:
        """A tap's steps over a clip of `length` samples: those of the clip's own frames (a
        pooled step that starts inside the clip counts; a patch tap counts each patch)."""
        frames = clip_frames(length)
        if name in MUSICNN_PATCH_LAYERS:
            return -(-frames // fe.PATCH_FRAMES)
        if name in VGG_STEPS:
            whole, rest = divmod(frames, fe.PATCH_FRAMES)
            per = VGG_STEPS[name]
            return whole * per + min(per, math.ceil(rest / VGG_STRIDE[name]))
        return frames

    def window_features(
        self, window: tf.Tensor, start: tf.Tensor, length: int, names: list[str]
    ) -> dict[str, tf.Tensor]:
        """The taps of window [batch, L] whose sample 0 is the clip's sample `start` (a
        multiple of a patch; may be negative, zeros outside the clip), L whole patches: step t
        of a frame tap is the clip's frame start / 256 + t. The uncentred frame m is centred on
        the clip's frame start / 256 + m + 1, so one zero frame goes first (it lies in the
        window's context patch, whose outputs chunked.py never keeps)."""
        power = self._power(window)
        power = tf.pad(power, [[0, 0], [1, 0], [0, 0]])
        return self._taps(power, names)

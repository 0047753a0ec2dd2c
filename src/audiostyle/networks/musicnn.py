"""musicnn's pretrained taggers (Pons & Serra 2019) in TensorFlow 2, from the waveform.

Two architectures, each trained on MagnaTagATune (MTT) and the Million Song Dataset (MSD):
- musicnn: a 1-channel batch norm; timbral convs [7 x 38] and [7 x 67] (204 filters) and
  temporal convs [128|64|32 x 1] (51 filters), each ReLU, batch norm, max over the mel bands;
  three [7]-frame convs of 64 (the second and third residual); the max and mean over time of
  all 753 channels; a dense 200 (`penultimate`), dense 50 logits.
- vgg: five 3x3 convs of 128 (ReLU, batch norm, max pool), dense 50 logits on pool5.
Every conv is ReLU then batch norm with the moving statistics (epsilon 1e-3, as
`tf.compat.v1.layers` builds it); dropout is off at inference. The network sees 3 s patches
(musicnn_frontend); `taggram` is the sigmoid of each patch's logits, and `tags` averages it over
the patches as musicnn's `tagger.top_tags` does.

Taps are [batch, time, channels]: the frame-rate ones (`FRAME_TAPS`) with each clip's patches
one after another in time (vgg's pools flatten bands x filters into channels); the patch ones,
one step per 3 s patch. Tests/test_musicnn.py and scripts/musicnn_crosscheck.py compare them
with musicnn's own graph.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from audiostyle.networks import musicnn_frontend as fe
from audiostyle.networks.musicnn_weights import (
    MUSICNN_MODELS,
    TEMPORAL,
    TIMBRAL,
    architecture,
    bn_name,
    labels,
    load_weights,
)

MUSICNN_TAPS = (
    "logmel", "timbral", "temporal", "cnn1", "cnn2", "cnn3",
    "mean_pool", "max_pool", "penultimate", "logits", "taggram",
)  # fmt: skip
VGG_TAPS = ("logmel", "pool1", "pool2", "pool3", "pool4", "pool5", "logits", "taggram")
FRAME_TAPS = ("logmel", "timbral", "temporal", "cnn1", "cnn2", "cnn3", *VGG_TAPS[1:6])
EMBEDDING = {"musicnn": "penultimate", "vgg": "pool5"}
BN_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization's default
VGG_POOLS = (
    ((4, 1), (2, 2)),
    ((2, 2), (2, 2)),
    ((2, 2), (2, 2)),
    ((2, 2), (2, 2)),
    ((4, 4), (4, 4)),
)

__all__ = ["MUSICNN_MODELS", "MUSICNN_TAPS", "VGG_TAPS", "MusicnnNetwork", "tap_names"]


def tap_names(model: str) -> tuple[str, ...]:
    return MUSICNN_TAPS if architecture(model) == "musicnn" else VGG_TAPS


class MusicnnNetwork:
    """One of musicnn's four checkpoints as a function of a 16 kHz waveform [batch, samples].

    `exact=False` leaves out the float16 rounding of the mel spectrogram (musicnn rounds it):
    the same network on a smooth input, for finite differences. `dtype` float64 computes
    everything in float64 (the weights are float32 values)."""

    def __init__(
        self, model: str = "MTT_musicnn", dtype: tf.DType = tf.float32, exact: bool = True
    ):
        self.model, self.arch = model, architecture(model)
        self.dtype, self.exact = dtype, exact
        self.labels = labels(model)
        self.names = tap_names(model)
        self.w = {k: tf.constant(v, dtype) for k, v in load_weights(model).items()}

    # -- the waveform interface ---------------------------------------------------------------

    def features(self, wave: tf.Tensor, names: list[str] | tuple[str, ...]) -> dict[str, tf.Tensor]:
        """The named taps of a waveform [batch, samples] at 16 kHz."""
        unknown = [n for n in names if n not in self.names]
        if unknown:
            raise ValueError(f"{self.model} has no tap {unknown}; its taps are {self.names}")
        wave = tf.convert_to_tensor(wave)
        logmel = fe.log_mel(wave, self.dtype, self.exact)
        batch = tf.shape(wave)[0]
        per_patch = self.from_patches(fe.patches(logmel))
        return {n: self._by_clip(per_patch[n], batch, n) for n in names}

    def __call__(self, wave: tf.Tensor) -> dict[str, tf.Tensor]:
        return self.features(wave, self.names)

    def tags(self, wave: tf.Tensor) -> tf.Tensor:
        """Tag probabilities [batch, 50]: the taggram's mean over the patches."""
        return self.tags_and_embedding(wave)[0]

    def embedding(self, wave: tf.Tensor) -> tf.Tensor:
        """[batch, 200] musicnn's penultimate layer, or [batch, 256] vgg's flattened pool5,
        averaged over the patches (vgg has no dense layer before its logits)."""
        return self.tags_and_embedding(wave)[1]

    def tags_and_embedding(self, wave: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """`tags` and `embedding` from one pass of the network (a judge wants both)."""
        wave = tf.convert_to_tensor(wave)
        batch = tf.shape(wave)[0]
        taps = self.from_patches(fe.patches(fe.log_mel(wave, self.dtype, self.exact)))
        name = EMBEDDING[self.arch]
        per_patch = tf.reshape(taps[name], [batch, -1, self._width(taps[name])])
        taggram = self._by_clip(taps["taggram"], batch, "taggram")
        return tf.reduce_mean(taggram, axis=1), tf.reduce_mean(per_patch, axis=1)

    @staticmethod
    def _width(t: tf.Tensor) -> int:
        return int(np.prod(t.shape[1:]))

    @staticmethod
    def _by_clip(t: tf.Tensor, batch: tf.Tensor, name: str) -> tf.Tensor:
        """[batch * patches, steps, ...] -> [batch, patches * steps, channels]; vgg's pools
        [n, time, bands, filters] flatten bands x filters into channels."""
        channels = int(np.prod(t.shape[2:])) if len(t.shape) == 4 else t.shape[-1]
        return tf.reshape(t, [batch, -1, channels])

    # -- the network on musicnn's patches [n, 187, 96] ----------------------------------------

    def from_patches(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        """Every tap of each patch [n, 187, 96], in musicnn's shapes (vgg pools 4-D)."""
        x = tf.cast(x, self.dtype)
        taps = self._musicnn(x) if self.arch == "musicnn" else self._vgg(x)
        taps["logmel"] = x
        taps["taggram"] = tf.sigmoid(taps["logits"])
        return taps

    def _bn(self, x: tf.Tensor, i: int) -> tf.Tensor:
        n = bn_name(i)
        scale = self.w[f"{n}/gamma"] * tf.math.rsqrt(self.w[f"{n}/moving_variance"] + BN_EPSILON)
        return (x - self.w[f"{n}/moving_mean"]) * scale + self.w[f"{n}/beta"]

    def _conv2d(self, x: tf.Tensor, name: str, padding: str) -> tf.Tensor:
        y = tf.nn.conv2d(x, self.w[f"{name}/kernel"], strides=1, padding=padding)
        return tf.nn.relu(y + self.w[f"{name}/bias"])

    def _conv_time(self, x: tf.Tensor, name: str) -> tf.Tensor:
        """musicnn's mid-end conv: 7 frames x all channels, zero-padded 3 frames each side."""
        kernel = self.w[f"{name}/kernel"][:, :, 0, :]  # [7, channels, 1, 64] -> [7, channels, 64]
        padded = tf.pad(x, [[0, 0], [3, 3], [0, 0]])
        return tf.nn.relu(
            tf.nn.conv1d(padded, kernel, stride=1, padding="VALID") + self.w[f"{name}/bias"]
        )

    def _dense(self, x: tf.Tensor, name: str) -> tf.Tensor:
        return tf.matmul(x, self.w[f"{name}/kernel"]) + self.w[f"{name}/bias"]

    def _musicnn(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        image = self._bn(x, 0)[..., None]  # [n, 187, 96, 1]
        padded = tf.pad(image, [[0, 0], [3, 3], [0, 0], [0, 0]])
        front = []
        for i in range(len(TIMBRAL) + len(TEMPORAL)):
            timbral = i < len(TIMBRAL)
            conv = self._conv2d(padded if timbral else image, f"conv2d_{i}" if i else "conv2d",
                                "VALID" if timbral else "SAME")  # fmt: skip
            front.append(tf.reduce_max(self._bn(conv, i + 1), axis=2))  # max over the bands
        cnn1 = self._bn(self._conv_time(tf.concat(front, 2), "conv2d_5"), 6)
        cnn2 = self._bn(self._conv_time(cnn1, "conv2d_6"), 7) + cnn1
        cnn3 = self._bn(self._conv_time(cnn2, "conv2d_7"), 8) + cnn2
        stack = tf.concat([*front, cnn1, cnn2, cnn3], 2)  # [n, 187, 753]
        max_pool, mean_pool = tf.reduce_max(stack, 1), tf.reduce_mean(stack, 1)
        pooled = tf.reshape(tf.stack([max_pool, mean_pool], -1), [-1, 2 * stack.shape[-1]])
        penultimate = self._bn(tf.nn.relu(self._dense(self._bn(pooled, 9), "dense")), 10)
        return {
            "timbral": tf.concat(front[: len(TIMBRAL)], 2),
            "temporal": tf.concat(front[len(TIMBRAL) :], 2),
            "cnn1": cnn1,
            "cnn2": cnn2,
            "cnn3": cnn3,
            "mean_pool": mean_pool,
            "max_pool": max_pool,
            "penultimate": penultimate,
            "logits": self._dense(penultimate, "dense_1"),
        }

    def _vgg(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        h = self._bn(x, 0)[..., None]
        taps = {}
        for i, (size, stride) in enumerate(VGG_POOLS, start=1):
            h = self._bn(self._conv2d(h, f"{i}CNN", "SAME"), i)
            h = tf.nn.max_pool2d(h, ksize=size, strides=stride, padding="VALID")
            taps[f"pool{i}"] = h
        taps["logits"] = self._dense(tf.reshape(h, [tf.shape(h)[0], -1]), "dense")
        return taps

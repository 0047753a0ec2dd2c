"""The paper's loss: L = sum_s w_s * L_style,s + alpha * L_content, on encoder taps.

Gram matrix of a layer F [batch, time, channels]: G = F^T F / time (channels x channels), so
clips of any length compare. Per-layer distances:
- `normalize=none` (the paper): mean over entries of (X - X_target)^2.
- `normalize=per_layer`: ||X - X_target||^2 / ||X_target||^2, which puts every layer on one
  scale. Raw Gram differences grow with the fourth power of activation size, which grows
  through the residual stack, so without it the last layers carry nearly all of the loss.
X is G(S(x)) for `gram`, S(x) itself for `l2`, and C(x) for the content term; `histogram`
compares each channel's sorted S(x) over time with x_S's quantiles (losses/histogram.py), and
`mmd` the sets of frames of S(x) and S(x_S) under a Gaussian kernel (losses/mmd.py).
An optional energy-contour term (Verma & Smith; the paper's future work) adds
`energy_weight * mean((E(x) - E(x_C))^2)`, E = log mean power of 64 ms frames (hop 16 ms), so x_G
keeps x_C's loudness over time (its pauses stay quiet).
Targets are computed once, when the objective is built.

A layer with far fewer time steps than channels (the spectral network: 188 frames, 4096 filters
at 3 s) never forms its C x C Gram matrices: the Gram distance is taken through T x T products of
frames (`frame_gram_distance`), the same number with far less work.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import tensorflow as tf

from audiostyle.config.schema import LossType, Normalize
from audiostyle.errors import AudioError
from audiostyle.losses.gram import gram
from audiostyle.losses.harmonic import HarmonicLoss
from audiostyle.losses.histogram import SortedTarget, sorted_over_time
from audiostyle.losses.mmd import KernelTarget, check_pairs, mmd_distance
from audiostyle.losses.noise import DEFAULT_FLOOR_DB, NoiseLoss

log = logging.getLogger(__name__)

TINY = 1e-12
ENERGY_FRAME = 1024
ENERGY_HOP = 256


def energy_contour(wave: tf.Tensor) -> tf.Tensor:
    """log mean power per frame, [batch, frames]."""
    frames = tf.signal.frame(wave, ENERGY_FRAME, ENERGY_HOP, pad_end=True)
    return tf.math.log(tf.reduce_mean(tf.square(frames), axis=-1) + 1e-8)


def distance(x: tf.Tensor, target: tf.Tensor, normalize: Normalize) -> tf.Tensor:
    diff = tf.square(x - target)
    if normalize == Normalize.none:
        return tf.reduce_mean(diff)
    return tf.reduce_sum(diff) / tf.maximum(tf.reduce_sum(tf.square(target)), TINY)


FRAMES_PER_CHANNEL = 0.2  # below it, Gram distances through frames are the cheaper (measured)


def gram_by_frames(frames: int, channels: int) -> bool:
    """Whether a layer's Gram distance is cheaper through its frames (T x T products in float64,
    O(T^2 C)) than through its Gram matrices (C x C, O(T C^2)). Measured on CPU at 4096 channels
    (docs/speed.md): 7.3x cheaper at 188 frames, even at 800, 2.1x dearer at 1600. Not measured
    on a GPU, where float64 may be much slower than float32."""
    return frames < FRAMES_PER_CHANNEL * channels


def _frame_products(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """||A B^T||_F^2 per batch element, [batch], in float64."""
    return tf.reduce_sum(tf.square(tf.einsum("btc,bsc->bts", a, b)), axis=[1, 2])


class FrameGramTarget:
    """x_S's Gram matrix S of a layer, held as its features F_s and ||S||_F^2 (float64)."""

    def __init__(self, features: tf.Tensor):
        f = tf.cast(features, tf.float64)
        steps = float(features.shape[1])
        self.features = tf.Variable(f, trainable=False)
        self.gram_norm2 = tf.Variable(_frame_products(f, f) / steps**2, trainable=False)

    def as_gram_matrix(self) -> tf.Tensor:
        """S itself, [batch, C, C] float32 (for inspection; the loss never forms it)."""
        return tf.cast(gram(self.features), tf.float32)


def frame_gram_distance(
    features: tf.Tensor, target: FrameGramTarget, normalize: Normalize
) -> tf.Tensor:
    """distance(gram(F), S, normalize) without forming a C x C matrix:
    ||F^T F / n - F_s^T F_s / m||^2 = ||F F^T||^2 / n^2 - 2 ||F F_s^T||^2 / (n m) + ||S||^2.

    The three terms nearly cancel as x_G's Gram approaches the style's, so they are taken in
    float64: then the distance is closer to the exact one than the float32 Gram's, also where
    it has fallen by 10^9 (tests/test_objective.py). At 3 s on the spectral network (188
    frames, 4096 channels) the distance and its gradient cost 7.3x less than through the
    4096 x 4096 Grams (docs/speed.md)."""
    f = tf.cast(features, tf.float64)
    n = float(features.shape[1])
    m = float(target.features.shape[1])
    # one style clip for a batch of x_G, as `distance` broadcasts a [1, C, C] target
    fs = tf.broadcast_to(target.features, [f.shape[0], *target.features.shape[1:]])
    squared = (
        _frame_products(f, f) / n**2 - 2.0 * _frame_products(f, fs) / (n * m) + target.gram_norm2
    )
    if normalize == Normalize.none:  # the mean over the C x C entries, as `distance`
        out = tf.reduce_sum(squared) / (squared.shape[0] * features.shape[2] ** 2)
    else:
        out = tf.reduce_sum(squared) / tf.maximum(tf.reduce_sum(target.gram_norm2), TINY)
    return tf.cast(out, tf.float32)


StyleTarget = tf.Variable | FrameGramTarget | SortedTarget | KernelTarget


@dataclass(frozen=True)
class LossTerms:
    total: tf.Tensor
    content: tf.Tensor
    style: tf.Tensor
    per_layer: tf.Tensor  # unweighted style distance of each style layer
    energy: tf.Tensor  # unweighted energy-contour distance (0 when the term is off)
    harmonic: tf.Tensor | None = None  # unweighted harmonic-profile distance (harmonic_loss.py)
    noise: tf.Tensor | None = None  # unweighted flatness excess over x_C's (noise_loss.py)


class StyleTransferObjective:
    """Callable on a waveform [1, time]; holds the fixed targets of x_C and x_S."""

    def __init__(
        self,
        network,
        content_layer: str,
        style_layers: list[str],
        style_weights: list[float],
        loss_type: LossType,
        normalize: Normalize,
        alpha: float,
        energy_weight: float = 0.0,
        harmonic_weight: float = 0.0,
        sample_rate: int = 16000,
        mmd_bandwidth: float = 1.0,
        noise_weight: float = 0.0,
        noise_floor_db: float = DEFAULT_FLOOR_DB,
        harmonic_octaves: int = 0,
    ):
        self.network = network  # anything with features(wave [batch, time], names) -> dict
        self.content_layer = content_layer
        self.style_layers = list(style_layers)
        self.weights = tf.constant(style_weights, tf.float32)
        self.loss_type = loss_type
        self.normalize = normalize
        self.mmd_bandwidth = float(mmd_bandwidth)  # loss=mmd: s^2 over x_S's mean frame distance
        self.alpha = float(alpha)
        self.energy_weight = float(energy_weight)
        self.energy_target: tf.Variable | None = None
        self.harmonic_weight, self.sample_rate = float(harmonic_weight), sample_rate
        self.harmonic: HarmonicLoss | None = None  # built by set_targets when its weight is > 0
        self.harmonic_octaves = int(harmonic_octaves)  # its pitch: x_C's moved by whole octaves
        self.noise_weight, self.noise_floor_db = float(noise_weight), float(noise_floor_db)
        self.noise: NoiseLoss | None = None  # likewise
        self._names = list(dict.fromkeys([content_layer, *style_layers]))
        # alpha 0 (the paper's pitch experiments): the content term weighs nothing, so its layer
        # is not computed (final_relu would mean all 30 blocks for a first-five-layers run)
        self.uses_content = self.alpha != 0
        self.content_target: tf.Variable | None = None
        # per style layer: its activations (l2), its Gram matrix, a FrameGramTarget, or its
        # sorted activations (histogram), or a KernelTarget (mmd)
        self.style_targets: list[StyleTarget] = []

    def _style_target(self, layer: str, taps: tf.Tensor, scale: float) -> StyleTarget:
        """x_S's target of one layer; `scale`: x_G's length over x_S's (x_G's frames count)."""
        if self.loss_type == LossType.histogram:
            return SortedTarget(taps)
        if self.loss_type == LossType.l2:
            return tf.Variable(taps, trainable=False)
        if self.loss_type == LossType.mmd:
            check_pairs(math.ceil(taps.shape[1] * scale), int(taps.shape[1]), layer)
            return KernelTarget(taps, self.mmd_bandwidth)
        frames = math.ceil(taps.shape[1] * max(1.0, scale))
        if gram_by_frames(frames, taps.shape[2]):
            return FrameGramTarget(taps)
        return tf.Variable(gram(taps), trainable=False)

    def as_gram_matrices(self) -> None:
        """Hold every Gram target as its C x C matrix (the reference form; slower for layers
        with few frames): the step then forms x_G's Gram matrices too."""
        self.style_targets = [
            tf.Variable(t.as_gram_matrix()) if isinstance(t, FrameGramTarget) else t
            for t in self.style_targets
        ]

    def _by_frames(self) -> list[str]:
        """Style layers whose Gram distance goes through frames (no C x C Gram formed)."""
        pairs = zip(self.style_layers, self.style_targets)
        return [n for n, t in pairs if isinstance(t, FrameGramTarget)]

    def set_targets(self, content: tf.Tensor, style: tf.Tensor) -> None:
        """Compute C(x_C) and the style targets of x_S once (stored as variables, not constants)."""
        c = self.content_layer
        # alpha 0: no content target (its layer is never computed, not even for x_C)
        target = (
            self.network.features(content, [c])[c] if self.uses_content else tf.zeros([1, 0, 0])
        )
        s = self.network.features(style, self.style_layers)
        self.content_target = tf.Variable(target, trainable=False)
        self.energy_target = tf.Variable(energy_contour(content), trainable=False)
        self.set_stft_targets(content, style)
        self.set_style_targets(s, content.shape[1], style.shape[1])

    def set_style_targets(self, taps: dict[str, tf.Tensor], content: int, style: int) -> None:
        """Every style layer's target from x_S's whole-clip `taps`; x_G is as long as x_C
        (`content` samples against x_S's `style`), which some targets count in."""
        scale = content / style
        self.style_targets = [self._style_target(n, taps[n], scale) for n in self.style_layers]

    def set_stft_targets(self, content: tf.Tensor, style: tf.Tensor) -> None:
        """The fixed parts of the terms read from x_G's STFT, each when its weight is > 0: the
        harmonic term's (x_C's pitch, x_S's profile) and the noise term's (x_C's flatness).

        The harmonic term reads pitch: where pyin hears none in x_C or x_S (a drum, a whisper)
        it is off for this run, with a warning (loss/harmonic then reads 0), and the rest runs
        as set."""
        self.harmonic = None
        if self.harmonic_weight > 0:
            try:
                self.harmonic = HarmonicLoss(
                    content[0].numpy(), style[0].numpy(), self.sample_rate, self.harmonic_octaves
                )
            except AudioError as err:
                log.warning("%s: the harmonic term is off for this run", err)
        self.noise = (
            NoiseLoss(content[0].numpy(), self.noise_floor_db) if self.noise_weight > 0 else None
        )

    def stft_terms(self, wave: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """The weighted sum of the STFT terms, and each unweighted (0 for a term that is off)."""
        harmonic = self.harmonic(wave) if self.harmonic is not None else tf.zeros([])
        noise = self.noise(wave) if self.noise is not None else tf.zeros([])
        return self.harmonic_weight * harmonic + self.noise_weight * noise, harmonic, noise

    @property
    def computed_names(self) -> list[str]:
        """The layers a step computes: the content layer only when its term has weight."""
        return self._names if self.uses_content else list(dict.fromkeys(self.style_layers))

    def _style_inputs(self, wave: tf.Tensor) -> tuple[dict[str, tf.Tensor], list[tf.Tensor]]:
        """The taps, and each style layer's activations (l2 and frame-form Grams) or Gram; a
        network that computes Grams as it goes (`features_and_grams`) does so, to keep
        backprop's memory low."""
        content = [self.content_layer] if self.uses_content else []
        if self.loss_type == LossType.gram:
            by_frames = self._by_frames()
            grams_of = [n for n in self.style_layers if n not in by_frames]
            if hasattr(self.network, "features_and_grams"):
                taps_of = list(dict.fromkeys([*content, *by_frames]))
                taps, grams = self.network.features_and_grams(wave, taps_of, grams_of)
            else:
                taps = self.network.features(wave, self.computed_names)
                grams = {n: gram(taps[n]) for n in grams_of}
            return taps, [taps[n] if n in by_frames else grams[n] for n in self.style_layers]
        taps = self.network.features(wave, self.computed_names)
        return taps, [taps[n] for n in self.style_layers]

    def style_distance(self, x: tf.Tensor, target: StyleTarget) -> tf.Tensor:
        if isinstance(target, FrameGramTarget):
            return frame_gram_distance(x, target, self.normalize)
        if isinstance(target, SortedTarget):
            return distance(sorted_over_time(x), target.at(int(x.shape[1])), self.normalize)
        if isinstance(target, KernelTarget):  # bounded by 2: `normalize` leaves it as it is
            return mmd_distance(x, target)
        return distance(x, target, self.normalize)

    def __call__(self, wave: tf.Tensor) -> LossTerms:
        if self.content_target is None:
            raise RuntimeError(
                "set_targets must be called before the objective is evaluated (a chunked run's "
                "targets are held by its ChunkedObjective: call that instead)"
            )
        taps, styles = self._style_inputs(wave)
        content = tf.zeros([])  # alpha 0: not computed, reported as 0
        if self.uses_content:
            content = distance(taps[self.content_layer], self.content_target, self.normalize)
        per_layer = tf.stack(
            [self.style_distance(x, target) for x, target in zip(styles, self.style_targets)]
        )
        style = tf.reduce_sum(self.weights * per_layer)
        total = style + self.alpha * content
        energy = tf.zeros([])
        if self.energy_weight > 0:
            energy = tf.reduce_mean(tf.square(energy_contour(wave) - self.energy_target))
            total = total + self.energy_weight * energy
        weighted, harmonic, noise = self.stft_terms(wave)
        return LossTerms(total + weighted, content, style, per_layer, energy, harmonic, noise)

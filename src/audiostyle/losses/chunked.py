"""The objective and its gradient over a clip of any length, in fixed-size chunks.

Every term of the loss is a sum over time, or a function of one: the Gram matrix is a sum of
F_t^T F_t over time steps, the content, L2 style and energy distances are sums of per-step
squared differences. The feature networks are local: an output depends only on the samples
within `network.context(names)` of it. So each chunk of `chunk` samples is evaluated on a window
of chunk + 2 * context samples (zeros outside the clip, with the network told where the clip
ends so its padding matches the whole clip's), and only the chunk's own outputs are kept.

- Pass 1 sums each style layer's F^T F over chunks: the Gram matrices G(x_G) of the whole clip.
  A loss that needs every frame at once (histogram sorts them, mmd pairs them) gathers the
  whole clip's F instead: a layer's frames are small beside the network's memory.
- The style loss and dL/dG (or dL/dF) follow; that gradient is then a constant.
- Pass 2 takes, per chunk, the gradient of <dL/dG, F^T F> (or <dL/dF, F> on the chunk's own
  frames) + the chunk's share of the content, L2 style and energy terms, and adds it into the
  clip's gradient.

The result is the whole-clip loss and gradient (to float32 rounding), with memory that depends
on the chunk and not on the clip's length. Both passes are `tf.while_loop`s over one window
shape, so XLA compiles one chunk body whatever the length.
"""

from __future__ import annotations

import functools
import math

import tensorflow as tf

from audiostyle.config.schema import LossType, Normalize
from audiostyle.losses.gram import gram_sum
from audiostyle.losses.objective import (
    ENERGY_FRAME,
    ENERGY_HOP,
    TINY,
    LossTerms,
    StyleTransferObjective,
    distance,
    energy_contour,
)

WHOLE_CLIP_LOSSES = (LossType.histogram, LossType.mmd)  # need every frame of a layer at once


def alignment(network) -> int:
    """Chunks and windows start on whole pooling blocks, STFT frames and energy frames."""
    return math.lcm(network.align, ENERGY_HOP)


def chunk_samples(seconds: float, rate: int, network, length: int) -> int:
    """The chunk length for a clip of `length` samples: as many chunks as `seconds` asks for,
    of equal aligned length (3 s in chunks of 1 s: three of 16000 samples, not 3 + a sliver)."""
    align = alignment(network)
    chunks = max(1, -(-length // max(1, round(seconds * rate))))
    return _round_up(-(-length // chunks), align)


def _round_up(n: int, unit: int) -> int:
    return -(-n // unit) * unit


def context_samples(network, names: list[str]) -> int:
    """Samples each side of a chunk its window adds (aligned)."""
    return _round_up(max(network.context(names), ENERGY_FRAME), alignment(network))


def window_samples(network, names: list[str], chunk: int) -> int:
    """The samples one chunk's window holds: the chunk and its context on both sides."""
    return chunk + 2 * context_samples(network, names)


class ChunkedObjective:
    """Loss terms and d total / d wave of `objective` for a wave [1, T], chunk by chunk."""

    def __init__(self, objective: StyleTransferObjective, chunk: int):
        net = objective.network
        self.objective = objective
        self.network = net
        self.align = alignment(net)
        if chunk % self.align:
            raise ValueError(f"chunk of {chunk} samples is not a multiple of {self.align}")
        self.chunk = chunk
        names = objective.computed_names  # without the content layer when alpha is 0
        self.context = context_samples(net, names)
        self.window = window_samples(net, names, chunk)
        self.channels = self._channels(names)
        # clip-length targets, zero-padded to whole chunks (set_targets)
        self.content_target: tf.Variable | None = None
        self.content_scale: tf.Tensor | None = None
        self.energy_target: tf.Variable | None = None
        self.style_targets: list[tf.Variable] = []  # L2 style only; Gram targets: the objective's
        self.style_scales: list[tf.Tensor] = []

    # -- geometry -------------------------------------------------------------------------

    def _chunks(self, length: int) -> int:
        return -(-length // self.chunk)

    def _steps(self, name: str, length: int) -> int:
        """Time steps of a tap over the whole clip (what the whole-clip network returns)."""
        return self.network.steps(name, length)

    def _padded(self, wave: tf.Tensor) -> tf.Tensor:
        length = wave.shape[1]
        right = self._chunks(length) * self.chunk - length + self.context
        return tf.pad(wave, [[0, 0], [self.context, right]])

    def _own(self, tap: tf.Tensor, hop: int, index: tf.Tensor, steps: int) -> tf.Tensor:
        """The chunk's own time steps of a window's tap, zero past the clip's last step."""
        first, count = self.context // hop, self.chunk // hop
        at = index * count + tf.range(count)
        inside = tf.cast(at < steps, tap.dtype)[None, :, None]
        return tap[:, first : first + count] * inside

    def _pad_target(self, target: tf.Tensor, hop: int, chunks: int) -> tf.Tensor:
        """A whole-clip target [batch, steps, c], zero-padded to whole chunks (once, not per chunk)."""
        return tf.pad(target, [[0, 0], [0, chunks * (self.chunk // hop) - target.shape[1]], [0, 0]])

    def _own_target(self, padded: tf.Tensor, hop: int, index: tf.Tensor) -> tf.Tensor:
        """The chunk's time steps of a padded target."""
        count = self.chunk // hop
        return tf.slice(padded, [0, index * count, 0], [padded.shape[0], count, padded.shape[2]])

    def _window(self, padded: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
        return tf.slice(padded, [0, index * self.chunk], [padded.shape[0], self.window])

    def _features(self, window: tf.Tensor, index: tf.Tensor, length: int, names: list[str]):
        start = index * self.chunk - self.context
        return self.network.window_features(window, start, length, names)

    # -- pass 1 and the targets -----------------------------------------------------------

    @tf.autograph.experimental.do_not_convert  # explicit while_loops; no Python to convert
    def gram_matrices(self, wave: tf.Tensor, names: list[str]) -> list[tf.Tensor]:
        """G of each named tap over the whole clip, [batch, c, c], summed chunk by chunk."""
        length, padded = wave.shape[1], self._padded(wave)
        chunks = self._chunks(length)

        def body(i, *sums):
            taps = self._features(self._window(padded, i), i, length, names)
            out = []
            for n, s in zip(names, sums):
                f = self._own(taps[n], self.network.hop(n), i, self._steps(n, length))
                out.append(s + gram_sum(f))
            return (i + 1, *out)

        zeros = [tf.zeros([wave.shape[0], self.channels[n], self.channels[n]]) for n in names]
        _, *sums = tf.while_loop(lambda i, *_: i < chunks, body, (tf.constant(0), *zeros))
        return [s / self._steps(n, length) for n, s in zip(names, sums)]

    @tf.autograph.experimental.do_not_convert
    def features(self, wave: tf.Tensor, names: list[str]) -> dict[str, tf.Tensor]:
        """Whole-clip taps, computed chunk by chunk (only the outputs are held)."""
        length, padded = wave.shape[1], self._padded(wave)
        chunks = self._chunks(length)

        def body(i, *parts):
            taps = self._features(self._window(padded, i), i, length, names)
            own = [
                self._own(taps[n], self.network.hop(n), i, self._steps(n, length)) for n in names
            ]
            return (i + 1, *(p.write(i, f) for p, f in zip(parts, own)))

        arrays = [tf.TensorArray(wave.dtype, size=chunks) for _ in names]
        _, *parts = tf.while_loop(lambda i, *_: i < chunks, body, (tf.constant(0), *arrays))
        return {
            n: self._joined(p.stack())[:, : self._steps(n, length)] for n, p in zip(names, parts)
        }

    @staticmethod
    def _joined(stacked: tf.Tensor) -> tf.Tensor:
        """[chunks, batch, count, c] -> [batch, chunks x count, c], chunk after chunk."""
        chunks, batch, count, c = stacked.shape
        return tf.reshape(tf.transpose(stacked, [1, 0, 2, 3]), [batch, chunks * count, c])

    def _channels(self, names: list[str]) -> dict[str, int]:
        """Channels of each tap, from a trace of the network (nothing is computed)."""

        def taps(window):
            return self._features(window, tf.constant(0), self.window, names)

        trace = tf.function(tf.autograph.experimental.do_not_convert(taps), autograph=False)
        shapes = trace.get_concrete_function(tf.TensorSpec([1, self.window])).structured_outputs
        return {n: shapes[n].shape[-1] for n in names}

    def set_targets(self, content: tf.Tensor, style: tf.Tensor) -> None:
        """The objective's targets, as its own set_targets computes them, chunk by chunk.

        Clip-length targets (content, energy, L2 style) are held here zero-padded to whole
        chunks, once, with their distances' scales; the objective keeps only the Gram targets.
        """
        o = self.objective
        c = o.content_layer
        chunks = self._chunks(content.shape[1])
        hop_of = self.network.hop
        o.content_target = o.energy_target = None  # held padded here; the objective is not called
        o.style_targets = []
        if o.uses_content:  # alpha 0: no content target (the context may not even cover it)
            target = self.features(content, [c])[c]
            self.content_target = self._held(target, hop_of(c), chunks)
            self.content_scale = self._scale(target)
        if o.energy_weight > 0:  # weight 0: its term is never computed
            energy = energy_contour(content)[..., None]
            self.energy_target = self._held(energy, ENERGY_HOP, chunks)
        o.set_stft_targets(content, style)  # read on the whole clip: an STFT is small
        if o.loss_type == LossType.gram:
            grams = self.gram_matrices(style, o.style_layers)
            o.style_targets = [tf.Variable(g, trainable=False) for g in grams]
        elif o.loss_type in WHOLE_CLIP_LOSSES:  # the objective's own targets, from whole taps
            taps = self.features(style, o.style_layers)
            o.set_style_targets(taps, content.shape[1], style.shape[1])
        else:
            taps = self.features(style, o.style_layers)
            self.style_targets = [self._held(taps[n], hop_of(n), chunks) for n in o.style_layers]
            self.style_scales = [self._scale(taps[n]) for n in o.style_layers]

    def _held(self, target: tf.Tensor, hop: int, chunks: int) -> tf.Variable:
        return tf.Variable(self._pad_target(target, hop, chunks), trainable=False)

    # -- the loss and its gradient ----------------------------------------------------------

    def _scale(self, target: tf.Tensor) -> tf.Tensor:
        """1 / the denominator of `distance`: a sum over time divided by it is the distance."""
        if self.objective.normalize == Normalize.none:
            return tf.constant(1.0 / math.prod(target.shape))
        return 1.0 / tf.maximum(tf.reduce_sum(tf.square(target)), TINY)

    def _style_gradients(self, wave: tf.Tensor) -> tuple[tf.Tensor | None, list[tf.Tensor]]:
        """Pass 1: per-layer style distances over the whole clip and d L_style / d each layer's
        Gram matrix (gram) or whole-clip taps (histogram, mmd; zero-padded to whole chunks).
        L2 style is a sum over time: (None, []), pass 2 takes it chunk by chunk."""
        o = self.objective
        if o.loss_type == LossType.gram:
            stats = self.gram_matrices(wave, o.style_layers)
            measure = functools.partial(distance, normalize=o.normalize)
        elif o.loss_type in WHOLE_CLIP_LOSSES:
            taps = self.features(wave, o.style_layers)
            stats = [taps[n] for n in o.style_layers]
            measure = o.style_distance
        else:
            return None, []
        with tf.GradientTape() as tape:
            tape.watch(stats)
            per_layer = tf.stack([measure(x, t) for x, t in zip(stats, o.style_targets)])
            style = tf.reduce_sum(o.weights * per_layer)
        grads = tape.gradient(style, stats)
        if o.loss_type in WHOLE_CLIP_LOSSES:
            chunks = self._chunks(wave.shape[1])
            hops = [self.network.hop(n) for n in o.style_layers]
            grads = [self._pad_target(g, hop, chunks) for g, hop in zip(grads, hops)]
        return per_layer, grads

    @tf.autograph.experimental.do_not_convert
    def __call__(self, wave: tf.Tensor) -> tuple[LossTerms, tf.Tensor]:
        """(loss terms, d total / d wave) for wave [batch, T]: the whole clip's, exactly."""
        o = self.objective
        length, padded = wave.shape[1], self._padded(wave)
        chunks = self._chunks(length)
        names = o.computed_names
        whole_per_layer, d_style = self._style_gradients(wave)
        gram, whole = o.loss_type == LossType.gram, o.loss_type in WHOLE_CLIP_LOSSES
        energy_steps = -(-length // ENERGY_HOP)

        def chunk_terms(window, i):
            taps = self._features(window, i, length, names)
            own = {
                n: self._own(taps[n], self.network.hop(n), i, self._steps(n, length)) for n in names
            }
            content = tf.zeros([])  # alpha 0: the content layer is not computed
            if o.uses_content:
                c = o.content_layer
                diff = own[c] - self._own_target(self.content_target, self.network.hop(c), i)
                content = tf.reduce_sum(tf.square(diff)) * self.content_scale
            per_layer, surrogate = [], tf.zeros([])
            for k, n in enumerate(o.style_layers):
                hop = self.network.hop(n)
                if gram:
                    g = gram_sum(own[n]) / self._steps(n, length)
                    surrogate += tf.reduce_sum(d_style[k] * g)
                elif whole:
                    surrogate += tf.reduce_sum(self._own_target(d_style[k], hop, i) * own[n])
                else:
                    t = self._own_target(self.style_targets[k], hop, i)
                    per_layer.append(tf.reduce_sum(tf.square(own[n] - t)) * self.style_scales[k])
            energy = tf.zeros([])
            if o.energy_weight > 0:
                e = self._own(energy_contour(window)[..., None], ENERGY_HOP, i, energy_steps)
                t = self._own_target(self.energy_target, ENERGY_HOP, i)
                energy = tf.reduce_sum(tf.square(e - t)) / energy_steps
            if per_layer:  # L2 style
                per_layer = tf.stack(per_layer)
                surrogate += tf.reduce_sum(o.weights * per_layer)
            else:  # pass 1 measured them on the whole clip
                per_layer = tf.zeros([len(o.style_layers)])
            surrogate += o.alpha * content + o.energy_weight * energy
            return surrogate, content, per_layer, energy

        def body(i, grad, content, per_layer, energy):
            window = self._window(padded, i)
            with tf.GradientTape() as tape:
                tape.watch(window)
                surrogate, c, p, e = chunk_terms(window, i)
            g = tape.gradient(surrogate, window)
            at = i * self.chunk + tf.range(self.window)
            grad = tf.tensor_scatter_nd_add(grad, at[:, None], tf.transpose(g))
            return i + 1, grad, content + c, per_layer + p, energy + e

        start = (
            tf.constant(0),
            tf.zeros([padded.shape[1], padded.shape[0]], wave.dtype),
            tf.zeros([]),
            tf.zeros([len(o.style_layers)]),
            tf.zeros([]),
        )
        _, grad, content, per_layer, energy = tf.while_loop(lambda i, *_: i < chunks, body, start)
        if whole_per_layer is not None:
            per_layer = whole_per_layer
        style = tf.reduce_sum(o.weights * per_layer)
        total = style + o.alpha * content + o.energy_weight * energy
        grad = tf.transpose(grad)[:, self.context : self.context + length]
        # the whole clip's STFT: its memory is the clip's, not a network's
        with tf.GradientTape() as tape:
            tape.watch(wave)
            weighted, harmonic, noise = o.stft_terms(wave)
        if o.harmonic is not None or o.noise is not None:
            grad += tape.gradient(weighted, wave)
        total += weighted
        return LossTerms(total, content, style, per_layer, energy, harmonic, noise), grad

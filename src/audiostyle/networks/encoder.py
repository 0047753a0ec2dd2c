"""Magenta's NSynth WaveNet-autoencoder encoder in TensorFlow 2, with every tap exposed.

Architecture (facts in ../shared/design/nsynth-encoder.md): a k=3 start conv (1 -> 128), then 30
residual blocks, each `A_i = relu(en)`, `B_i = relu(dilated_conv_i(A_i))`,
`en = en + res_i(B_i)`, `C_i = en`, with dilations 1..512 three times, non-causal "same" padding;
then a 1x1 bottleneck to 16 channels averaged over 512-sample blocks (`encoding`).
Only the blocks up to the deepest requested tap are computed. `dtype` bfloat16
(runtime.precision) computes the stack in bfloat16; the taps, their Grams and the pooled
encoding come out in float32. (Keeping the residual stream in float32 did not lower bfloat16's
error: measured, docs/speed.md.)
"""

from __future__ import annotations

import tensorflow as tf

from audiostyle.config.schema import Config, EncoderConfig, MuLaw, Network, Precision, Weights
from audiostyle.losses.gram import gram, gram_tap
from audiostyle.networks.checkpoint import load_magenta_weights
from audiostyle.networks.layers import NUM_BLOCKS, block_of, canonical, musicnn_checkpoint
from audiostyle.networks.mulaw import encoder_input
from audiostyle.networks.musicnn_features import MusicnnFeatures
from audiostyle.networks.spectral import SpectralNetwork
from audiostyle.networks.weights import BOTTLENECK, CHANNELS, EncoderWeights, random_weights

POOL = 512


def dilation(block: int) -> int:
    """Dilation of the 1-based block's conv: 1, 2, ..., 512, three times."""
    return 2 ** ((block - 1) % 10)


def deepest_block(names: list[str]) -> int:
    """The last residual block the named layers need (30 for final_relu and the encoding)."""
    return min(max(block_of(n) for n in names), NUM_BLOCKS)


class NSynthEncoder:
    """The encoder as a pure function of its (fixed) weights: `taps(x, names)`."""

    def __init__(self, weights: EncoderWeights, dtype: tf.DType = tf.float32):
        def c(value) -> tf.Tensor:
            return tf.cast(tf.constant(value), dtype)

        self.weights, self.dtype = weights, dtype
        self._start = (c(weights.start_w), c(weights.start_b))
        self._dilated = [(c(w), c(b)) for w, b in zip(weights.dilated_w, weights.dilated_b)]
        self._res = [(c(w[0]), c(b)) for w, b in zip(weights.res_w, weights.res_b)]
        self._bottleneck = (c(weights.bottleneck_w[0]), c(weights.bottleneck_b))

    @staticmethod
    def _conv(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, rate: int = 1) -> tf.Tensor:
        # tf.nn.convolution, not conv1d: conv1d has no CPU gradient for dilation > 1.
        return tf.nn.convolution(x, w, padding="SAME", dilations=rate) + b

    @staticmethod
    def _pointwise(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        return tf.einsum("btc,cd->btd", x, w) + b

    def taps(
        self,
        x_scaled: tf.Tensor,
        names: list[str] | tuple[str, ...],
        inside: tf.Tensor | None = None,
    ) -> dict[str, tf.Tensor]:
        """Activations [batch, time, channels] for each name; x_scaled is [batch, time, 1].

        `encoding` is [batch, time / 512, 16]; time must then be a multiple of 512.
        `inside` ([1, time, 1], 1 inside the clip, 0 outside) makes a window that reaches past
        the clip's edges compute exactly what the whole clip does: "same" padding means every
        conv's input is zero outside the clip, so the window zeroes it there too.
        """
        return self.taps_and_grams(x_scaled, names, (), inside)[0]

    def taps_and_grams(
        self,
        x_scaled: tf.Tensor,
        names: list[str] | tuple[str, ...],
        grams: list[str] | tuple[str, ...],
        inside: tf.Tensor | None = None,
    ) -> tuple[dict[str, tf.Tensor], dict[str, tf.Tensor]]:
        """`taps` for `names`, and F^T F summed over time [batch, 128, 128] for `grams`
        (A, B or C layers), taken inside the stack so their backprop waits (objective.gram_tap)."""
        wanted = {canonical(n) for n in names}
        gram_of = {canonical(n) for n in grams}
        deepest = deepest_block([*names, *grams])
        out: dict[str, tf.Tensor] = {}
        sums: dict[str, tf.Tensor] = {}

        def tap(key: str, value: tf.Tensor) -> tf.Tensor:
            if key in gram_of:
                value, sums[key] = gram_tap(value)
            if key in wanted:
                out[key] = value
            return value

        x_scaled = tf.cast(x_scaled, self.dtype)
        if inside is not None:
            inside = tf.cast(inside, self.dtype)
        en = self._conv(x_scaled, *self._start)
        for i in range(1, deepest + 1):
            a = tap(f"A_{i}", tf.nn.relu(en) if inside is None else tf.nn.relu(en) * inside)
            b = tap(f"B_{i}", tf.nn.relu(self._conv(a, *self._dilated[i - 1], rate=dilation(i))))
            en = tap(f"C_{i}", en + self._pointwise(b, *self._res[i - 1]))
        if "encoding" in wanted:
            z = tf.cast(self._pointwise(en, *self._bottleneck), tf.float32)  # mean in float32
            frames = tf.shape(z)[1] // POOL
            z = tf.reshape(z[:, : frames * POOL], [tf.shape(z)[0], frames, POOL, BOTTLENECK])
            out["encoding"] = tf.reduce_mean(z, axis=2)
        taps = {n: tf.cast(out[canonical(n)], tf.float32) for n in names}
        return taps, {n: sums[canonical(n)] for n in grams}


class NSynthFeatures:
    """The encoder as a feature network of a waveform: mu-law mapping, then taps."""

    def __init__(self, encoder: NSynthEncoder, mu_law: MuLaw):
        self.encoder, self.mu_law = encoder, mu_law

    def _input(self, wave: tf.Tensor) -> tf.Tensor:
        """[batch, time] waveform -> the encoder's [batch, time, 1] input."""
        return encoder_input(wave, self.mu_law)[..., None]

    def features(self, wave: tf.Tensor, names: list[str]) -> dict[str, tf.Tensor]:
        return self.encoder.taps(self._input(wave), names)

    def features_and_grams(
        self, wave: tf.Tensor, names: list[str], grams: list[str]
    ) -> tuple[dict[str, tf.Tensor], dict[str, tf.Tensor]]:
        """`features` for `names` and the Gram matrices (averaged over time) of `grams`."""
        inside = [n for n in grams if canonical(n) != "encoding"]  # the pooled one: after
        outside = [n for n in grams if canonical(n) == "encoding"]
        x = self._input(wave)
        taps, sums = self.encoder.taps_and_grams(x, [*names, *outside], inside)
        steps = tf.cast(tf.shape(x)[1], x.dtype)
        out = {n: g / steps for n, g in sums.items()}
        out.update({n: gram(taps[n]) for n in outside})
        return taps, out

    # What chunked evaluation (chunked.py) needs to know of this network.
    align = POOL  # chunk and window starts: whole pooling blocks

    def context(self, names: list[str]) -> int:
        """Samples each side of a chunk that its outputs depend on (3070 for all 30 blocks)."""
        return 1 + sum(dilation(i) for i in range(1, deepest_block(names) + 1))

    def hop(self, name: str) -> int:
        """Samples per time step of a tap."""
        return POOL if canonical(name) == "encoding" else 1

    def steps(self, name: str, length: int) -> int:
        """Time steps of a tap over a clip of `length` samples."""
        return length // self.hop(name)

    # Peak memory of a step, fitted to benchmarks/speed.py (docs/speed.md): about two
    # 128-channel float32 tensors per computed block kept for the backward pass, and 1.5 more
    # per tap the loss reads (its Gram or distance and their gradients).
    def step_bytes_per_sample(self, names: list[str]) -> float:
        taps = len({canonical(n) for n in names})
        return 4 * CHANNELS * (1.97 * deepest_block(names) + 1.54 * taps)

    def target_bytes_per_sample(self, names: list[str]) -> float:
        """The clip-length target a chunked run keeps: at most one 128-channel content tap."""
        return 4 * CHANNELS

    def window_features(
        self, window: tf.Tensor, start: tf.Tensor, length: int, names: list[str]
    ) -> dict[str, tf.Tensor]:
        """The taps of window [batch, L] whose sample 0 is the clip's sample `start` (may be
        negative; zeros outside the clip) of a clip of `length` samples."""
        at = start + tf.range(tf.shape(window)[1])
        inside = tf.cast((at >= 0) & (at < length), window.dtype)[None, :, None]
        return self.encoder.taps(self._input(window), names, inside)


def build_network(cfg: Config) -> NSynthFeatures | SpectralNetwork | MusicnnFeatures:
    """The feature network a run asks for (`encoder.network`)."""
    dtype = compute_dtype(cfg.runtime.precision)
    if cfg.encoder.network == Network.spectral:
        return SpectralNetwork(cfg.encoder.spectral, cfg.encoder.seed, dtype)
    if cfg.encoder.network == Network.musicnn:  # float32 only (validation)
        return MusicnnFeatures(musicnn_checkpoint(cfg))
    return NSynthFeatures(build_encoder(cfg.encoder, dtype), cfg.audio.mu_law)


def compute_dtype(precision: Precision) -> tf.DType:
    return tf.as_dtype(precision.value)


def build_encoder(cfg: EncoderConfig, dtype: tf.DType = tf.float32) -> NSynthEncoder:
    """The encoder a run asks for: Magenta's checkpoint when given, seeded random otherwise."""
    if cfg.weights == Weights.magenta:
        return NSynthEncoder(load_magenta_weights(cfg.checkpoint, use_ema=cfg.use_ema), dtype)
    return NSynthEncoder(random_weights(cfg.seed), dtype)

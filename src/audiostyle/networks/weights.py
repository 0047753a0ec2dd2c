"""The NSynth encoder's weights as plain numpy arrays: Magenta's initialiser, no TensorFlow.

Kernels are stored as [filter_length, in, out]; Magenta's checkpoint holds [1, filter_length,
in, out] (see `checkpoint.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audiostyle.networks.layers import NUM_BLOCKS

CHANNELS = 128
BOTTLENECK = 16
FILTER_LENGTH = 3


@dataclass(frozen=True)
class EncoderWeights:
    """Kernels as [filter_length, in, out] (Magenta stores [1, filter_length, in, out])."""

    start_w: np.ndarray  # [3, 1, 128]
    start_b: np.ndarray  # [128]
    dilated_w: tuple[np.ndarray, ...]  # 30 x [3, 128, 128]
    dilated_b: tuple[np.ndarray, ...]  # 30 x [128]
    res_w: tuple[np.ndarray, ...]  # 30 x [1, 128, 128]
    res_b: tuple[np.ndarray, ...]  # 30 x [128]
    bottleneck_w: np.ndarray  # [1, 128, 16]
    bottleneck_b: np.ndarray  # [16]

    def num_parameters(self) -> int:
        arrays = [self.start_w, self.start_b, self.bottleneck_w, self.bottleneck_b]
        arrays += [*self.dilated_w, *self.dilated_b, *self.res_w, *self.res_b]
        return int(sum(a.size for a in arrays))


def _unit_scaling(rng: np.random.Generator, shape: tuple[int, int, int]) -> np.ndarray:
    """Magenta's initialiser: U(-sqrt(3 / fan_in), +sqrt(3 / fan_in)), fan_in = k * in."""
    limit = np.sqrt(3.0 / (shape[0] * shape[1]))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def random_weights(seed: int) -> EncoderWeights:
    """Seeded random weights drawn as Magenta initialises them (biases zero)."""
    rng = np.random.default_rng(seed)
    zeros = np.zeros(CHANNELS, np.float32)
    return EncoderWeights(
        start_w=_unit_scaling(rng, (FILTER_LENGTH, 1, CHANNELS)),
        start_b=zeros,
        dilated_w=tuple(
            _unit_scaling(rng, (FILTER_LENGTH, CHANNELS, CHANNELS)) for _ in range(NUM_BLOCKS)
        ),
        dilated_b=(zeros,) * NUM_BLOCKS,
        res_w=tuple(_unit_scaling(rng, (1, CHANNELS, CHANNELS)) for _ in range(NUM_BLOCKS)),
        res_b=(zeros,) * NUM_BLOCKS,
        bottleneck_w=_unit_scaling(rng, (1, CHANNELS, BOTTLENECK)),
        bottleneck_b=np.zeros(BOTTLENECK, np.float32),
    )

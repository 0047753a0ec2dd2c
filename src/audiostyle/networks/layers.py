"""Names of the feature networks' taps (which network has which: networks.py).

A_i: ReLU before the i-th dilated conv; B_i: ReLU after it; C_i: the residual stream after
block i; `final_relu` is B_30; `encoding` the 16-channel bottleneck pooled over 512 samples.
Kept free of TensorFlow so configs validate without importing it.
"""

from __future__ import annotations

NUM_BLOCKS = 30

NSYNTH_LAYERS: tuple[str, ...] = tuple(
    f"{kind}_{i}" for kind in "ABC" for i in range(1, NUM_BLOCKS + 1)
) + ("final_relu", "encoding")

SPECTRAL_LAYERS: tuple[str, ...] = ("spectrum", "conv")


ALIASES = {"final_relu": f"B_{NUM_BLOCKS}"}


def canonical(name: str) -> str:
    """The tap a name refers to (`final_relu` is `B_30`)."""
    return ALIASES.get(name, name)


def block_of(name: str) -> int:
    """The residual block a tap needs computed (31 stands for the bottleneck)."""
    name = canonical(name)
    if name == "encoding":
        return NUM_BLOCKS + 1
    return int(name.split("_")[1])

"""Names of the NSynth encoder's taps, and the check that a requested name exists.

A_i: ReLU before the i-th dilated conv; B_i: ReLU after it; C_i: the residual stream after
block i; `final_relu` is B_30; `encoding` the 16-channel bottleneck pooled over 512 samples.
Kept free of TensorFlow so configs validate without importing it.
"""

from __future__ import annotations

from audiostyle.errors import ConfigError

NUM_BLOCKS = 30

NSYNTH_LAYERS: tuple[str, ...] = tuple(
    f"{kind}_{i}" for kind in "ABC" for i in range(1, NUM_BLOCKS + 1)
) + ("final_relu", "encoding")

SPECTRAL_LAYERS: tuple[str, ...] = ("spectrum", "conv")


def layers_of(network: str) -> tuple[str, ...]:
    """The layer names a feature network offers."""
    return SPECTRAL_LAYERS if network == "spectral" else NSYNTH_LAYERS


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


def describe(valid: tuple[str, ...]) -> str:
    return (
        "A_1..A_30, B_1..B_30, C_1..C_30, final_relu, encoding"
        if valid == NSYNTH_LAYERS
        else ", ".join(valid)
    )


def check_layer_names(names: list[str], key: str, valid: tuple[str, ...]) -> None:
    unknown = [n for n in names if n not in valid]
    if unknown:
        network = "spectral" if valid == SPECTRAL_LAYERS else "nsynth"
        other = NSYNTH_LAYERS if network == "spectral" else SPECTRAL_LAYERS
        hint = ""
        if unknown[0] in other:  # e.g. encoder=magenta on top of the spectral default
            hint = f" ({unknown[0]!r} is a layer of the other network; experiment={network} sets every {network} choice at once)"
        raise ConfigError(
            f"{key}: unknown layer {unknown[0]!r} for encoder.network={network}; "
            f"valid layers are {describe(valid)}{hint}"
        )

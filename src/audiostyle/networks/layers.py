"""Names of the feature networks' taps (which network has which: networks.py).

A_i: ReLU before the i-th dilated conv; B_i: ReLU after it; C_i: the residual stream after
block i; `final_relu` is B_30; `encoding` the 16-channel bottleneck pooled over 512 samples.
Kept free of TensorFlow so configs validate without importing it.
"""

from __future__ import annotations

from collections.abc import Iterable

from audiostyle.config.schema import Config

NUM_BLOCKS = 30

NSYNTH_LAYERS: tuple[str, ...] = tuple(
    f"{kind}_{i}" for kind in "ABC" for i in range(1, NUM_BLOCKS + 1)
) + ("final_relu", "encoding")

SPECTRAL_LAYERS: tuple[str, ...] = ("spectrum", "conv")

# musicnn's taggers (networks/musicnn.py) as a loss network: musicnn's taps and vgg's. Frame-rate
# taps have a step per 16 ms frame (vgg's pools fewer); patch taps one step per 3 s patch.
MUSICNN_ARCH_LAYERS: tuple[str, ...] = (
    "logmel", "timbral", "temporal", "cnn1", "cnn2", "cnn3", "mean_pool", "max_pool", "penultimate",
)  # fmt: skip
VGG_ARCH_LAYERS: tuple[str, ...] = ("logmel", "pool1", "pool2", "pool3", "pool4", "pool5")
MUSICNN_LAYERS: tuple[str, ...] = tuple(dict.fromkeys(MUSICNN_ARCH_LAYERS + VGG_ARCH_LAYERS))
MUSICNN_PATCH_LAYERS: tuple[str, ...] = ("mean_pool", "max_pool", "penultimate")
MUSICNN_MODELS = ("MTT_musicnn", "MTT_vgg", "MSD_musicnn", "MSD_vgg")  # musicnn_weights' own
# the checkpoint a musicnn run's layers name when encoder.musicnn_model is null: never the
# judge's MTT_musicnn (judges/tagger.py), so a default run keeps its judge (docs/musicnn.md)
DEFAULT_MUSICNN_MODEL = {"musicnn": "MSD_musicnn", "vgg": "MTT_vgg"}


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


def musicnn_arch_layers(model: str) -> tuple[str, ...]:
    return MUSICNN_ARCH_LAYERS if model.endswith("_musicnn") else VGG_ARCH_LAYERS


def musicnn_model(chosen: str | None, names: Iterable[str]) -> str:
    """The musicnn checkpoint a run uses: `encoder.musicnn_model`, or when it is null the
    default of the architecture whose taps the layers name (vgg's pools: vgg; else musicnn)."""
    if chosen is not None:
        return chosen
    vgg = any(n in VGG_ARCH_LAYERS and n not in MUSICNN_ARCH_LAYERS for n in names)
    return DEFAULT_MUSICNN_MODEL["vgg" if vgg else "musicnn"]


TAGGER_NETWORK = "MTT_musicnn"  # the judges' tagger (judges/tagger.py): never in a judged loss


def loss_networks(cfg: Config) -> set[str]:
    """The networks this run's loss reads (musicnn: its checkpoint): none of them may judge it."""
    if cfg.encoder.network.value == "musicnn":
        return {musicnn_checkpoint(cfg)}
    return {cfg.encoder.network.value}


def musicnn_checkpoint(cfg: Config) -> str:
    """The musicnn checkpoint an encoder=musicnn run computes its loss on: what its validation
    checked, what builds its network and what no judge of the run may be (loss_networks)."""
    names = [*cfg.style_layers.layers, *([cfg.content_layer.layer] if cfg.alpha != 0 else [])]
    return musicnn_model(cfg.encoder.musicnn_model, names)

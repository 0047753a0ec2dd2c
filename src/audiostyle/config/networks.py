"""Which feature network a run uses: the options that belong to each network, in one table.

A choice that only one network has (an NSynth layer set, an NSynth content layer, an NSynth
encoder) selects that network, and with it the network's measured settings: the experiment
overlay named in its `Network` entry (`conf/experiment/<name>.yaml`). Only a real contradiction,
two networks chosen at once, is an error. A new network adds itself here: its layer names, the
config options that belong to it, and its overlay. Plain data: no Hydra, no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from audiostyle.errors import ConfigError
from audiostyle.networks.layers import (
    MUSICNN_LAYERS,
    NSYNTH_LAYERS,
    SPECTRAL_LAYERS,
    musicnn_arch_layers,
)

NSYNTH_LAYER_SETS = ("relu_first", "relu_second", "relu_both", "residual", "first5")
MUSICNN_LAYER_SETS = (
    "musicnn_timbral", "musicnn_frontend", "musicnn_midend", "musicnn_embedding",
    "vgg_low", "vgg_high",
)  # fmt: skip


@dataclass(frozen=True)
class Network:
    """A feature network, what selects it, and where its measured settings live."""

    name: str  # encoder.network
    label: str  # for messages: "the NSynth encoder"
    layers: tuple[str, ...]  # the taps content_layer.layer and style_layers.layers may name
    options: dict[str, tuple[str, ...]]  # config group -> its options that belong here
    # overlays in conf/experiment/ that run this network; the first, named after the network,
    # holds its measured settings
    experiments: tuple[str, ...]


NETWORKS: dict[str, Network] = {
    "spectral": Network(
        name="spectral",
        label="the spectral network",
        layers=SPECTRAL_LAYERS,
        options={
            "encoder": ("spectral",),
            "content_layer": ("spectral",),
            "style_layers": ("spectral",),
        },
        experiments=("spectral",),
    ),
    "nsynth": Network(
        name="nsynth",
        label="the NSynth encoder",
        layers=NSYNTH_LAYERS,
        options={
            "encoder": ("random", "magenta"),
            "content_layer": ("final_relu", "encoding"),
            "style_layers": NSYNTH_LAYER_SETS,
        },
        experiments=(
            "nsynth",
            "voice_flute",
            "pitch_pitch_low_high",
            "pitch_pitch_high_low",
            "pitch_to_chord",
            "chord_to_pitch",
        ),
    ),
    "musicnn": Network(
        name="musicnn",
        label="musicnn",
        layers=MUSICNN_LAYERS,
        options={
            "encoder": ("musicnn",),
            "content_layer": ("musicnn_logmel", "musicnn_cnn3"),
            "style_layers": MUSICNN_LAYER_SETS,
        },
        experiments=("musicnn", "instrument"),  # instrument: MTT_vgg from the register start
    ),
}

LAYER_KEYS = ("content_layer.layer", "style_layers.layers")


@dataclass(frozen=True)
class NetworkChoice:
    """The network a run uses and why: the overrides that chose it ('' for the default)."""

    network: str | None  # None: nothing on the command line names a network
    reasons: tuple[str, ...] = ()
    experiments: tuple[str, ...] = ()  # the experiment= value(s) the user gave

    def reason(self) -> str:
        """What chose the network, for the log, summary.json and MLflow."""
        if self.reasons:
            return ", ".join(self.reasons)
        if self.experiments:
            return f"experiment={','.join(self.experiments)}"
        return "default"


def network_of_option(group: str, option: str) -> str | None:
    """The network an option of a config group belongs to; None if it is not network-bound."""
    for net in NETWORKS.values():
        if option in net.options.get(group, ()):
            return net.name
    return None


def network_of_layer(name: str) -> str | None:
    """The network that has a layer of this name; None for a name no network has."""
    for net in NETWORKS.values():
        if name in net.layers:
            return net.name
    return None


def network_of_experiment(name: str) -> str | None:
    for net in NETWORKS.values():
        if name in net.experiments:
            return net.name
    return None


def networks_named(key: str, values: Iterable[str]) -> dict[str, list[str]]:
    """{network: [override, ...]} for one override key and its value(s) (a sweep has several)."""
    found: dict[str, list[str]] = {}
    for value in values:
        if key == "encoder.network":
            net = value if value in NETWORKS else None
        elif key in LAYER_KEYS:
            net = network_of_layer(value)
        else:
            net = network_of_option(key, value)
        if net is not None:
            found.setdefault(net, []).append(f"{key}={value}")
    return found


def choose(overrides: Iterable[tuple[str, list[str]]]) -> NetworkChoice:
    """The network that a command line's overrides name, from (key, values) pairs.

    Raises ConfigError when they name two networks (`encoder=spectral style_layers=relu_first`)
    or name one that the experiment they chose does not run.
    """
    named: dict[str, list[str]] = {}
    experiments: list[str] = []
    for key, values in overrides:
        if key == "experiment":
            experiments += values
            continue
        for net, reasons in networks_named(key, values).items():
            named.setdefault(net, []).extend(reasons)
    if len(named) > 1:
        (a, why_a), (b, why_b) = list(named.items())[:2]
        raise ConfigError(
            f"{why_a[0]} chooses {NETWORKS[a].label} but {why_b[0]} chooses {NETWORKS[b].label}; "
            "choose one network (to compare them, sweep experiment=spectral,nsynth)"
        )
    network = next(iter(named), None)
    for experiment in experiments:
        runs = network_of_experiment(experiment)
        if network and runs not in (None, network):
            raise ConfigError(
                f"{named[network][0]} chooses {NETWORKS[network].label} but "
                f"experiment={experiment} runs {NETWORKS[runs].label}; drop one of them"
            )
    return NetworkChoice(network, tuple(named.get(network, ())), tuple(experiments))


def overlay_to_add(choice: NetworkChoice) -> str | None:
    """The `experiment=` override that gives the chosen network its measured settings, when the
    user named a network's option but no experiment."""
    if choice.network is None or choice.experiments:
        return None
    return f"experiment={NETWORKS[choice.network].experiments[0]}"


def layers_of(network: str) -> tuple[str, ...]:
    """The layer names a feature network offers."""
    return NETWORKS[network].layers


def describe_layers(network: str, model: str | None = None) -> str:
    if network == "nsynth":
        return "A_1..A_30, B_1..B_30, C_1..C_30, final_relu, encoding"
    if model is not None:
        return ", ".join(musicnn_arch_layers(model))
    return ", ".join(layers_of(network))


def check_layer_names(names: list[str], key: str, network: str, model: str | None = None) -> None:
    """Every name is a layer of `network` (of musicnn's checkpoint `model`, if given); else a
    ConfigError that names the valid ones."""
    valid = musicnn_arch_layers(model) if model is not None else layers_of(network)
    unknown = [n for n in names if n not in valid]
    if not unknown:
        return
    if model is not None and unknown[0] in layers_of(network):  # cnn1 of a vgg
        raise ConfigError(
            f"{key}: {unknown[0]!r} is not a layer of musicnn's {model}; its layers are "
            f"{describe_layers(network, model)} (encoder.musicnn_model chooses the checkpoint; "
            "musicnn's layers and vgg's pools are two architectures: use one)"
        )
    hint = ""
    owner = network_of_layer(unknown[0])
    if owner is not None:  # e.g. encoder.network=nsynth with style_layers.layers=[conv]
        hint = f" ({unknown[0]!r} is a layer of {NETWORKS[owner].label})"
    raise ConfigError(
        f"{key}: unknown layer {unknown[0]!r} for encoder.network={network}; "
        f"valid layers are {describe_layers(network, model)}{hint}"
    )

"""A choice selects its network: the registry (networks.py), its reading of a command line, and
its agreement with the option files in conf/."""

import pytest

from audiostyle.commands.cli import network_choice, with_network_settings
from audiostyle.config.networks import NETWORKS, network_of_experiment, network_of_option
from audiostyle.config.validation import validate
from audiostyle.errors import ConfigError

from conftest import CONF

NETWORK_GROUPS = ("encoder", "content_layer", "style_layers")


@pytest.mark.parametrize(
    ("overrides", "network", "reasons"),
    [
        (["loss=gram", "style_layers=relu_first"], "nsynth", ("style_layers=relu_first",)),
        (["content_layer=encoding", "alpha=3"], "nsynth", ("content_layer=encoding",)),
        (["encoder=magenta"], "nsynth", ("encoder=magenta",)),
        (
            ["style_layers.layers=[A_1,B_3,C_10]"],
            "nsynth",
            tuple(f"style_layers.layers={n}" for n in ("A_1", "B_3", "C_10")),
        ),  # fmt: skip
        (["content_layer.layer=final_relu"], "nsynth", ("content_layer.layer=final_relu",)),
        (["encoder.network=nsynth"], "nsynth", ("encoder.network=nsynth",)),
        (["style_layers=spectral"], "spectral", ("style_layers=spectral",)),
        (["content_layer.layer=spectrum"], "spectral", ("content_layer.layer=spectrum",)),
        # a Hydra grid: every value of a sweep counts
        (
            ["loss=gram,l2", "style_layers=relu_first,residual"],
            "nsynth",
            ("style_layers=relu_first", "style_layers=residual"),
        ),  # fmt: skip
        (["encoder=choice(random,magenta)"], "nsynth", ("encoder=random", "encoder=magenta")),
        # settings that belong to no network choose none
        (
            ["loss=l2", "optim.lr=0.01", "alpha=tag(log, interval(0.01, 10))", "init=noise"],
            None,
            (),
        ),
    ],
)
def test_the_overrides_name_their_network(overrides, network, reasons):
    choice = network_choice(overrides)
    assert choice.network == network
    assert choice.reasons == reasons


def test_a_network_option_adds_its_measured_settings_unless_an_experiment_is_named():
    assert with_network_settings(["style_layers=relu_first"]) == [
        "style_layers=relu_first",
        "experiment=nsynth",
    ]
    assert with_network_settings(["style_layers=spectral"])[-1] == "experiment=spectral"
    assert with_network_settings(["loss=l2"]) == ["loss=l2"]  # the default network stays
    given = ["experiment=voice_flute", "style_layers=residual"]
    assert with_network_settings(given) == given  # the experiment's own settings stay


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["encoder=spectral", "style_layers=relu_first"],
            "encoder=spectral chooses the spectral network but style_layers=relu_first chooses "
            "the NSynth encoder; choose one network",
        ),
        (
            ["experiment=spectral", "content_layer=encoding"],
            "content_layer=encoding chooses the NSynth encoder but experiment=spectral runs the "
            "spectral network",
        ),
        (["style_layers=relu_first,spectral"], "choose one network"),
        (["style_layers.layers=[conv,A_1]"], "choose one network"),
    ],
)
def test_two_networks_at_once_are_one_clear_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        network_choice(overrides)


def option_files(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("group", NETWORK_GROUPS)
def test_every_option_of_a_network_group_belongs_to_one_network(group):
    """A new option file must be entered in networks.NETWORKS, or it would not select."""
    for option in option_files(group):
        assert network_of_option(group, option) is not None, f"{group}={option}"
    for net in NETWORKS.values():
        assert set(net.options.get(group, ())) <= set(option_files(group)), net.name


@pytest.mark.parametrize(
    ("group", "option"),
    [(g, o) for g in NETWORK_GROUPS for o in option_files(g) if o != "magenta"],
)
def test_each_option_alone_composes_to_its_network_and_validates(compose_config, group, option):
    cfg = compose_config(f"{group}={option}")
    assert cfg.encoder.network.value == network_of_option(group, option)
    validate(cfg)


def test_an_nsynth_option_runs_the_settings_of_experiment_nsynth(compose_config):
    """Everything the user did not choose is NSynth's measured setting, not the spectral one."""
    chosen = compose_config("loss=gram", "style_layers=relu_first", tiny=False)
    overlay = compose_config("experiment=nsynth", tiny=False)
    assert chosen == overlay
    chosen = compose_config("content_layer=encoding", tiny=False)
    assert chosen.alpha == overlay.alpha and chosen.optim == overlay.optim
    assert chosen.loss == overlay.loss and chosen.content_layer.layer == "encoding"


def test_every_experiment_runs_the_network_the_registry_gives(compose_config):
    experiments = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
    listed = [e for net in NETWORKS.values() for e in net.experiments]
    assert sorted(listed) == experiments
    for name in ("spectral", "nsynth", "voice_flute", "instrument"):
        assert compose_config(f"experiment={name}").encoder.network.value == (
            network_of_experiment(name)
        )
    for net in NETWORKS.values():  # the first experiment is the network's own settings
        assert net.experiments[0] == net.name

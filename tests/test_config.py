"""Every option of every config group composes, validates and runs; bad values fail early."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiostyle.config.networks import network_of_option
from audiostyle.config.schema import snapshot_iterations
from audiostyle.config.validation import validate
from audiostyle.errors import ConfigError
from audiostyle.run.context import RunContext
from audiostyle.run.runner import run

from conftest import (
    MUSICNN,
    NSYNTH,
    PAPER_NOTES,
    SPECTRAL,
    harmonic_note,
    load_benchmark,
    plain_config,
    write_nsynth_folder,
)
from reference import random_tensors, write_tf1_checkpoint

CONF = Path(__file__).resolve().parents[1] / "conf"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


GROUP_OPTIONS = [
    (group, option)
    for group in (
        "content_layer",
        "style_layers",
        "loss",
        "init",
        "optim",
        "encoder",
        "audio",
        "tracking",
        "data",
        "experiment",
    )
    for option in options(group)
    if (group, option) != ("encoder", "magenta")  # needs a checkpoint: its own test below
]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_tf1_checkpoint(
        str(tmp_path_factory.mktemp("ckpt") / "model.ckpt-200000"), random_tensors(2)
    )


def run_and_check(cfg, run_dir: Path) -> dict:
    summary = run(cfg, RunContext(run_dir=run_dir))
    data, rate = sf.read(run_dir / "generated.wav")
    assert rate == 16000 and len(data) == 1024
    assert np.all(np.isfinite(data))
    assert len(summary) > 5 and np.isfinite(summary["loss/total"])
    return summary


def paper_data(tmp_path: Path) -> list[str]:
    """The paper's experiments read NSynth notes: a dataset with the notes they name. Their
    pyin pitch measurement is left to tests/test_measure.py (numba compiles it for a minute)."""
    notes = {name: harmonic_note(pitch, 8192) for name, pitch in PAPER_NOTES.items()}
    root = write_nsynth_folder(tmp_path / "nsynth", notes)
    return [f"data.nsynth_root={root}", "measure.pitch=false"]


def network_for(group: str, option: str) -> list[str]:
    """A network's options run with its settings (experiment=<network>); the rest with the
    default network."""
    network = network_of_option(group, option)
    return [f"experiment={network}"] if network not in (None, "spectral") else []


@pytest.mark.parametrize(("group", "option"), GROUP_OPTIONS)
def test_every_option_composes_and_runs(compose_config, tmp_path, group, option, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")  # read by tracking=server
    extra = paper_data(tmp_path) if group == "experiment" else []
    cfg = compose_config(
        *network_for(group, option), f"{group}={option}", f"runs_dir={tmp_path}", *extra
    )
    if group == "tracking":  # any MLflow store will do; a server needs one running
        assert option != "server" or cfg.tracking.uri == "http://127.0.0.1:1"
        cfg = dataclasses.replace(
            cfg, tracking=dataclasses.replace(cfg.tracking, uri=f"sqlite:///{tmp_path}/m.db")
        )
    run_and_check(cfg, tmp_path / "run")


def test_magenta_encoder_option_runs_with_a_checkpoint(compose_config, tmp_path, checkpoint):
    cfg = compose_config("experiment=nsynth", "encoder=magenta", f"encoder.checkpoint={checkpoint}")
    run_and_check(cfg, tmp_path / "run")
    cfg = compose_config(
        "experiment=nsynth",
        "encoder=magenta",
        f"encoder.checkpoint={checkpoint}",
        "encoder.use_ema=true",
    )
    with pytest.raises(Exception, match="ExponentialMovingAverage"):
        run(cfg, RunContext(run_dir=tmp_path / "run2"))


def test_magenta_encoder_without_checkpoint_says_so(compose_config):
    with pytest.raises(ConfigError, match="encoder=magenta needs encoder.checkpoint"):
        validate(compose_config("experiment=nsynth", "encoder=magenta"))
    with pytest.raises(ConfigError, match="only apply to encoder=magenta"):
        validate(compose_config("experiment=nsynth", "encoder.checkpoint=/some/model.ckpt"))


def test_custom_layers_and_weights_from_the_command_line(compose_config, tmp_path):
    cfg = compose_config(
        "experiment=nsynth",
        "style_layers.layers=[A_1,C_3,B_2]",
        "style_layers.weights=[0.5,0.25,0.25]",
    )
    validate(cfg)
    summary = run_and_check(cfg, tmp_path / "run")
    assert summary["loss/style"] >= 0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lr=-0.1", "optim.lr must be a positive number"),
        ("optim.steps=-1", "optim.steps must be 0"),
        ("alpha=-1", "alpha must be a finite number >= 0"),
        (
            "style_layers.layers=[A_1,Z_9]",
            "unknown layer 'Z_9' for encoder.network=nsynth; valid layers are A_1..A_30",
        ),
        ("content_layer.layer=A_31", "unknown layer 'A_31'"),
        ("style_layers.weights=[1.0]", "has 1 values for 30 layers"),
        ("snapshots=[0,500]", "snapshots must be iterations between 0 and optim.steps=2"),
        ("audio.mu_law=quantized", "has no gradient"),
        ("audio.duration=0.001", "audio.duration must be between"),
        ("audio.sample_rate=22050", "must be 16000 for the NSynth encoder"),
        ("init.scale=2", "init.scale must be in"),
        ("init.content_envelope=1.5", "init.content_envelope must be in [0, 1]"),
        ("init.octaves=7", "init.octaves must be null"),
        ("seed=-1", "seed must be an integer >= 0"),
        ("encoder.seed=-3", "encoder.seed must be an integer >= 0"),
        ("optim.epsilon=inf", "optim.epsilon must be a positive number"),
        ("style_layers.layers=[final_relu,B_30]", "has a layer twice"),  # one tap, two names
        ("audio.duration=0.032", "audio.duration must be between 0.064 s"),  # metrics need 1024
    ],
)
def test_bad_values_fail_validation_with_the_reason(compose_config, override, message):
    cfg = compose_config("experiment=nsynth", override)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        validate(cfg)


def test_defaults_compose_to_the_documented_choices(compose_config):
    cfg = compose_config(tiny=False)
    assert cfg.encoder.network.value == "spectral"
    assert cfg.content_layer.layer == "conv" and cfg.style_layers.layers == ["conv"]
    assert cfg.optim.steps == 300 and cfg.audio.duration == 3.0
    assert cfg.snapshots is None and snapshot_iterations(cfg) == [0, 150, 300]
    # issue #34's start: a WORLD cross-synthesis in x_S's register, on notes
    assert cfg.init.source.value == "world" and cfg.init.octaves is None and cfg.init.semitones
    validate(cfg)
    cfg = compose_config("experiment=nsynth", tiny=False)
    assert cfg.init.source.value == "content"  # the paper's x_G(0) = x_C
    assert cfg.encoder.network.value == "nsynth" and cfg.content_layer.layer == "final_relu"
    assert cfg.style_layers.layers == [f"A_{i}" for i in range(1, 31)]
    assert cfg.optim.steps == 100 and snapshot_iterations(cfg) == [0, 50, 100]
    validate(cfg)


def test_experiment_instrument_is_the_measured_row(compose_config):
    """experiment=instrument names the run docs/defaults.md measured as "from WORLD in x_S's
    register, on notes: MTT_vgg pool1+2, Gram, alpha 0, 40 steps", setting for setting."""
    rows = load_benchmark("choose_defaults").PAIR_METHODS
    measured = rows[
        "from WORLD in x_S's register, on notes: MTT_vgg pool1+2, Gram, alpha 0, 40 steps"
    ]
    named = compose_config("experiment=instrument", tiny=False)
    assert named == compose_config(*measured, tiny=False)
    assert named.style_layers.layers == ["pool1", "pool2"] and named.alpha == 0.0
    validate(named)


@pytest.mark.parametrize(
    ("experiment", "settings"), [("spectral", SPECTRAL), ("nsynth", NSYNTH), ("musicnn", MUSICNN)]
)
def test_plain_configs_of_the_science_tests_are_the_overlays(compose_config, experiment, settings):
    """Science tests build a plain Config from conftest's settings; each must be exactly what
    `experiment=NAME` composes, so they test the measured settings, not a drifted copy."""
    composed = compose_config(f"experiment={experiment}")
    plain = plain_config(settings, {"runs_dir": composed.runs_dir})
    assert dataclasses.asdict(plain) == dataclasses.asdict(composed)


def test_all_zero_style_weights_are_refused(compose_config):
    cfg = compose_config(
        "experiment=nsynth", "style_layers.layers=[A_1,B_2]", "style_layers.weights=[0,0]"
    )
    with pytest.raises(ConfigError, match="not all 0"):
        validate(cfg)


def test_cheap_checks_come_before_the_clips(compose_config, tmp_path):
    """A layer typo is reported before the clips are looked at (an NSynth TFRecord's notes
    take a scan of the whole file)."""
    cfg = compose_config(f"audio.content={tmp_path / 'missing.wav'}", "style_layers.layers=[cnov]")
    with pytest.raises(ConfigError, match="unknown layer 'cnov'"):
        validate(cfg)

"""Shared fixtures: configs composed from conf/ with Hydra's compose API, shrunk for tests, and
plain `Config`s for the science, which needs no Hydra."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import signal
import sys
import time
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from types import ModuleType

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from mlflow.tracking import MlflowClient

from audiostyle.commands.cli import with_network_settings
from audiostyle.config.from_hydra import register_configs, to_config
from audiostyle.config.schema import Config

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
# 1024 samples (two 512-sample hops), two steps, no XLA compile: seconds per run.
TINY = ["audio.duration=0.064", "optim.steps=2", "snapshots=[0,2]", "runtime.xla=false"]

register_configs()

# Each network's measured settings (conf/experiment/<network>.yaml) but the number of steps, as
# plain values for science tests that build a Config without Hydra; test_config checks that,
# with TINY_SETTINGS, they are exactly what the overlays compose.
SPECTRAL = {
    "encoder.network": "spectral",
    "content_layer.layer": "conv",
    "style_layers.layers": ["conv"],
    "loss.type": "mmd",
    "loss.normalize": "none",
    "loss.mmd_bandwidth": 0.25,
    "loss.energy_weight": 1.0,
    "loss.harmonic_weight": 0.03,
    "loss.noise_weight": 0.3,
    "init.source": "world",
    "init.octaves": None,
    "init.semitones": True,
    "optim.lr": 0.01,
    "optim.schedule": "warmup_cosine",
    "optim.keep_best": True,
    "alpha": 0.1,
}
NSYNTH = {
    "encoder.network": "nsynth",
    "content_layer.layer": "final_relu",
    "style_layers.layers": [f"A_{i}" for i in range(1, 31)],
    "optim.lr": 0.002,
    "optim.schedule": "warmup_cosine",
    "optim.keep_best": True,
    "alpha": 10.0,
}
MUSICNN = {
    "encoder.network": "musicnn",
    "content_layer.layer": "logmel",
    "style_layers.layers": ["cnn1", "cnn2", "cnn3"],
    "optim.lr": 0.003,
    "optim.schedule": "warmup_cosine",
    "optim.keep_best": True,
    "alpha": 3.0,
}
TINY_SETTINGS = {
    "audio.duration": 0.064,
    "optim.steps": 2,
    "snapshots": [0, 2],
    "runtime.xla": False,
    "tracking.enabled": False,
}


def with_setting(node: object, key: str, value: object) -> object:
    """A copy of a (nested) config dataclass with the dotted `key` set; enum fields take their
    value's name, as in YAML."""
    head, _, rest = key.partition(".")
    current = getattr(node, head)
    if rest:
        value = with_setting(current, rest, value)
    elif isinstance(current, Enum):
        value = type(current)(value)
    return dataclasses.replace(node, **{head: value})


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/ is scripts, not a package: load benchmarks/<name>.py by its path."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def plain_config(*settings: Mapping[str, object], tiny: bool = True) -> Config:
    """A Config from the schema's defaults and dotted settings, without Hydra: later mappings
    win, and TINY_SETTINGS come first unless tiny=False."""
    cfg = Config()
    for mapping in (TINY_SETTINGS, *settings) if tiny else settings:
        for key, value in mapping.items():
            cfg = with_setting(cfg, key, value)
    return cfg


def ctrl_c_as_in_a_terminal() -> None:
    """Popen's preexec_fn for a child that is sent SIGINT: a shell runs background jobs (CI's
    among them) with SIGINT ignored, and a child inherits that, so Ctrl-C would never reach it.
    A terminal's foreground job gets the default, and Python then raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt(proc, signum: int, stderr_file: Path | None = None, seconds: float = 60) -> str:
    """Send `signum` and wait for the process to end; returns what it then wrote to a stderr
    pipe. One still running after `seconds` fails the test with every thread's stack (start it
    with HANG_TRACES in its environment), so that a hang says where it hung."""
    import subprocess

    proc.send_signal(signum)
    try:
        return proc.communicate(timeout=seconds)[1] or ""
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)  # faulthandler prints the stacks, then it ends
        rest = proc.communicate(timeout=30)[1] or ""
        said = (stderr_file.read_text() if stderr_file else "") + rest
        pytest.fail(f"still running {seconds} s after signal {signum}:\n{said[-6000:]}")


HANG_TRACES = {"PYTHONFAULTHANDLER": "1"}


@pytest.fixture
def compose_config(tmp_path):
    """compose_config(*overrides) -> typed Config writing under tmp_path, tracking off; a
    network's option selects that network, as on the command line."""

    def _compose(*overrides: str, tiny: bool = True) -> Config:
        GlobalHydra.instance().clear()
        base = [*TINY] if tiny else []
        base += ["tracking=none", f"runs_dir={tmp_path / 'runs'}"]
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("config", overrides=with_network_settings(base + list(overrides)))
        GlobalHydra.instance().clear()
        return to_config(cfg)

    return _compose


def check_a_spectral_run_descends(loss: str, alone: bool) -> None:
    """Through the real spectral network, 20 steps on two tones with `loss.type=loss`: the run's
    loss falls, and the style distance itself by a tenth when it is the whole loss."""
    from audiostyle.clips.inputs import load_inputs
    from audiostyle.networks.encoder import build_network
    from audiostyle.optimisation.transfer import run_transfer

    only = {
        "alpha": 0.0,
        "loss.energy_weight": 0.0,
        "loss.harmonic_weight": 0.0,
        "loss.noise_weight": 0.0,
    }
    # x_G(0) at x_C's pitch, where these tests were set: from the default's start (the tone
    # moved two octaves up, into x_S's register) no step of 20 lowered the default's terms
    at_x_cs_pitch = {"init.octaves": 0, "init.semitones": False}
    cfg = plain_config(
        SPECTRAL,
        {"loss.type": loss, "audio.content": "tone:220", "audio.style": "tone:660"},
        {"audio.duration": 0.5, "optim.steps": 20, "snapshots": [], **at_x_cs_pitch},
        only if alone else {},
    )
    inputs = load_inputs(cfg)
    result = run_transfer(cfg, build_network(cfg), inputs.content, inputs.style)
    totals = result.history["total"]
    assert totals[result.output_step] < totals[0]
    if alone:
        assert totals[result.output_step] < 0.9 * totals[0]
        assert totals == pytest.approx(result.history["style"])


def check_a_chunked_run_matches_the_whole_clip(loss: str) -> None:
    """A 0.5 s spectral run in 0.1 s chunks takes the steps the whole clip's run takes, both
    XLA-compiled as by default: `loss` needs every frame at once, so pass 1 gathers them
    (losses/chunked.py)."""
    import numpy as np

    from audiostyle.clips.inputs import load_inputs
    from audiostyle.networks.encoder import build_network
    from audiostyle.optimisation.transfer import run_transfer

    short = {"loss.type": loss, "audio.duration": 0.5, "optim.steps": 5, "snapshots": []}
    short["runtime.xla"] = True  # as a run's default; TINY_SETTINGS turn it off
    results = []
    for chunk in (None, 0.1):
        cfg = plain_config(SPECTRAL, short, {"runtime.chunk_seconds": chunk})
        inputs = load_inputs(cfg)
        results.append(run_transfer(cfg, build_network(cfg), inputs.content, inputs.style))
    whole, split = results
    assert whole.chunk_samples == 0 and 0 < split.chunk_samples < len(inputs.content)
    np.testing.assert_allclose(split.history["total"], whole.history["total"], rtol=2e-3)


def run_cli(*args: str, cwd: Path = ROOT, timeout: int = 300):
    """Run `python run.py ARGS` (or a module) as a user would; returns CompletedProcess."""
    import subprocess

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def wait_for_mlflow_run(uri: str, trial: int, seconds: float = 120) -> None:
    """Until the trial's MLflow run exists, so that killing its worker leaves it RUNNING."""
    client = MlflowClient(uri)
    deadline = time.time() + seconds
    while time.time() < deadline:
        experiment = client.get_experiment_by_name("audiostyle")
        if experiment and client.search_runs(
            [experiment.experiment_id], filter_string=f"tags.`sweep.trial` = '{trial}'"
        ):
            return
        time.sleep(1)
    raise AssertionError(f"trial {trial} never started its MLflow run")


def harmonic_note(pitch: int, n: int = 16000, rate: int = 16000):
    """A note-like test tone: three harmonics at the MIDI pitch's frequency, decaying."""
    import numpy as np

    f = 440.0 * 2 ** ((pitch - 69) / 12)
    t = np.arange(n) / rate
    x = sum(np.sin(2 * np.pi * k * f * t) / k for k in (1, 2, 3)) * np.exp(-t)
    return (0.3 * x).astype(np.float32)


def write_nsynth_folder(root: Path, notes: dict[str, object], rate: int = 16000) -> Path:
    """An NSynth folder layout: examples.json with NSynth's fields, audio/<note_str>.wav."""
    import json

    import soundfile as sf

    families = ["bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed"]
    families += ["string", "synth_lead", "vocal"]
    (root / "audio").mkdir(parents=True)
    examples = {}
    for i, (name, audio) in enumerate(notes.items()):
        family_source, pitch, velocity = name.split("-")
        family, source, instrument = family_source.rsplit("_", 2)
        examples[name] = {
            "note": i,
            "note_str": name,
            "instrument": int(instrument),
            "instrument_str": family_source,
            "pitch": int(pitch),
            "velocity": int(velocity),
            "sample_rate": rate,
            "qualities": [0] * 10,
            "qualities_str": [],
            "instrument_family": families.index(family),
            "instrument_family_str": family,
            "instrument_source": ["acoustic", "electronic", "synthetic"].index(source),
            "instrument_source_str": source,
        }
        sf.write(root / "audio" / f"{name}.wav", audio, rate, subtype="FLOAT")
    (root / "examples.json").write_text(json.dumps(examples))
    return root


def write_tfrecord(path: Path, folder: Path) -> Path:
    """The notes of an NSynth folder as NSynth's TFRecord: tf.train.Example, NSynth's feature
    names and types."""
    import json

    import soundfile as sf
    import tensorflow as tf

    def ints(values) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    examples = json.loads((folder / "examples.json").read_text())
    with tf.io.TFRecordWriter(str(path)) as writer:
        for name, meta in examples.items():
            feature = {k: ints([v]) for k, v in meta.items() if isinstance(v, int)}
            for k, v in meta.items():
                if isinstance(v, str):
                    value = tf.train.BytesList(value=[v.encode()])
                    feature[k] = tf.train.Feature(bytes_list=value)
            feature["qualities"] = ints(meta["qualities"])
            audio, _ = sf.read(folder / "audio" / f"{name}.wav", dtype="float32")
            feature["audio"] = tf.train.Feature(float_list=tf.train.FloatList(value=audio))
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())
    return path


PAPER_NOTES = {  # the notes conf/experiment/ names, as the renderer writes them
    "vocal_synthetic_052-048-100": 48,
    "vocal_synthetic_052-055-100": 55,
    "flute_synthetic_073-060-100": 60,
    "flute_synthetic_073-064-100": 64,
    "flute_synthetic_073-067-100": 67,
}


# Headless Chromium, for the browser tests (Debian's chromium; .ci/run installs it)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def under_ci() -> bool:
    """CI is set (CI=true, as CI runs .ci/run), and not to 0 or false."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def needs_chromium() -> pytest.MarkDecorator:
    """The mark for a test that runs CHROMIUM: skipped where there is none, except under CI,
    where .ci/run has installed it and a missing browser fails the test (the `chromium`
    fixture), so that CI never passes with the browser tests skipped."""
    if CHROMIUM is None and not under_ci():
        return pytest.mark.skip(reason="needs Debian's chromium (installed by .ci/run)")
    return pytest.mark.usefixtures("chromium")


@pytest.fixture
def chromium() -> str:
    if CHROMIUM is None:
        pytest.fail(
            "CI is set but there is no chromium or chromium-browser on PATH: .ci/run installs "
            "Debian's chromium before the tests; without it the browser tests cannot run",
            pytrace=False,
        )
    return CHROMIUM

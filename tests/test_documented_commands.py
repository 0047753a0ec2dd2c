"""Every `python run.py ...` and `audiostyle-...` command the docs show, checked as a
user would meet it, so that no documented command drifts from the code.

Each command runs in a folder that holds what its placeholders name (a voice file, an NSynth
folder and TFRecord, a Magenta-format checkpoint, a SoundFont header); it must compose and pass
the validation a run does before any audio is read. A command the docs show failing must fail
with the documented message. The cheap commands also run end to end at tiny sizes (`slow`).
"""

from __future__ import annotations

import importlib
import itertools
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hydra import compose, initialize_config_dir
from hydra._internal.utils import get_args_parser
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from mlflow.tracking import MlflowClient

from audiostyle.commands import compare, encode, render_dataset, reproduce
from audiostyle.commands.cli import with_network_settings
from audiostyle.config.from_hydra import to_config
from audiostyle.config.schema import Config
from audiostyle.config.validation import validate
from audiostyle.errors import ConfigError

from conftest import (
    CONF,
    PAPER_NOTES,
    ROOT,
    harmonic_note,
    load_benchmark,
    run_cli,
    write_nsynth_folder,
    write_tfrecord,
)
from reference import random_tensors, write_tf1_checkpoint

DOCS = [
    "README.md",
    "sweeps/README.md",
    *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")),
]
COMMAND = re.compile(
    r"(?:python run\.py|audiostyle-(?:encode|compare|reproduce|render-dataset))\b[^`|#]*"
)
ERROR_AFTER = re.compile(r"\s*->\s*`audiostyle: error: ([^`]+)`")
# What a placeholder stands for in the fixture folder; a /path/ or /tmp/ path is made relative.
PLACEHOLDERS = {"PATH": "path/model.ckpt-200000", "DIR": "data/nsynth-gm", "NAME": "alpha_lr"}
PLACEHOLDERS |= {"A": "0.3", "W": "1"}  # docs/defaults.md: alpha=A, loss.energy_weight=W
# Shown as patterns, not commands; each must still be in the docs (test_every_skip_is_still_shown).
SKIP = {
    "python run.py ...": "a pattern: any run with HYDRA_FULL_ERROR=1",
}
# Overrides the default test install cannot compose, and where they are tested instead.
NOT_COMPOSED = {
    "hydra/launcher=joblib": "the scale extra's launcher; tests/test_scale.py runs it",
}
HARMONIC_PAIR = ("tmp/c220_k1.wav", "tmp/s330_k2.wav")
PAIR_CLIPS = {clip for pair in load_benchmark("pairs").PAIRS.values() for clip in pair}
TINY = {"optim.steps": "2", "audio.duration": "0.25", "runtime.xla": "false"}


@dataclass(frozen=True)
class Documented:
    doc: str
    line: int
    text: str
    error: str | None  # the one-line error the docs say it gives

    @property
    def argv(self) -> list[str]:
        words = shlex.split(self.text)
        return [concrete(arg) for arg in words[2 if words[0] == "python" else 1 :]]

    @property
    def module(self) -> str | None:
        command = self.text.split()[0]  # audiostyle-render-dataset: commands.render_dataset
        return (
            command.removeprefix("audiostyle-").replace("-", "_") if command != "python" else None
        )


def code_spans(text: str) -> list[tuple[int, str, str]]:
    """(line, code, text after it) of each fenced line and inline code span; an inline span
    may continue on the next line, as Markdown allows."""
    spans, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced:
            spans.append((number, line, ""))
    prose = re.sub(r"```.*?```", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
    for m in re.finditer(r"`([^`]+)`", prose):
        number = prose.count("\n", 0, m.start()) + 1
        spans.append((number, m.group(1).replace("\n", " "), prose[m.end() : m.end() + 200]))
    return spans


def documented_commands() -> list[Documented]:
    found = []
    for doc in DOCS:
        for number, code, after in code_spans((ROOT / doc).read_text()):
            for m in COMMAND.finditer(code):
                error = ERROR_AFTER.match(after)
                found.append(Documented(doc, number, m.group().strip(), error and error.group(1)))
    return found


def concrete(arg: str) -> str:
    """A documented argument with its placeholder replaced by what the fixture folder holds."""
    key, eq, value = arg.rpartition("=")
    value = PLACEHOLDERS.get(value, value)
    return key + eq + re.sub(r"^/(path|tmp)/", r"\1/", value)


COMMANDS = documented_commands()
CHECKED = [c for c in COMMANDS if c.text not in SKIP]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A folder holding every file the documented commands name, at the paths they name."""
    ws = tmp_path_factory.mktemp("docs")
    notes = {name: harmonic_note(pitch, 16000) for name, pitch in PAPER_NOTES.items()}
    nsynth = write_nsynth_folder(ws / "data" / "nsynth-gm", notes)
    (ws / "tmp").mkdir()
    (ws / "tmp" / "nsynth-gm").symlink_to(nsynth)
    (ws / "path" / "wavenet-ckpt").mkdir(parents=True)
    write_tfrecord(ws / "path" / "nsynth-test.tfrecord", nsynth)
    for prefix in ("path/model.ckpt-200000", "path/wavenet-ckpt/model.ckpt-200000"):
        write_tf1_checkpoint(str(ws / prefix), random_tensors(0))
    voice = harmonic_note(57, 16000) + 0.05 * np.sin(np.arange(16000) * 0.3)
    # tmp/c220_k1.wav, tmp/s330_k2.wav: docs/defaults.md's synthetic harmonic-loss pair
    for name in ("my_voice.flac", "my_voice.wav", "cello.wav", "CLIP.wav", *HARMONIC_PAIR):
        sf.write(ws / name, voice, 16000)
    # docs/defaults.md's rows on benchmarks/pairs.py's clips in /tmp/pairs (C, S: any pair's)
    (ws / "tmp" / "pairs").mkdir()
    for name in {*PAIR_CLIPS, "C.wav", "S.wav"}:
        sf.write(ws / "tmp" / "pairs" / name, voice, 16000)
    (ws / "my.sf2").write_bytes(b"RIFF" + (4).to_bytes(4, "little") + b"sfbk")
    (ws / "runs").mkdir()
    MlflowClient(f"sqlite:///{ws / 'runs' / 'mlflow.db'}").create_experiment("audiostyle")
    return ws


@pytest.fixture
def in_workspace(workspace, monkeypatch) -> Path:
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("AUDIOSTYLE_OPTUNA_STORAGE", f"sqlite:///{workspace / 'optuna.db'}")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")  # cluster=shared
    return workspace


def test_the_docs_show_the_design_cards_usage():
    texts = {c.text for c in COMMANDS}
    assert "python run.py loss=gram style_layers=relu_first" in texts
    assert any(c.text.startswith("python run.py -m sweep=alpha_lr") for c in COMMANDS)
    assert {c.module for c in COMMANDS} >= {"encode", "compare", "reproduce", "render_dataset"}
    assert any(c.error for c in COMMANDS)  # the README's example of a one-line error


def test_every_skip_is_still_shown():
    """A skipped pattern that left the docs is a stale entry, not a pass."""
    assert set(SKIP) <= {c.text for c in COMMANDS}
    shown = " ".join(c.text for c in COMMANDS)
    assert all(override in shown for override in NOT_COMPOSED)


def run_py_configs(argv: list[str]) -> list[list[str]]:
    """A run.py command line as the override lists of the runs it starts: each choice sweep
    expanded; an interval sweep dropped (Optuna samples it: numbers, never a network)."""
    overrides = [o for o in get_args_parser().parse_args(argv).overrides if o not in NOT_COMPOSED]
    options = []
    for text, parsed in zip(overrides, OverridesParser.create().parse_overrides(overrides)):
        if not parsed.is_sweep_override():
            options.append([text])
        elif parsed.value_type is not None and parsed.value_type.name.endswith("CHOICE_SWEEP"):
            options.append([f"{parsed.key_or_group}={v}" for v in parsed.sweep_string_iterator()])
    return [list(combo) for combo in itertools.product(*options)]


def composed(overrides: list[str]) -> Config:
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return to_config(compose("config", overrides=with_network_settings(overrides)))
    finally:
        GlobalHydra.instance().clear()


def compose_and_validate(overrides: list[str]) -> None:
    validate(composed(overrides))


def check_module(command: Documented) -> None:
    """A module command's arguments, checked as its main() checks them before any heavy work."""
    args = command.argv
    if command.module == "encode":
        assert encode.main(args) == 0  # cheap end to end: a 1 s clip through the encoder
        assert Path(args[args.index("--out") + 1]).is_file()
    elif command.module == "compare":
        compare.check_arguments(compare.parse_args(args))
    elif command.module == "reproduce":
        parsed = reproduce.parse_args(args)
        reproduce.plan(
            parsed.data, parsed.steps, reproduce.experiment_names(parsed), parsed.overrides
        )
    elif command.module == "render_dataset":
        parsed = render_dataset.parse_args(args)
        render_dataset.checked_arguments(parsed)
        if parsed.soundfont:
            render_dataset.checked_soundfont(Path(parsed.soundfont))
    else:
        pytest.fail(f"{command.doc}:{command.line}: no check for audiostyle-{command.module}")


def ids(commands: list[Documented]) -> list[str]:
    return [f"{c.doc}:{c.line}:{c.text[:60]}" for c in commands]


@pytest.mark.parametrize("command", CHECKED, ids=ids(CHECKED))
def test_a_documented_command_composes_and_validates(command, in_workspace, tmp_path, monkeypatch):
    args = command.argv
    if command.module and len(args) == 0:  # a module named in a table: it must be one
        assert callable(importlib.import_module(f"audiostyle.commands.{command.module}").main)
        return
    if command.module == "render_dataset":  # rendered before the dataset exists: a fresh folder
        (tmp_path / "my.sf2").write_bytes((in_workspace / "my.sf2").read_bytes())
        monkeypatch.chdir(tmp_path)
    if command.module:
        check_module(command)
        return
    parsed = get_args_parser().parse_args(args)
    if parsed.help or parsed.cfg:  # Hydra's own flags: run as written, they are cheap
        proc = run_cli(str(ROOT / "run.py"), *args, cwd=in_workspace)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert ("loss:" in proc.stdout) if parsed.cfg else ("style_layers:" in proc.stdout)
    for overrides in run_py_configs(args):
        if command.error:
            with pytest.raises(ConfigError) as err:
                compose_and_validate(overrides)
            assert str(err.value) == command.error
        else:
            compose_and_validate(overrides)


def single_runs(commands: list[Documented]) -> list[Documented]:
    """run.py commands that start one run: cheap at tiny sizes, with no GPU, dataset download
    or server needed (a sweep or grid is run in tests/test_front_door.py and test_sweep.py)."""
    return [
        c for c in commands
        if not c.module and not c.error and "-m" not in c.argv
        and not any(a.startswith("--") for a in c.argv)
    ]  # fmt: skip


def tiny(argv: list[str]) -> list[str]:
    """The command at TINY's sizes; an experiment's own snapshots (the paper's iterations,
    beyond 2 steps) give way to the default first, middle and last."""
    kept = [a for a in argv if a.partition("=")[0] not in TINY]
    small = [*kept, *(f"{k}={v}" for k, v in TINY.items())]
    snapshots = composed(small).snapshots
    return (
        small if snapshots is None or max(snapshots, default=0) <= 2 else [*small, "snapshots=null"]
    )


@pytest.mark.slow
@pytest.mark.parametrize("command", single_runs(CHECKED), ids=ids(single_runs(CHECKED)))
def test_a_documented_run_runs_end_to_end_at_tiny_sizes(command, workspace, tmp_path):
    proc = run_cli(str(ROOT / "run.py"), *tiny(command.argv), f"runs_dir={tmp_path}", cwd=workspace)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outputs = [p for p in tmp_path.rglob("generated.wav") if "mlartifacts" not in p.parts]
    assert len(outputs) == 1


@pytest.mark.slow
def test_the_documented_comparison_runs_end_to_end(workspace, tmp_path):
    """`audiostyle-compare` as documented, on a store holding two tiny runs."""
    (command,) = {c.text: c for c in COMMANDS if c.module == "compare" and c.argv}.values()
    for alpha in ("0.1", "1"):
        proc = run_cli(str(ROOT / "run.py"), *tiny([f"alpha={alpha}"]), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
    script = Path(sys.executable).with_name("audiostyle-compare")  # the installed command
    proc = subprocess.run([script, *command.argv], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = (tmp_path / "runs" / "compare.html").read_text()
    assert page.count("<audio") >= 2

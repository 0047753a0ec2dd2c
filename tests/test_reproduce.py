"""The reproduction command end to end: experiments run, the paper-form table, MLflow."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from audiostyle.commands.reproduce import (
    EXPERIMENTS,
    compose_experiment,
    main,
    plan,
    reproduce,
    with_snapshots,
)

from conftest import (
    HANG_TRACES,
    PAPER_NOTES,
    ROOT,
    ctrl_c_as_in_a_terminal,
    harmonic_note,
    interrupt,
    run_cli,
    write_nsynth_folder,
)

TINY_RUN = ["audio.duration=0.128", "runtime.xla=false"]


def table_rows(text: str) -> dict[str, list[str]]:
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| ")]
    return {r[0].lstrip("| "): r[1:] for r in rows[1:]}


@pytest.mark.slow  # test_config runs every experiment in the default suite; this adds the table
def test_one_experiment_runs_and_lands_in_the_table(tmp_path):
    notes = {k: harmonic_note(p, 64000) for k, p in PAPER_NOTES.items()}
    root = write_nsynth_folder(tmp_path / "nsynth", notes)
    extra = [*TINY_RUN, f"runs_dir={tmp_path / 'runs'}", "measure.pitch=false", "tracking=none"]
    configs = plan(root, 3, ["pitch_to_chord"], extra)
    path = reproduce(configs, tmp_path / "out", 3)  # MLflow: the slow test
    rows = table_rows(path.read_text())
    losses = [float(v) for v in rows["pitch_to_chord"][:3]]  # iterations 0, 1, 2
    assert all(v > 0 for v in losses) and losses[2] < losses[0]  # Adam lowers the style loss
    assert rows["pitch_to_chord"][3] == "1"  # monotonic
    assert (tmp_path / "out" / "pitch_to_chord" / "generated.wav").exists()


@pytest.mark.slow  # renders with fluidsynth, runs all five on the NSynth encoder: minutes
def test_reproduction_command_end_to_end_on_a_rendered_dataset(tmp_path):
    data = tmp_path / "nsynth"
    proc = run_cli(
        "-m", "audiostyle.commands.render_dataset", "--out", str(data),
        "--programs", "choir,flute", "--pitches", "48,55,60,64,67",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "out"
    args = ["--data", str(data), "--out", str(out), "--steps", "3", *TINY_RUN]
    proc = run_cli(
        "-m", "audiostyle.commands.reproduce", *args, f"runs_dir={tmp_path / 'runs'}", timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = table_rows((out / "paper_table.md").read_text())
    assert list(rows) == list(EXPERIMENTS)
    for name, cells in rows.items():
        assert all(float(v) > 0 for v in cells[:3]), name
    assert rows["pitch_pitch_low_high"][5] != "-"  # pitch agreement measured (pyin)
    assert rows["voice_flute"][-1] != "-" and rows["voice_flute"][5] == "-"  # WER, no pitch
    client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("reproduce")
    found = client.search_runs([exp.experiment_id])
    assert len(found) == 6  # five experiments and the summary run
    summary = next(r for r in found if r.info.run_name.startswith("reproduce-"))
    loss0 = float(rows["pitch_to_chord"][0])
    assert summary.data.metrics["pitch_to_chord/loss_0"] == pytest.approx(loss0, rel=1e-3)
    artifacts = [a.path for a in client.list_artifacts(summary.info.run_id)]
    assert {"paper_table.md", "paper_table.json"} <= set(artifacts)
    table = json.loads(
        Path(client.download_artifacts(summary.info.run_id, "paper_table.json")).read_text()
    )
    assert [row[0] for row in table["data"]] == list(rows)


def test_each_experiment_keeps_the_snapshots_of_the_papers_figures_that_steps_reach():
    cfg = compose_experiment("pitch_to_chord", ["optim.steps=100"])
    assert with_snapshots(cfg).snapshots == [0, 30, 100]
    cfg = compose_experiment("voice_flute", ["optim.steps=50"])
    assert with_snapshots(cfg).snapshots == [0, 1, 50]  # 75 and 100 lie beyond --steps
    cfg = compose_experiment("pitch_pitch_low_high", ["optim.steps=3"])
    assert with_snapshots(cfg).snapshots == [0, 3]


def test_bad_data_root_fails_before_any_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--data", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith("audiostyle: error: data.nsynth_root")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "signum",
    [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)],
    ids=["SIGTERM", "SIGINT"],
)
def test_an_interrupted_reproduction_is_one_line_and_its_run_killed(tmp_path, signum):
    """A scheduler's SIGTERM or Ctrl-C, as with run.py: exit 130, one line, the MLflow run
    KILLED (not left RUNNING), the snapshots kept."""
    notes = {k: harmonic_note(p, 64000) for k, p in PAPER_NOTES.items()}
    root = write_nsynth_folder(tmp_path / "nsynth", notes)
    args = ["--data", str(root), "--out", str(tmp_path / "out"), "--steps", "400"]
    args += ["--experiments", "pitch_to_chord", "audio.duration=0.5", "runtime.xla=false"]
    snapshot = tmp_path / "out" / "pitch_to_chord" / "snapshots" / "iter_0000.wav"
    with open(tmp_path / "stderr.txt", "w") as stderr:  # a file: a full pipe would stall it
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "audiostyle.commands.reproduce",
                *args,
                f"runs_dir={tmp_path / 'runs'}",
            ],
            cwd=ROOT,
            stderr=stderr,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **HANG_TRACES},
            preexec_fn=ctrl_c_as_in_a_terminal,
        )
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None and not snapshot.exists():
            time.sleep(0.2)  # until the optimisation is under way
        interrupt(proc, signum, tmp_path / "stderr.txt")
    said = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == 130, said[-2000:]
    assert "Traceback" not in said
    lines = [line for line in said.splitlines() if line.startswith("audiostyle")]
    assert lines == ["audiostyle: interrupted; the runs and snapshots written so far are kept"]
    client = MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    (r,) = client.search_runs([client.get_experiment_by_name("reproduce").experiment_id])
    assert r.info.status == "KILLED"
    assert snapshot.exists()

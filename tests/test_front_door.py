"""The design card's usage, run as written at tiny sizes: no experiment=, no snapshots=.

Each test asserts which network ran (the per-layer style losses name its layers), not only the
exit code."""

import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import run_cli

SIZES = ["optim.steps=2", "audio.duration=0.25"]
RELU_A = [f"A_{i}" for i in range(1, 31)]


def finished_runs(runs_dir: Path) -> list:
    client = MlflowClient(f"sqlite:///{runs_dir / 'mlflow.db'}")
    experiments = client.search_experiments()
    runs = client.search_runs([e.experiment_id for e in experiments])
    assert all(r.info.status == "FINISHED" for r in runs), [r.info.status for r in runs]
    return runs


def style_layers_logged(run) -> list[str]:
    return sorted(
        (k.removeprefix("style_layer/") for k in run.data.metrics if k.startswith("style_layer/")),
        key=lambda n: (n[0], int(n[2:]) if n[2:].isdigit() else 0),
    )


def one_run(tmp_path: Path, *overrides: str) -> tuple[dict, object]:
    proc = run_cli("run.py", *overrides, *SIZES, f"runs_dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (summary_path,) = [p for p in tmp_path.rglob("summary.json") if "mlartifacts" not in p.parts]
    (run,) = finished_runs(tmp_path)
    log = next(summary_path.parent.glob("*.log")).read_text()
    return json.loads(summary_path.read_text()), run, log


def test_gram_on_relu_first_runs_nsynth_as_the_design_card_says(tmp_path):
    summary, run, log = one_run(tmp_path, "loss=gram", "style_layers=relu_first")
    run_dir = Path(summary["output"]).parent
    assert style_layers_logged(run) == RELU_A
    assert summary["network"] == {"name": "nsynth", "chosen_by": "style_layers=relu_first"}
    assert run.data.tags["network_chosen_by"] == "style_layers=relu_first"
    assert run.data.params["encoder.network"] == "nsynth"
    assert run.data.params["alpha"] == "10.0"  # experiment=nsynth's measured alpha
    assert "network nsynth, chosen by style_layers=relu_first" in log
    assert summary["snapshots"] == [0, 1, 2]  # the first, middle and last of 2 steps
    assert run.data.params["snapshots"] == "[0, 1, 2]"
    wavs = sorted(p.name for p in run_dir.glob("snapshots/*.wav"))
    assert wavs == ["iter_0000.wav", "iter_0001.wav", "iter_0002.wav"]


def test_the_design_card_command_prints_its_composed_config():
    """`--cfg job` after the overrides (README: `python run.py --cfg job` prints the result)."""
    proc = run_cli("run.py", "loss=gram", "style_layers=relu_first", "--cfg", "job")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "network: nsynth" in proc.stdout and "alpha: 10.0" in proc.stdout


def test_the_network_overlay_joins_the_overrides_wherever_the_options_stand():
    from audiostyle.commands.cli import choose_network

    card = ["run.py", "loss=gram", "style_layers=relu_first"]
    assert choose_network([*card, "--cfg", "job"]) == [*card, "experiment=nsynth", "--cfg", "job"]
    grid = ["run.py", "-m", "loss=gram,l2", "style_layers=relu_first,residual"]
    assert choose_network(grid) == [*grid, "experiment=nsynth"]
    assert choose_network(["run.py", "alpha=1"]) == ["run.py", "alpha=1"]  # the default network


def test_l2_on_residual_with_the_encoding_as_content(tmp_path):
    summary, run, _ = one_run(
        tmp_path, "loss=l2", "style_layers=residual", "content_layer=encoding"
    )
    assert style_layers_logged(run) == [f"C_{i}" for i in range(1, 31)]
    assert run.data.params["content_layer.layer"] == "encoding"
    assert run.data.params["loss.type"] == "l2"
    assert summary["network"]["chosen_by"] == "style_layers=residual, content_layer=encoding"


def test_noise_init_on_both_relus(tmp_path):
    _, run, _ = one_run(tmp_path, "init=noise", "style_layers=relu_both")
    assert style_layers_logged(run) == sorted(
        [f"{k}_{i}" for k in "AB" for i in range(1, 31)], key=lambda n: (n[0], int(n[2:]))
    )
    assert run.data.params["init.source"] != "content"


def test_two_networks_at_once_is_one_line_and_exit_2(tmp_path):
    proc = run_cli("run.py", "encoder=spectral", "style_layers=relu_first", f"runs_dir={tmp_path}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "audiostyle: error: encoder=spectral chooses the spectral network but "
        "style_layers=relu_first chooses the NSynth encoder; choose one network (to compare "
        "them, sweep experiment=spectral,nsynth)"
    ]
    assert not list(tmp_path.rglob("*.wav"))


@pytest.mark.slow
def test_a_hydra_grid_over_loss_and_nsynth_layer_sets(tmp_path):
    proc = run_cli(
        "run.py", "-m", "loss=gram,l2", "style_layers=relu_first,residual", *SIZES,
        f"runs_dir={tmp_path}", timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = finished_runs(tmp_path)
    assert len({r.info.experiment_id for r in runs}) == 1
    grid = sorted((r.data.params["loss.type"], style_layers_logged(r)[0]) for r in runs)
    assert grid == [("gram", "A_1"), ("gram", "C_1"), ("l2", "A_1"), ("l2", "C_1")]


@pytest.mark.slow
def test_an_optuna_sweep_at_tiny_sizes(tmp_path):
    proc = run_cli(
        "run.py", "-m", "sweep=alpha_lr", "sweep.n_trials=2", *SIZES, f"runs_dir={tmp_path}",
        timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = [r for r in finished_runs(tmp_path) if "sweep.trial" in r.data.tags]
    assert len(trials) == 2
    assert all(style_layers_logged(r) == ["conv"] for r in trials)  # the default network
    assert all(r.data.tags["network_chosen_by"] == "default" for r in trials)


PHASES = ["load", "tensorflow", "pitch", "targets", "compile", "steps", "measures", "pictures"]


def test_a_run_says_each_phase_before_the_first_step_and_records_its_time(tmp_path):
    """Issue #31: before the first step a status line per phase, in order; each phase's wall
    time in summary.json and MLflow (time/<phase>)."""
    summary, run, log = one_run(tmp_path)
    lines = [
        "reading the clips",
        "tracking the pitch of x_C, x_S and their mix",
        "starting TensorFlow",
        "computing the targets",
        "compiling the step",
        "measuring x_G",
        "drawing the spectrograms",
    ]
    at = [log.index(line) for line in lines]
    assert at == sorted(at)
    for phase in [*PHASES, "tracking"]:
        assert summary[f"time/{phase}"] >= 0, phase
        assert run.data.metrics[f"time/{phase}"] == pytest.approx(summary[f"time/{phase}"])
    assert summary["time/compile"] > 0.1  # tracing at least: the first step is the compile's
    kept = {p.parent.name for p in (tmp_path / "cache").rglob("*") if p.is_file()}
    assert kept == {"pitch", "speech", "tagger", "xla"}  # for the next run on these clips, shapes
    transfer = summary["time/targets"] + summary["time/compile"] + summary["time/steps"]
    assert transfer == pytest.approx(summary["time/seconds"], rel=0.05, abs=0.5)

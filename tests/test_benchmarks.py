"""benchmarks/speed.py runs as the README says, and its variants compute one loss."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # seven TensorFlow processes, about a minute
def test_spectral_speed_benchmark_times_the_step_against_the_old_one(tmp_path):
    out = tmp_path / "speed.json"
    cmd = [sys.executable, "benchmarks/speed.py", "--network", "spectral"]
    cmd += ["--samples", "4096", "--steps", "1", "--out", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    rows = {r["variant"]: r for r in report["rows"]}
    old, previous = "before: conv op, C x C Grams", "xla, previous default"
    assert set(rows) == {old, previous, "function", "xla", "xla, bfloat16"}
    for row in rows.values():
        assert "error" not in row and row["step_s"] > 0 and row["peak_bytes"] > 0
    # the old formulation (conv op, 4096 x 4096 Grams) and the product's give the Gram's loss
    assert (
        abs(rows[previous]["first_loss"] - rows[old]["first_loss"])
        <= 1e-4 * rows[old]["first_loss"]
    )
    # the default step (mmd and the noise term) is another loss, alike in both compilations
    default = rows["xla"]["first_loss"]
    assert abs(rows["function"]["first_loss"] - default) <= 1e-4 * abs(default)
    assert abs(default - rows[previous]["first_loss"]) > 1e-3 * abs(default)
    assert "WARNING" not in done.stdout
    assert "T = 4096, xla, bfloat16: first loss" in done.stdout  # rounding: reported, not held
    assert "| 4096 | xla |" in done.stdout and f"vs {old}" in done.stdout
    assert f"vs {previous}" in done.stdout  # the new default's cost, as a ratio


@pytest.mark.slow  # four TensorFlow processes, about a minute
def test_nsynth_speed_benchmark_plain_baseline_computes_the_products_loss(tmp_path):
    """The straightforward step (`plain_step`: tf.nn.convolution loop, einsum Grams, autodiff)
    and the product's (Grams in the stack, one-matmul gradients, XLA) give one loss."""
    out = tmp_path / "speed.json"
    cmd = [sys.executable, "benchmarks/speed.py", "--samples", "2048", "--steps", "1"]
    cmd += ["--variants", "plain function", "xla", "--out", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {r["variant"]: r for r in json.loads(out.read_text())["rows"]}
    plain, product = rows["plain function"]["first_loss"], rows["xla"]["first_loss"]
    assert plain > 0 and abs(product - plain) <= 1e-4 * plain
    assert "WARNING" not in done.stdout and "| 2048 | xla |" in done.stdout


@pytest.mark.slow  # four TensorFlow processes, under a minute
def test_speed_benchmark_times_trials_batched_in_one_step(tmp_path):
    """--batch: B trials' x_G in one step, timed per trial against one trial's step."""
    out = tmp_path / "speed.json"
    cmd = [sys.executable, "benchmarks/speed.py", "--network", "spectral", "--samples", "4096"]
    cmd += ["--steps", "1", "--variants", "xla", "--batch", "1", "2", "--out", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {r["batch"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {1, 2} and all("error" not in r for r in rows.values())
    # x_G(0) tiled: the batch's first loss is one trial's (the means run over the batch)
    assert abs(rows[2]["first_loss"] - rows[1]["first_loss"]) <= 1e-5 * rows[1]["first_loss"]
    assert "| trials | s / trial | vs 1 trial |" in done.stdout
    assert "| 4096 | xla |" in done.stdout and "| 2 |" in done.stdout


@pytest.mark.slow  # four tiny runs, about a minute on 2 cores
def test_startup_benchmark_times_the_phases_against_a_baseline():
    """benchmarks/startup.py with this checkout as its own baseline: every phase in the table,
    and the two sides' walls within the same order of magnitude."""
    cmd = [sys.executable, "benchmarks/startup.py", "--baseline", str(ROOT)]
    cmd += ["--baseline-python", sys.executable, "--rounds", "1"]
    cmd += ["tracking=none", "optim.steps=2", "audio.duration=0.5"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {
        line.split(" | ")[0].removeprefix("| "): line.split(" | ")[1:]
        for line in done.stdout.splitlines()
        if line.startswith("| time/") or line.startswith("| wall") or line.startswith("| outside")
    }
    for phase in ("load", "tensorflow", "pitch", "compile", "steps", "judges", "pictures"):
        assert f"time/{phase}" in rows, phase
    ratio = float(rows["wall"][2].rstrip(" |"))
    assert 0.2 < ratio < 5  # the same code on both sides
    assert "first run, empty runs_dir" in done.stdout

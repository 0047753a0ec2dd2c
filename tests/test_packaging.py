"""The package installs like one: a wheel, installed non-editable into a fresh environment,
runs `audiostyle` from an unrelated folder with its own configs (audiostyle.conf)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import ROOT

SCRIPTS = ["audiostyle", "audiostyle-encode", "audiostyle-compare", "audiostyle-reproduce"]
SCRIPTS += ["audiostyle-render-dataset"]


def build_wheel(out: Path) -> Path:
    """The wheel of a copy of the checkout: setuptools builds in the source tree (build/)."""
    source = out / "source"
    skip = shutil.ignore_patterns(".git", ".venv*", "runs", "build", "*.egg-info", "__pycache__")
    shutil.copytree(ROOT, source, symlinks=True, ignore=skip)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        timeout=600,
    )
    (wheel,) = out.glob("audiostyle-*.whl")
    return wheel


def fresh_environment(root: Path, wheel: Path) -> Path:
    """A new virtual environment holding only the wheel; its dependencies are this
    environment's, reached through a .pth file (so no download is needed), never its
    audiostyle: that one is editable, and .pth files outside a site folder are not run."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
         str(wheel)],
        check=True, timeout=600,
    )  # fmt: skip
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return root / "bin"


@pytest.mark.slow
def test_the_wheel_runs_from_an_unrelated_folder(tmp_path):
    bin_dir = fresh_environment(tmp_path / "env", build_wheel(tmp_path / "dist"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            args, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=timeout
        )

    where = run(str(bin_dir / "python"), "-c", "import audiostyle.conf as c; print(c.__file__)")
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(str(tmp_path / "env")), where.stdout  # not the checkout
    for script in SCRIPTS:
        shown = run(str(bin_dir / script), "--help")
        assert shown.returncode == 0, (script, shown.stderr[-2000:])
    helped = run(str(bin_dir / "audiostyle"), "--help").stdout
    (options,) = [line for line in helped.splitlines() if line.startswith("style_layers: ")]
    assert {"first5", "relu_both", "musicnn_midend"} <= set(options[14:].split(", ")), options
    tiny = ["optim.steps=2", "audio.duration=0.25", "runtime.xla=false", "style_layers=relu_first"]
    done = run(str(bin_dir / "audiostyle"), *tiny)
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = [
        p for p in (elsewhere / "runs").rglob("generated.wav") if "mlartifacts" not in p.parts
    ]
    assert len(outputs) == 1
    assert (elsewhere / "runs" / "mlflow.db").is_file()
    swept = run(str(bin_dir / "audiostyle"), "-m", "sweep=alpha_lr", "sweep.n_trials=1", *tiny[:3])
    assert swept.returncode == 0, swept.stderr[-3000:]  # the sweeper plugin is found installed
    assert (elsewhere / "runs" / "optuna.db").is_file()

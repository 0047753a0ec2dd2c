"""Shared fixtures: configs composed from conf/ with Hydra's compose API, shrunk for tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from audiostyle.config import Config, register_configs, to_config

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
# 1024 samples (two 512-sample hops), two steps, no XLA compile: seconds per run.
TINY = ["audio.duration=0.064", "optim.steps=2", "snapshots=[0,2]", "runtime.xla=false"]

register_configs()


@pytest.fixture
def compose_config(tmp_path):
    """compose_config(*overrides) -> typed Config writing under tmp_path, tracking off."""

    def _compose(*overrides: str, tiny: bool = True) -> Config:
        GlobalHydra.instance().clear()
        base = [*TINY] if tiny else []
        base += ["tracking=none", f"runs_dir={tmp_path / 'runs'}"]
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("config", overrides=base + list(overrides))
        GlobalHydra.instance().clear()
        return to_config(cfg)

    return _compose


def run_cli(*args: str, cwd: Path = ROOT, timeout: int = 300):
    """Run `python run.py ARGS` (or a module) as a user would; returns CompletedProcess."""
    import subprocess

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )

"""Wall time of one tiny sweep with one worker and with several, on PostgreSQL and an MLflow server.

    python benchmarks/scale_out.py [--trials 6] [--workers 3] [--repeats 3]

Starts the servers with scripts/local_cluster.sh (stopped at the end), then for each repeat runs
the sweep (a fresh study each time) with 1 worker and with --workers workers at once, and prints
the median wall times and their ratio. Needs the `scale` extra and PostgreSQL's server.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "local_cluster.sh"
TINY = ["audio.duration=0.064", "optim.steps=4", "snapshots=[0]", "runtime.xla=false"]


def sweep_wall(env: dict[str, str], tmp: Path, study: str, trials: int, workers: int) -> float:
    cmd = [
        sys.executable,
        "run.py",
        "-m",
        *TINY,
        "sweep=alpha_lr",
        "cluster=shared",
        f"sweep.study_name={study}",
        f"sweep.n_trials={trials}",
        "sweep.pruner=none",
    ]
    began = time.perf_counter()
    procs = [
        subprocess.Popen(
            [*cmd, f"runs_dir={tmp / study / str(i)}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(workers)
    ]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"a worker failed:\n{err[-2000:]}")
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        state = tmp / "cluster"
        env = {**os.environ, "PYTHON": sys.executable, "TF_CPP_MIN_LOG_LEVEL": "3"}
        subprocess.run([SCRIPT, "start", state], env=env, check=True)
        try:
            for line in (state / "env").read_text().splitlines():
                key, value = line.removeprefix("export ").split("=", 1)
                env[key] = value
            one, many = [], []
            for r in range(args.repeats):
                one.append(sweep_wall(env, tmp, f"one{r}", args.trials, 1))
                many.append(sweep_wall(env, tmp, f"many{r}", args.trials, args.workers))
                print(
                    f"repeat {r}: 1 worker {one[-1]:.1f} s, {args.workers} workers {many[-1]:.1f} s"
                )
        finally:
            subprocess.run([SCRIPT, "stop", state], env=env)
            outside = state / "pgdata.path"  # as root the data lives in a postgres-owned folder
            if outside.exists():
                shutil.rmtree(outside.read_text().strip(), ignore_errors=True)
    a, b = statistics.median(one), statistics.median(many)
    print(
        f"{args.trials} trials, median of {args.repeats}: 1 worker {a:.1f} s, "
        f"{args.workers} workers {b:.1f} s, speed-up {a / b:.2f}x on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()

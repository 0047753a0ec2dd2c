"""Time a whole run against a baseline checkout, alternating, and split it into its phases.

Issue #31: the time a run spends outside its steps (TensorFlow's import, pitch tracking, the
compile, measures, judges, pictures). Each round runs this checkout's `python run.py` and the
baseline's, one after the other, as separate processes, and reads each run's summary.json:
wall seconds (the whole process), the steps' seconds (time/steps, or for a checkout without
phase times the median step time x steps), the rest ("outside the steps") and, where the run
records them, its phases (time/*). Medians over the rounds, after one warm-up round each, and
the ratio this / baseline round by round.
Usage: python benchmarks/startup.py --baseline DIR [--rounds 5] [-- RUN OVERRIDES ...]
  DIR: another checkout with its own .venv (e.g. `git worktree add DIR COMMIT` and the
  README's install there). Default overrides: tracking=none optim.steps=10.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["tracking=none", "optim.steps=10"]


def one_run(checkout: Path, python: str, overrides: list[str], runs_dir: Path) -> dict:
    """One `python run.py` in `checkout`; its wall seconds and summary.json's figures."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [python, "run.py", *overrides, f"runs_dir={runs_dir}", f"hydra.run.dir={tmp}"]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=checkout, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{checkout}: {' '.join(command)} failed:\n{done.stderr[-2000:]}")
        summary = json.loads((Path(tmp) / "summary.json").read_text())
    steps = summary.get("time/steps")
    if steps is None:  # a checkout without phase times: its steps from the per-step median
        steps = summary["time/seconds_per_step"] * (summary["optim/evaluations"] - 1)
    times = {k: v for k, v in summary.items() if k.startswith("time/")}
    return {"wall": wall, "steps": steps, "outside": wall - steps, **times}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", type=Path, required=True, help="a checkout with its .venv")
    p.add_argument("--baseline-python", help="its interpreter (default: DIR/.venv/bin/python)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("overrides", nargs="*", default=DEFAULT)
    args = p.parse_args()
    sides = {
        "this": (ROOT, sys.executable),
        "baseline": (
            args.baseline.resolve(),
            args.baseline_python or str(args.baseline.resolve() / ".venv/bin/python"),
        ),
    }
    figures: dict[str, list[dict]] = {name: [] for name in sides}
    first: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as runs:
        for round_ in range(args.rounds + 1):  # round 0: empty caches, reported apart
            for name, (checkout, python) in sides.items():
                # each side keeps its own runs_dir, so its caches are its own
                result = one_run(checkout, python, args.overrides, Path(runs) / name)
                if round_:
                    figures[name].append(result)
                else:
                    first[name] = result
                print(round_, name, {k: round(v, 2) for k, v in result.items()}, flush=True)
    print(
        "first run, empty runs_dir (its caches):",
        {n: round(r["wall"], 1) for n, r in first.items()},
    )
    report(figures)


def report(figures: dict[str, list[dict]]) -> None:
    keys = sorted({k for runs in figures.values() for r in runs for k in r})
    print("| figure (s, median) | this | baseline | this / baseline (median of rounds) |")
    print("|---|---|---|---|")
    for key in keys:
        this = [r[key] for r in figures["this"] if key in r]
        base = [r[key] for r in figures["baseline"] if key in r]
        ratio = [a / b for a, b in zip(this, base, strict=False) if b] if base else []
        cells = [f"{statistics.median(v):.2f}" if v else "-" for v in (this, base)] + [
            f"{statistics.median(ratio):.2f}" if ratio and len(this) == len(base) else "-"
        ]
        print(f"| {key} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

"""Measure the optimiser options (optim.schedule, optim.keep_best, optim.lr) on several pairs.

Each row is one real run composed from conf/ (Hydra compose API, tracking off). For each it
reports the total loss at x_G(0), its largest value in the first tenth of the steps and over the
whole run (a climb above the start is the overshoot of Adam's first steps), the output's loss,
the seconds taken, and the evaluation metrics.
Usage: python benchmarks/optimisers.py [--duration 1.0] [--steps N] [--network spectral|nsynth]
       [--pairs speech_flute,tones] [--only NAME ...] [--out docs/optimisers.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path

from hydra import compose, initialize_config_dir

from audiostyle.config.from_hydra import register_configs, to_config
from audiostyle.run.context import RunContext
from audiostyle.run.runner import run

CONF = Path(__file__).resolve().parents[1] / "conf"

PAIRS = {  # name: (content, style)
    "speech_flute": ("example:speech", "example:flute"),
    "tones": ("tone:220", "tone:660"),
    "speech_tone": ("example:speech", "tone:440"),
}
WARMUP = ["optim.schedule=warmup_cosine"]
OPTIONS = {
    "constant (previous)": ["optim.schedule=constant"],
    "constant, keep best": ["optim.schedule=constant", "optim.keep_best=true"],
    "warm-up + cosine": WARMUP,
    "warm-up + cosine, keep best": [*WARMUP, "optim.keep_best=true"],
    "warm-up + cosine, lr x3": [*WARMUP, "LR3"],
    "warm-up + cosine, lr / 3": [*WARMUP, "LR/3"],
}
COLUMNS = ["initial", "early max", "max", "output", "output / initial", "seconds"]
EVAL = ["eval/style_distance", "eval/content_distance", "eval/snr_vs_content_db"]


def totals(run_dir: Path) -> list[float]:
    with open(run_dir / "losses.csv") as f:
        return [float(row["total"]) for row in csv.DictReader(f)]


def row(summary: dict, history: list[float]) -> dict[str, float]:
    early = history[: max(2, len(history) // 10)]
    return {
        "initial": history[0],
        "early max": max(early),
        "max": max(history),
        "output": summary["loss/total"],
        "output / initial": summary["loss/total"] / history[0],
        "seconds": summary["time/seconds"],
        **{k: summary[k] for k in EVAL},
    }


def resolve(option: list[str], lr: float) -> list[str]:
    scaled = {"LR3": f"optim.lr={lr * 3:g}", "LR/3": f"optim.lr={lr / 3:g}"}
    return [scaled.get(o, o) for o in option]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--network", choices=["spectral", "nsynth"], default="spectral")
    p.add_argument("--duration", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=None, help="default: the network's")
    p.add_argument("--pairs", default="speech_flute,tones,speech_tone")
    p.add_argument("--only", nargs="*", help="names of OPTIONS to run")
    p.add_argument("--out", type=Path, default=Path("runs/optimisers.json"))
    args = p.parse_args()
    register_configs()
    base = [f"experiment={args.network}", "tracking=none", f"audio.duration={args.duration}"]
    base += [f"optim.steps={args.steps}"] if args.steps else []
    results: dict[str, dict] = {}
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        lr = to_config(compose("config", overrides=base)).optim.lr
        for pair in args.pairs.split(","):
            content, style = PAIRS[pair]
            for name, option in OPTIONS.items():
                if args.only and name not in args.only:
                    continue
                overrides = [*base, f"audio.content={content}", f"audio.style={style}"]
                cfg = to_config(compose("config", overrides=overrides + resolve(option, lr)))
                with tempfile.TemporaryDirectory() as tmp:
                    summary = run(cfg, RunContext(run_dir=Path(tmp)))
                    results[f"{pair} | {name}"] = row(summary, totals(Path(tmp)))
                print(pair, name, {k: round(v, 4) for k, v in results[f"{pair} | {name}"].items()})
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps({"args": vars(args) | {"out": str(args.out)},
                                                "results": results}, indent=2))  # fmt: skip
    print("| pair | option | " + " | ".join(COLUMNS + EVAL) + " |")
    print("|---" * (len(COLUMNS + EVAL) + 2) + "|")
    for name, r in results.items():
        print(f"| {name} | " + " | ".join(f"{r[k]:.4g}" for k in COLUMNS + EVAL) + " |")


if __name__ == "__main__":
    main()

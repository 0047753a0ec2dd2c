"""Seconds per Adam step, with and without XLA, for each feature network (one process).

Median of several steps after warm-up (compilation excluded, reported separately), at the given
clip length, on whatever device TensorFlow picks. Prints a table and writes JSON.
Usage: python benchmarks/step_time.py [--samples 16000] [--steps 5] [--out runs/bench/step_time.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir

from audiostyle.config import register_configs, to_config

CONF = Path(__file__).resolve().parents[1] / "conf"
NETWORKS = {
    "nsynth (A_1..A_30 Gram + final_relu)": ["experiment=nsynth"],
    "spectral (conv Gram + conv)": ["experiment=spectral"],
}


def measure(overrides: list[str], samples: int, steps: int) -> dict[str, float]:
    import tensorflow as tf

    from audiostyle.encoder import build_network
    from audiostyle.transfer import AdamStep, build_objective

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = to_config(compose("config", overrides=["tracking=none", *overrides]))
    rng = np.random.default_rng(0)
    content = (0.3 * rng.normal(size=samples)).astype(np.float32)
    style = (0.3 * rng.normal(size=samples)).astype(np.float32)
    objective = build_objective(cfg, build_network(cfg))
    objective.set_targets(tf.constant(content[None]), tf.constant(style[None]))
    adam = AdamStep(objective, cfg, content)
    tick = time.perf_counter()
    float(adam.step()[0])  # trace and compile
    first = time.perf_counter() - tick
    times = []
    for _ in range(steps + 1):
        tick = time.perf_counter()
        float(adam.step()[0])
        times.append(time.perf_counter() - tick)
    return {"first_step_s": first, "median_step_s": statistics.median(times[1:])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=16000)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--out", type=Path, default=Path("runs/bench/step_time.json"))
    args = p.parse_args()
    register_configs()
    rows = {}
    for name, overrides in NETWORKS.items():
        for xla in (False, True):
            rows[f"{name}, xla={xla}"] = measure(
                [*overrides, f"runtime.xla={xla}"], args.samples, args.steps
            )
            print(name, xla, rows[f"{name}, xla={xla}"], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"samples": args.samples, "rows": rows}, indent=2))
    print(f"| setting (T = {args.samples}) | first step (s) | median step (s) | XLA speed-up |")
    print("|---|---|---|---|")
    for name in NETWORKS:
        base = rows[f"{name}, xla=False"]["median_step_s"]
        for xla in (False, True):
            r = rows[f"{name}, xla={xla}"]
            print(
                f"| {name}, xla={xla} | {r['first_step_s']:.2f} | {r['median_step_s']:.3f} | {base / r['median_step_s']:.2f}x |"
            )


if __name__ == "__main__":
    main()

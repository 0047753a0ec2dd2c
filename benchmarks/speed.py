"""Speed of one Adam step of the paper's Gram run over all 60 ReLU layers, against baselines.

For each clip length and variant: seconds per step (median after warm-up; the first call,
tracing and compilation included, separately), peak memory, FLOPs of one step (counted
analytically from the layer shapes: forward, input gradient, Gram and its gradient, the
minimum work of the step), achieved FLOP/s, and the ratio to this machine's float32 matmul peak
(measured here, same run) and to the plain baselines (same run):
- `eager`: the step run eagerly, op by op (the straightforward TensorFlow version);
- `function`: the same in a plain tf.function (runtime.xla=false);
- `xla`: the project's step, one XLA-compiled function (runtime.xla=true);
- `xla, chunks of 1 s`: the same with runtime.chunk_seconds=1 (exact, constant memory).
Every variant runs in its own process, so each peak memory is its own. Peak memory is the
process's peak RSS on CPU (TensorFlow and Python included; `idle` is that of a process that only
imported TensorFlow) and tf.config.experimental.get_memory_info's peak on a GPU.
Usage: python benchmarks/speed.py [--samples 16000 48000] [--steps 3] [--variants xla ...]
       [--out runs/bench/speed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

VARIANTS = {
    "eager": {"eager": True, "overrides": ["runtime.xla=false"]},
    "function": {"overrides": ["runtime.xla=false"]},
    "xla": {"overrides": ["runtime.xla=true"]},
    "xla, chunks of 1 s": {"overrides": ["runtime.xla=true", "runtime.chunk_seconds=1"]},
}
CHANNELS = 128


def step_flops(samples: int, blocks: int = 30, style_layers: int = 60) -> float:
    """FLOPs of one step: every conv forward and its input gradient, each Gram F^T F and its
    gradient F (dG + dG^T) (one matmul each). Biases, ReLUs, mu-law, Adam are left out (< 1%)."""
    conv = 2 * CHANNELS * CHANNELS * (3 + 1)  # dilated k=3 and 1x1 residual, per sample
    gram = 2 * CHANNELS * CHANNELS  # per sample and layer
    start = 2 * 3 * CHANNELS
    forward = samples * (start + blocks * conv + style_layers * gram)
    return 2.0 * forward


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def matmul_peak(n: int = 2048, repeats: int = 7) -> dict:
    """This machine's float32 matmul rate: median over repeats of an n x n x n tf.matmul."""
    import tensorflow as tf

    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])
    f = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
    times, cpu = timed(lambda: float(f(a, b)), repeats)
    flops = 2.0 * n**3
    return {
        "n": n,
        "median_s": statistics.median(times),
        "flops": flops / statistics.median(times),
        "flops_per_cpu_s": flops / statistics.median(cpu),
    }


def timed(call, repeats: int) -> tuple[list[float], list[float]]:
    """Wall and process CPU seconds of each of `repeats` calls, after one untimed call."""
    call()
    wall, cpu = [], []
    for _ in range(repeats):
        tick, cpu_tick = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - tick)
        cpu.append(time.process_time() - cpu_tick)
    return wall, cpu


def config(overrides: list[str], samples: int, style_layers: str):
    from audiostyle.config import register_configs
    from audiostyle.reproduce import compose_experiment

    register_configs()
    layers = f"style_layers={style_layers}"
    return compose_experiment(
        "nsynth", ["tracking=none", layers, f"audio.duration={samples / 16000}", *overrides]
    )


def measure(variant: str, samples: int, steps: int, style_layers: str = "relu_both") -> dict:
    """One variant in this process: step times and peak memory."""
    import tensorflow as tf

    from audiostyle.encoder import build_network
    from audiostyle.transfer import AdamStep, build_objective, pick_device

    spec = VARIANTS[variant]
    cfg = config(spec["overrides"], samples, style_layers)
    device = pick_device(cfg.device)
    rng = np.random.default_rng(0)
    content, style = (0.3 * rng.normal(size=(2, samples))).astype(np.float32)
    with tf.device(device):
        objective = build_objective(cfg, build_network(cfg))
        targets = tf.constant(content[None]), tf.constant(style[None])
        if "runtime.chunk_seconds=1" in spec["overrides"]:
            from audiostyle.transfer import build_chunked

            chunked = build_chunked(cfg, objective, samples)
            (chunked or objective).set_targets(*targets)
            adam = AdamStep(objective, cfg, content, chunked)
        else:  # also runs on the code before chunking existed, for before/after figures
            objective.set_targets(*targets)
            adam = AdamStep(objective, cfg, content)
        step = adam._step if spec.get("eager") else adam.step
        tick, cpu_tick = time.perf_counter(), time.process_time()
        float(step()[0])
        first, first_cpu = time.perf_counter() - tick, time.process_time() - cpu_tick
        times, cpu = timed(lambda: float(step()[0]), steps) if steps else ([first], [first_cpu])
    row = {
        "variant": variant,
        "samples": samples,
        "device": device,
        "first_step_s": first,
        "step_s": statistics.median(times),
        "step_times_s": times,
        "cpu_s": statistics.median(cpu),
        "peak_bytes": peak_rss_bytes(),
        "memory": "process peak RSS",
        "style_layers": style_layers,
    }
    if device.startswith("/GPU"):
        row["peak_bytes"] = tf.config.experimental.get_memory_info("GPU:0")["peak"]
        row["memory"] = "GPU peak (get_memory_info)"
    return row


def idle() -> dict:
    import tensorflow as tf

    float(tf.reduce_sum(tf.ones([8])))
    return {"peak_bytes": peak_rss_bytes()}


def in_subprocess(task: list[str]) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, __file__, "--worker", json.dumps(task)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def worker(task: list) -> None:
    kind, *args = task
    if kind == "matmul":
        out = matmul_peak()
    elif kind == "idle":
        out = idle()
    else:
        out = measure(*args)
    print(json.dumps(out))


def table(rows: list[dict], peak: dict, idle_bytes: int) -> str:
    """Ratios to the matmul peak are given in wall time and in process CPU time (the latter
    still means something on a machine shared with other work)."""
    lines = [
        "| T | variant | first call (s) | s / step | CPU s / step | GFLOP / step | GFLOP/s "
        "| of matmul peak (wall, CPU) | vs eager | vs function | peak memory (GB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = {(r["samples"], r["variant"]): r.get("step_s") for r in rows}
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['samples']} | {r['variant']} | error: {r['error']} |")
            continue
        flops = step_flops(r["samples"])
        rate = flops / r["step_s"]
        cpu_share = flops / r["cpu_s"] / peak["flops_per_cpu_s"]
        ratios = []
        for b in ("eager", "function"):
            ref = base.get((r["samples"], b))
            ratios.append(f"{ref / r['step_s']:.2f}x" if ref else "-")
        lines.append(
            f"| {r['samples']} | {r['variant']} | {r['first_step_s']:.1f} | {r['step_s']:.2f} "
            f"| {r['cpu_s']:.2f} | {flops / 1e9:.0f} | {rate / 1e9:.1f} "
            f"| {rate / peak['flops']:.0%}, {cpu_share:.0%} | {ratios[0]} "
            f"| {ratios[1]} | {r['peak_bytes'] / 1e9:.2f} |"
        )
    lines.append(
        f"\nmatmul peak {peak['flops'] / 1e9:.1f} GFLOP/s wall, "
        f"{peak['flops_per_cpu_s'] / 1e9:.1f} GFLOP per CPU second (float32, 2048^3); a process that only imported "
        f"TensorFlow peaks at {idle_bytes / 1e9:.2f} GB RSS."
    )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, nargs="+", default=[16000])
    p.add_argument(
        "--steps", type=int, default=3, help="timed steps after the first call (0: time that)"
    )
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument(
        "--style-layers",
        default="relu_both",
        help="conf/style_layers option; FLOPs columns assume relu_both (first5: a cheap memory check)",
    )
    p.add_argument("--out", type=Path, default=Path("runs/bench/speed.json"))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    peak = in_subprocess(["matmul"])
    idle_bytes = in_subprocess(["idle"])["peak_bytes"]
    rows = []
    for samples in args.samples:
        for variant in args.variants:
            row = in_subprocess(["measure", variant, samples, args.steps, args.style_layers])
            row.setdefault("variant", variant)
            row.setdefault("samples", samples)
            rows.append(row)
            print(json.dumps(row), flush=True)
    report = {
        "matmul_peak": peak,
        "idle_peak_bytes": idle_bytes,
        "flops_counted": "analytically from the layer shapes (step_flops)",
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(table(rows, peak, idle_bytes))
    print(f"load average {os.getloadavg()} on {os.cpu_count()} cores; JSON in {args.out}")


if __name__ == "__main__":
    main()

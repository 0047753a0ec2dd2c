"""Speed of one Adam step, against baselines measured in the same run.

`--network nsynth` (default): the paper's Gram run over all 60 ReLU layers. For each clip
length and variant: seconds per step (median after warm-up; the first call, tracing and
compilation included, separately), peak memory, FLOPs of one step (counted analytically from
the layer shapes: forward, input gradient, Gram and its gradient, the minimum work of the step),
achieved FLOP/s, and the ratio to this machine's float32 matmul peak (measured here, same run)
and to the plain baselines (same run):
- `plain function`: the step written the straightforward way (`plain_step`: the encoder as a
  loop of tf.nn.convolution calls, Gram matrices by einsum and autodiff, all in one
  tf.function, no XLA): the issue's "plain tf.function" baseline, and an independent check of
  the product's loss (every variant's first loss must agree);
- `eager`: the project's step run eagerly, op by op;
- `function`: the same in a plain tf.function (runtime.xla=false);
- `xla`: the project's step, one XLA-compiled function (runtime.xla=true);
- `xla, chunks of 1 s`: the same with runtime.chunk_seconds=1 (exact, constant memory);
- `xla, bfloat16`: the same with runtime.precision=bfloat16 (the network's convs in bfloat16:
  for GPUs; its loss differs from float32's by rounding, so it is reported, not required equal).
`--batch 1 4`: each variant also with B trials' x_G in one step (a sweep's short trials batched,
the issue's idea for GPUs): the same clips, x_G(0) tiled B times; the table's "s / trial" is a
step's time over B. The objective's means then run over the batch too, which scales each
trial's gradient by 1/B (Adam does not see it): the work is a batched product's, the loss is
reported for B = 1 only.
`--network musicnn`: experiment=musicnn's step (MSD_musicnn's mid end, Gram; `function`
without XLA, `xla, vgg_low` on MTT_vgg's pools) against `xla, spectral network`, the default
run's step on the same clips. Its clips are padded to whole 3 s patches (networks/musicnn_features.py).
`--network spectral`: the default run's network and step (experiment=spectral: loss=mmd with the
noise term), against
- `xla, previous default`: the default step before it (loss=gram, no noise term): the speed
  the issue holds the new default to. Its loss differs, so it is checked against the next only;
- `before: conv op, C x C Grams`: that Gram step as it was before the product's formulation,
  XLA-compiled: tf.nn.convolution and the 4096 x 4096 Gram matrices, where the product takes one
  matmul of unfolded frames and the Gram distance through frames
  (objective.frame_gram_distance). FLOP columns are left empty there.
- with --variants, each over the previous default: `xla, no harmonic term` (without
  loss.harmonic_weight's term, issue #18), `xla, loss=histogram`, `xla, loss=mmd` (bandwidth 1,
  no noise term) and `xla, noise term` (the Gram with the noise term at 1); their losses differ.
The clips (`test_clips`) are a pitched melody and note, so the harmonic term reads them as a
voice and an instrument; every other part of a step costs the same on any clip of that length.
Every variant runs in its own process, so each peak memory is its own. Peak memory is the
process's peak RSS on CPU (TensorFlow and Python included; `idle` is that of a process that only
imported TensorFlow) and tf.config.experimental.get_memory_info's peak on a GPU.
Usage: python benchmarks/speed.py [--network nsynth|spectral|musicnn] [--samples 16000 48000]
       [--steps 3] [--variants xla ...] [--out runs/bench/speed.json]
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

PREVIOUS_DEFAULT = ["loss=gram", "loss.noise_weight=0"]  # the spectral step before loss=mmd
VARIANTS = {
    "plain function": {"plain": True, "baseline": True, "overrides": ["runtime.xla=false"]},
    "eager": {"eager": True, "baseline": True, "overrides": ["runtime.xla=false"]},
    "function": {"baseline": True, "overrides": ["runtime.xla=false"]},
    "xla": {"overrides": ["runtime.xla=true"]},
    "xla, chunks of 1 s": {
        "chunked": True,
        "overrides": ["runtime.xla=true", "runtime.chunk_seconds=1"],
    },
    "xla, bfloat16": {
        "low_precision": True,
        "overrides": ["runtime.xla=true", "runtime.precision=bfloat16"],
    },
    "before: conv op, C x C Grams": {
        "before": True,
        "baseline": True,
        "loss_of": "previous default",
        "overrides": ["runtime.xla=true", *PREVIOUS_DEFAULT],
    },
    "xla, previous default": {  # the spectral default before the MMD row (docs/defaults.md)
        "baseline": True,
        "loss_of": "previous default",
        "overrides": ["runtime.xla=true", *PREVIOUS_DEFAULT],
    },
    # each spelled in full over the previous default, so a variant stays the step it timed
    "xla, no harmonic term": {  # the spectral default before issue #18's term
        "own_loss": True,
        "overrides": ["runtime.xla=true", *PREVIOUS_DEFAULT, "loss.harmonic_weight=0"],
    },
    "xla, loss=histogram": {
        "own_loss": True,
        "overrides": ["runtime.xla=true", "loss=histogram", "loss.noise_weight=0"],
    },
    "xla, loss=mmd": {
        "own_loss": True,
        "overrides": [
            "runtime.xla=true",
            "loss=mmd",
            "loss.mmd_bandwidth=1",
            "loss.noise_weight=0",
        ],
    },
    "xla, noise term": {
        "own_loss": True,
        "overrides": ["runtime.xla=true", "loss=gram", "loss.noise_weight=1"],
    },
    # --network musicnn: the spectral network's default step on the same clips, its baseline
    "xla, spectral network": {
        "network": "spectral",
        "baseline": True,
        "loss_of": "spectral network",
        "overrides": ["runtime.xla=true"],
    },
    "xla, vgg_low": {"own_loss": True, "overrides": ["runtime.xla=true", "style_layers=vgg_low"]},
}
NETWORK_VARIANTS = {
    "nsynth": ["plain function", "eager", "function", "xla", "xla, chunks of 1 s", "xla, bfloat16"],
    "spectral": [
        "before: conv op, C x C Grams",
        "xla, previous default",
        "function",
        "xla",
        "xla, bfloat16",
    ],
    "musicnn": ["xla, spectral network", "function", "xla", "xla, vgg_low"],
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


def config(overrides: list[str], samples: int, network: str, style_layers: str):
    from audiostyle.commands.reproduce import compose_experiment
    from audiostyle.config.from_hydra import register_configs

    register_configs()
    layers = [f"style_layers={style_layers}"] if network == "nsynth" else []
    return compose_experiment(
        network, ["tracking=none", *layers, f"audio.duration={samples / 16000}", *overrides]
    )


def test_clips(samples: int) -> tuple[np.ndarray, np.ndarray]:
    """x_C a melody (harmonics 1..8 at 1/k, 180-260 Hz) with noise, x_S a 1/k^2 note at 440 Hz:
    pitched, so the harmonic term (loss.harmonic_weight) reads frames as on a voice; the work
    of every other part of a step depends on the clip's length alone."""
    t = np.arange(samples) / 16000
    rng = np.random.default_rng(0)
    f0 = 220.0 + 40.0 * np.sin(2 * np.pi * 2.0 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    content = sum(np.sin(k * phase) / k for k in range(1, 9)) + 0.05 * rng.normal(size=samples)
    style = sum(np.sin(2 * np.pi * 440.0 * k * t) / k**2 for k in range(1, 9))
    return tuple((0.3 * x / np.max(np.abs(x))).astype(np.float32) for x in (content, style))


def stock_conv_network(cfg):
    """The spectral network with its conv as TensorFlow's conv op, as it was."""
    import tensorflow as tf

    from audiostyle.networks.spectral import SpectralNetwork

    class StockConv(SpectralNetwork):
        def _conv(self, spec):
            return tf.nn.convolution(spec, self.kernel, padding="SAME")

    return StockConv(cfg.encoder.spectral, cfg.encoder.seed)


def plain_step(cfg, content: np.ndarray, style: np.ndarray, x0: np.ndarray):
    """The NSynth Gram step as a straightforward TensorFlow program: the same loss as the
    product's objective (its `distance` and `energy_contour`), none of its optimisations."""
    import tensorflow as tf

    from audiostyle.config.schema import style_weights
    from audiostyle.losses.objective import distance, energy_contour
    from audiostyle.networks.encoder import dilation
    from audiostyle.networks.layers import canonical
    from audiostyle.networks.mulaw import encoder_input
    from audiostyle.networks.weights import random_weights

    w = random_weights(cfg.encoder.seed)
    conv = tf.nn.convolution

    def taps(x: tf.Tensor) -> dict:
        en = conv(encoder_input(x, cfg.audio.mu_law)[..., None], w.start_w, padding="SAME")
        en, out = en + w.start_b, {}
        for i in range(1, len(w.dilated_w) + 1):
            a = tf.nn.relu(en)
            dilated = conv(a, w.dilated_w[i - 1], padding="SAME", dilations=dilation(i))
            b = tf.nn.relu(dilated + w.dilated_b[i - 1])
            en = en + conv(b, w.res_w[i - 1], padding="SAME") + w.res_b[i - 1]
            out[f"A_{i}"], out[f"B_{i}"] = a, b
        return out

    def gram(f: tf.Tensor) -> tf.Tensor:
        return tf.einsum("btc,btd->bcd", f, f) / f.shape[1]

    layers = [canonical(n) for n in cfg.style_layers.layers]
    weights = style_weights(cfg.style_layers)
    content_layer = canonical(cfg.content_layer.layer)
    c, s = taps(tf.constant(content[None])), taps(tf.constant(style[None]))
    content_target, style_targets = c[content_layer], [gram(s[n]) for n in layers]
    energy_target = energy_contour(tf.constant(content[None]))
    normalize, o = cfg.loss.normalize, cfg.optim
    x = tf.Variable(np.atleast_2d(x0))
    m, v, t = tf.Variable(tf.zeros_like(x)), tf.Variable(tf.zeros_like(x)), tf.Variable(0.0)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            f = taps(x)
            style_loss = sum(
                wt * distance(gram(f[n]), target, normalize)
                for wt, n, target in zip(weights, layers, style_targets)
            )
            loss = style_loss + cfg.alpha * distance(f[content_layer], content_target, normalize)
            if cfg.loss.energy_weight > 0:
                energy = tf.reduce_mean(tf.square(energy_contour(x) - energy_target))
                loss += cfg.loss.energy_weight * energy
        grad = tape.gradient(loss, x)
        t.assign_add(1.0)
        m.assign(o.beta1 * m + (1 - o.beta1) * grad)
        v.assign(o.beta2 * v + (1 - o.beta2) * tf.square(grad))
        m_hat, v_hat = m / (1 - o.beta1**t), v / (1 - o.beta2**t)
        x.assign_sub(o.lr * m_hat / (tf.sqrt(v_hat) + o.epsilon))
        return (loss,)

    return step


def measure(
    variant: str,
    samples: int,
    steps: int,
    network: str = "nsynth",
    style_layers: str = "relu_both",
    batch: int = 1,
) -> dict:
    """One variant in this process: step times and peak memory."""
    import tensorflow as tf

    from audiostyle.networks.encoder import build_network
    from audiostyle.optimisation.start import initial_waveform
    from audiostyle.optimisation.transfer import (
        AdamStep,
        build_chunked,
        build_objective,
        pick_device,
    )

    spec = VARIANTS[variant]
    network = spec.get("network", network)
    cfg = config(spec["overrides"], samples, network, style_layers)
    device = pick_device(cfg.device)
    content, style = test_clips(samples)
    x0 = np.tile(initial_waveform(cfg, content, style), (batch, 1))  # [batch, samples]
    if batch > 1 and spec.get("chunked"):
        raise SystemExit("--batch: chunked steps take one x_G")
    with tf.device(device):
        step = plain_step(cfg, content, style, x0) if spec.get("plain") else None
        if step is None:
            net = stock_conv_network(cfg) if spec.get("before") else build_network(cfg)
            objective = build_objective(cfg, net)
            chunked = build_chunked(cfg, objective, samples) if spec.get("chunked") else None
            (chunked or objective).set_targets(tf.constant(content[None]), tf.constant(style[None]))
            if spec.get("before"):
                objective.as_gram_matrices()
            adam = AdamStep(objective, cfg, x0, chunked)
            step = adam._step if spec.get("eager") else adam.step
        tick, cpu_tick = time.perf_counter(), time.process_time()
        first_loss = float(step()[0])  # the loss of x_G(0): every variant must agree
        first, first_cpu = time.perf_counter() - tick, time.process_time() - cpu_tick
        times, cpu = timed(lambda: float(step()[0]), steps) if steps else ([first], [first_cpu])
    row = {
        "variant": variant,
        "samples": samples,
        "batch": batch,
        "device": device,
        "first_step_s": first,
        "first_loss": first_loss,
        "step_s": statistics.median(times),
        "step_times_s": times,
        "cpu_s": statistics.median(cpu),
        "peak_bytes": peak_rss_bytes(),
        "memory": "process peak RSS",
        "network": network,
        "style_layers": style_layers if network == "nsynth" else ",".join(cfg.style_layers.layers),
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


def check_losses(rows: list[dict], lengths: list[int]) -> None:
    """Variants of one loss compute it alike, or the timings mean nothing: the float32 default
    step's variants, and each `loss_of` group; a bfloat16 variant's difference from the default
    is printed (rounding, docs/speed.md)."""
    for samples in lengths:
        done = [
            r
            for r in rows
            if r["samples"] == samples and "first_loss" in r and r.get("batch", 1) == 1
        ]
        groups: dict[str, list[float]] = {}
        for r in done:
            spec = VARIANTS[r["variant"]]
            if not (spec.get("low_precision") or spec.get("own_loss")):
                groups.setdefault(spec.get("loss_of", "default"), []).append(r["first_loss"])
        for group, exact in groups.items():
            if max(exact) - min(exact) > 1e-4 * max(abs(x) for x in exact):
                print(f"WARNING: the {group} variants' losses differ at T = {samples}: {exact}")
        exact = groups.get("default")
        for r in done:
            if exact and VARIANTS[r["variant"]].get("low_precision"):
                off = abs(r["first_loss"] - exact[0]) / abs(exact[0])
                print(f"T = {samples}, {r['variant']}: first loss {off:.2%} from float32's")


def table(rows: list[dict], peak: dict, idle_bytes: int, baselines: list[str]) -> str:
    """Ratios to the matmul peak are given in wall time and in process CPU time (the latter
    still means something on a machine shared with other work)."""
    batched = any(r.get("batch", 1) > 1 for r in rows)
    head = [
        "T", "variant", "first call (s)", "s / step", "CPU s / step", "GFLOP / step", "GFLOP/s",
        "of matmul peak (wall, CPU)", *(f"vs {b}" for b in baselines), "peak memory (GB)",
    ]  # fmt: skip
    if batched:  # per trial, against the same variant's one-trial step
        head[4:4] = ["trials", "s / trial", "vs 1 trial"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base = {(r["samples"], r["variant"], r.get("batch", 1)): r.get("step_s") for r in rows}
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['samples']} | {r['variant']} | error: {r['error']} |")
            continue
        trials = r.get("batch", 1)
        ratios = []
        for b in baselines:  # one trial's step against the baseline's, per trial
            ref = base.get((r["samples"], b, 1))
            ratios.append(f"{ref * trials / r['step_s']:.2f}x" if ref else "-")
        trial_columns = ""
        if batched:
            one = base.get((r["samples"], r["variant"], 1))
            gain = f"{one * trials / r['step_s']:.2f}x" if one else "-"
            trial_columns = f"| {trials} | {r['step_s'] / trials:.3f} | {gain} "
        flop_columns = "| - | - | - "
        if r.get("network", "nsynth") == "nsynth":
            flops = trials * step_flops(r["samples"])
            rate = flops / r["step_s"]
            cpu_share = flops / r["cpu_s"] / peak["flops_per_cpu_s"]
            flop_columns = f"| {flops / 1e9:.0f} | {rate / 1e9:.1f} | {rate / peak['flops']:.0%}, {cpu_share:.0%} "
        lines.append(
            f"| {r['samples']} | {r['variant']} | {r['first_step_s']:.1f} | {r['step_s']:.2f} "
            f"{trial_columns}| {r['cpu_s']:.2f} {flop_columns}| {''.join(x + ' | ' for x in ratios)}"
            f"{r['peak_bytes'] / 1e9:.2f} |"
        )
    lines.append(
        f"\nmatmul peak {peak['flops'] / 1e9:.1f} GFLOP/s wall, "
        f"{peak['flops_per_cpu_s'] / 1e9:.1f} GFLOP per CPU second (float32, 2048^3); a process that only imported "
        f"TensorFlow peaks at {idle_bytes / 1e9:.2f} GB RSS."
    )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--network", choices=list(NETWORK_VARIANTS), default="nsynth")
    p.add_argument("--samples", type=int, nargs="+", default=[16000])
    p.add_argument(
        "--steps", type=int, default=3, help="timed steps after the first call (0: time that)"
    )
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), help="default: the network's")
    p.add_argument(
        "--style-layers",
        default="relu_both",
        help="conf/style_layers option; FLOPs columns assume relu_both (first5: a cheap memory check)",
    )
    p.add_argument(
        "--batch",
        type=int,
        nargs="+",
        default=[1],
        help="trials' x_G per step (1: a run's step; more: a batched sweep's)",
    )
    p.add_argument("--out", type=Path, default=Path("runs/bench/speed.json"))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    variants = args.variants or NETWORK_VARIANTS[args.network]
    if min(args.batch) < 1:
        p.error(f"--batch must be at least 1, got {args.batch}")
    peak = in_subprocess(["matmul"])
    idle_bytes = in_subprocess(["idle"])["peak_bytes"]
    rows = []
    for samples in args.samples:
        for variant in variants:
            for batch in args.batch:
                task = ["measure", variant, samples, args.steps, args.network]
                row = in_subprocess([*task, args.style_layers, batch])
                row.setdefault("variant", variant)
                row.setdefault("samples", samples)
                row.setdefault("batch", batch)
                rows.append(row)
                print(json.dumps(row), flush=True)
    report = {
        "matmul_peak": peak,
        "idle_peak_bytes": idle_bytes,
        "network": args.network,
        "flops_counted": "analytically from the layer shapes (step_flops; NSynth only)",
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    check_losses(rows, args.samples)
    baselines = [v for v in variants if VARIANTS[v].get("baseline")]  # the "vs" columns
    print(table(rows, peak, idle_bytes, baselines))
    print(f"load average {os.getloadavg()} on {os.cpu_count()} cores; JSON in {args.out}")


if __name__ == "__main__":
    main()

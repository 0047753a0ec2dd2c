"""Measure candidate defaults (lr, domain, alpha, normalisation) on the bundled clips.

Each setting is one real run composed from conf/ (Hydra compose API, tracking off) on top of its
network's experiment (`experiment=nsynth` or `experiment=spectral`); the table reports the loss
terms and the evaluation metrics of src/audiostyle/science/metrics.py.
Usage: python benchmarks/choose_defaults.py --network nsynth|spectral [--duration 1.0]
       [--steps 100] [--out docs/defaults.json] [--only NAME ...]

`--pairs DIR` (issue #18): every method of PAIR_METHODS on every content/style pair that
benchmarks/pairs.py made in DIR, 3 s each, as `python run.py tracking=none audio.content=...
audio.style=... audio.duration=3` plus the method's overrides would run it. Beside each pair's
method rows, rows for x_C and the plain mix read from the run's own reference metrics
(eval/ref_content/*, eval/ref_mix/*), with transfer_score and beats_mix computed for them by
science/timbre.py's functions. Writes DIR/results.json (every run's summary) and
DIR/results.md (the table and the command behind each row), and keeps each run's folder
(generated.wav, report.html) in DIR/runs/PAIR/METHOD.
Usage: python benchmarks/pairs.py DIR
       python benchmarks/choose_defaults.py --pairs DIR [--pair NAME ...] [--only METHOD ...]
       [--duration 3] [--steps N (default: conf's)] [--out DIR/results.json]
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

from audiostyle.config.from_hydra import register_configs, to_config
from audiostyle.run.context import RunContext
from audiostyle.run.runner import run
from audiostyle.science import timbre

CONF = Path(__file__).resolve().parents[1] / "conf"

NSYNTH_SETTINGS = {
    "alpha 100, lr 2e-3": ["optim.lr=0.002", "alpha=100"],
    "alpha 10, lr 2e-3": ["optim.lr=0.002", "alpha=10"],
    "alpha 1, lr 2e-3": ["optim.lr=0.002", "alpha=1"],
    "alpha 0.1, lr 2e-3": ["optim.lr=0.002", "alpha=0.1"],
    "alpha 1, lr 5e-4": ["optim.lr=0.0005", "alpha=1"],
    "alpha 1, lr 1e-2": ["optim.lr=0.01", "alpha=1"],
    "alpha 1, mu_law domain, lr 5e-3": ["optim.domain=mu_law", "optim.lr=0.005", "alpha=1"],
    "paper: optim=paper, normalize none, alpha 100": [
        "optim=paper",
        "loss.normalize=none",
        "alpha=100",
    ],
    "normalize none, alpha 100, lr 2e-3": ["loss.normalize=none", "alpha=100", "optim.lr=0.002"],
}

SPECTRAL_SETTINGS = {
    "alpha 0.3, lr 1e-2": ["alpha=0.3", "optim.lr=0.01"],
    "alpha 0.1, lr 1e-2": ["alpha=0.1", "optim.lr=0.01"],
    "alpha 0.03, lr 1e-2": ["alpha=0.03", "optim.lr=0.01"],
    "alpha 0.1, lr 3e-3": ["alpha=0.1", "optim.lr=0.003"],
}

SETTINGS = {"nsynth": NSYNTH_SETTINGS, "spectral": SPECTRAL_SETTINGS}

COLUMNS = [
    "loss/style_initial",
    "loss/style",
    "loss/content",
    "eval/style_distance",
    "eval/content_distance",
    "eval/snr_vs_content_db",
    "eval/dynamic_range_db",
    "eval/ref_mix/style_distance",
    "eval/ref_mix/content_distance",
    "eval/ref_content/style_distance",
]

# --pairs: the default (`python run.py`'s settings) and the harmonic route
PAIR_METHODS = {
    "default": [],
    "harmonic 0.01": ["loss.harmonic_weight=0.01"],
}
REFERENCES = {"x_C": "ref_content", "mix": "ref_mix"}  # rows read from a run's eval/ref_*
PAIR_COLUMNS = {  # table heading: the x_G metric (a reference row reads its eval/ref_* twin)
    "at x_C pitch": "eval/pitch/at_content",
    "at x_S pitch": "eval/pitch/at_style",
    "harm. dist dB": "eval/timbre/harmonic_distance",
    "x_C harm. dist": "eval/ref_content/harmonic_distance",
    "mix harm. dist": "eval/ref_mix/harmonic_distance",
    "transfer_score": "eval/transfer_score",
    "beats_mix": "eval/beats_mix",
    "style dist": "eval/style_distance",
    "content dist": "eval/content_distance",
    "loss initial": "loss/total_initial",
    "loss final": "loss/total",
    "run s": "time/seconds",
}


def measure_settings(args: argparse.Namespace) -> None:
    """The original benchmark: SETTINGS[network] on the bundled clips."""
    duration = 1.0 if args.duration is None else args.duration
    steps = 100 if args.steps is None else args.steps
    out = args.out or Path("docs/defaults.json")
    results = {}
    base = [
        f"experiment={args.network}",
        "tracking=none",
        f"audio.duration={duration}",
        f"optim.steps={steps}",
        "snapshots=[]",
    ]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        for name, overrides in SETTINGS[args.network].items():
            if args.only and name not in args.only:
                continue
            cfg = to_config(compose("config", overrides=base + overrides))
            with tempfile.TemporaryDirectory() as tmp:
                summary = run(cfg, RunContext(run_dir=Path(tmp)))
            results[name] = {"overrides": overrides, **summary}
            print(name, {k: round(summary[k], 4) for k in COLUMNS}, flush=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(
                json.dumps(
                    {
                        "network": args.network,
                        "duration": duration,
                        "steps": steps,
                        "results": results,
                    },
                    indent=2,
                )
            )
    print("| setting | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for name, r in results.items():
        print(f"| {name} | " + " | ".join(f"{r[k]:.4g}" for k in COLUMNS) + " |")


def pair_overrides(content: str, style: str, duration: float, steps: int | None) -> list[str]:
    """`python run.py`'s settings on one pair, tracking off, no snapshots."""
    base = ["tracking=none", f"audio.content={content}", f"audio.style={style}"]
    base += [f"audio.duration={duration:g}", "snapshots=[]"]
    return base + ([f"optim.steps={steps}"] if steps is not None else [])


def reference_view(summary: dict, ref: str) -> dict:
    """A reference point's metrics (x_C or the mix, from eval/`ref`/*) under x_G's names, with
    transfer_score and beats_mix computed for it by timbre.py as they are for x_G."""
    view = {k: v for k, v in summary.items() if k.startswith("eval/ref_")}
    for name in ("pitch/at_content", "pitch/at_style", "style_distance", "content_distance"):
        view[f"eval/{name}"] = summary[f"eval/{ref}/{name}"]
    view["eval/timbre/harmonic_distance"] = summary.get(f"eval/{ref}/harmonic_distance")
    view["eval/transfer_score"] = timbre.transfer_score(view, view["eval/content_distance"])
    view["eval/beats_mix"] = timbre.beats_mix(view)
    return view


def pair_rows(summaries: dict[str, dict]) -> dict[str, dict]:
    """One pair's rows: x_C and the mix (from its first method's run), then each method's."""
    first = next(iter(summaries.values()))
    rows = {label: reference_view(first, ref) for label, ref in REFERENCES.items()}
    return {**rows, **summaries}


def cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def pairs_markdown(results: dict, commands: dict[str, dict[str, str]]) -> str:
    """The table (one row per pair and method or reference) and the command behind each row."""
    lines = ["| pair | row | " + " | ".join(PAIR_COLUMNS) + " |"]
    lines.append("|---" * (len(PAIR_COLUMNS) + 2) + "|")
    for pair, runs in results.items():
        for row, metrics in pair_rows({m: r["summary"] for m, r in runs.items()}).items():
            cells = [cell(metrics.get(key)) for key in PAIR_COLUMNS.values()]
            lines.append(f"| {pair} | {row} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Commands (the x_C and mix rows: eval/ref_content/*, eval/ref_mix/* of the pair's",
    ]
    lines += ["first command; transfer_score and beats_mix computed for them as for x_G):"]
    for pair, methods in commands.items():
        lines += [f"- {pair} / {method}: `{command}`" for method, command in methods.items()]
    return "\n".join(lines) + "\n"


def run_pair(overrides: list[str], run_dir: Path) -> dict:
    """One real run composed from conf/, written to run_dir (replaced)."""
    cfg = to_config(compose("config", overrides=overrides))
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    return run(cfg, RunContext(run_dir=run_dir))


def measure_pairs(args: argparse.Namespace) -> None:
    """Every PAIR_METHODS method on every pair of DIR/pairs.json (benchmarks/pairs.py)."""
    root = args.pairs.resolve()
    pairs = {
        name: (str(root / content), str(root / style))
        for name, (content, style) in json.loads((root / "pairs.json").read_text())["pairs"].items()
    }
    unknown = set(args.pair or []) - set(pairs)
    if unknown:
        raise SystemExit(f"--pair: no pair {sorted(unknown)} in {args.pairs}; have {sorted(pairs)}")
    duration = 3.0 if args.duration is None else args.duration
    out = args.out or args.pairs / "results.json"
    results: dict[str, dict] = {}
    commands: dict[str, dict[str, str]] = {}
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        for pair, (content, style) in pairs.items():
            if args.pair and pair not in args.pair:
                continue
            for method, extra in PAIR_METHODS.items():
                if args.only and method not in args.only:
                    continue
                overrides = pair_overrides(content, style, duration, args.steps) + extra
                command = shlex.join(["python", "run.py", *overrides])
                print(f"{pair} / {method}: {command}", flush=True)
                started = time.perf_counter()
                run_dir = root / "runs" / pair / method.replace(" ", "_")
                summary = run_pair(overrides, run_dir)
                wall = time.perf_counter() - started
                shown = {h: cell(summary.get(k)) for h, k in PAIR_COLUMNS.items()}
                print(f"  {wall:.1f} s wall, evaluation included: {shown}", flush=True)
                results.setdefault(pair, {})[method] = {
                    "command": command,
                    "overrides": overrides,
                    "run_dir": str(run_dir),
                    "wall_seconds": wall,
                    "summary": summary,
                }
                commands.setdefault(pair, {})[method] = command
                about = {"duration": duration, "steps": args.steps, "methods": PAIR_METHODS}
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps({**about, "results": results}, indent=2))
    table = pairs_markdown(results, commands)
    out.with_suffix(".md").write_text(table)
    print(table)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--network", choices=sorted(SETTINGS), default="nsynth")
    p.add_argument("--duration", type=float, help="seconds (default 1, with --pairs 3)")
    p.add_argument("--steps", type=int, help="optim.steps (default 100, with --pairs conf's)")
    p.add_argument("--out", type=Path, help="JSON (default docs/defaults.json, DIR/results.json)")
    p.add_argument("--only", nargs="*", help="names of SETTINGS (with --pairs: of PAIR_METHODS)")
    p.add_argument("--pairs", type=Path, metavar="DIR", help="measure benchmarks/pairs.py's pairs")
    p.add_argument("--pair", nargs="*", help="with --pairs: only these pairs")
    args = p.parse_args()
    register_configs()
    if args.pairs is None:
        measure_settings(args)
    else:
        measure_pairs(args)


if __name__ == "__main__":
    main()

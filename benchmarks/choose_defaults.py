"""Measure candidate defaults (lr, domain, alpha, normalisation) on the bundled clips.

Each setting is one real run composed from conf/ (Hydra compose API, tracking off) on top of its
network's experiment (`experiment=nsynth` or `experiment=spectral`); the table reports the loss
terms and the evaluation metrics of src/audiostyle/science/metrics.py.
Usage: python benchmarks/choose_defaults.py --network nsynth|spectral [--duration 1.0]
       [--steps 100] [--out docs/defaults.json] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from hydra import compose, initialize_config_dir

from audiostyle.config.from_hydra import register_configs, to_config
from audiostyle.run.context import RunContext
from audiostyle.run.runner import run

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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--network", choices=sorted(SETTINGS), default="nsynth")
    p.add_argument("--duration", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--out", type=Path, default=Path("docs/defaults.json"))
    p.add_argument("--only", nargs="*", help="names of SETTINGS to run")
    args = p.parse_args()
    register_configs()
    results = {}
    base = [
        f"experiment={args.network}",
        "tracking=none",
        f"audio.duration={args.duration}",
        f"optim.steps={args.steps}",
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
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(
                json.dumps(
                    {
                        "network": args.network,
                        "duration": args.duration,
                        "steps": args.steps,
                        "results": results,
                    },
                    indent=2,
                )
            )
    print("| setting | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for name, r in results.items():
        print(f"| {name} | " + " | ".join(f"{r[k]:.4g}" for k in COLUMNS) + " |")


if __name__ == "__main__":
    main()

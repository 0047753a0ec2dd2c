"""`audiostyle-reproduce --data DIR`: the paper's five experiments and their table.

Runs pitch_pitch_low_high, pitch_pitch_high_low, pitch_to_chord, chord_to_pitch and voice_flute
as ordinary runs (each its own run folder and MLflow run), then writes `paper_table.md`: the total
loss of x_G(0), x_G(50) and x_G(100), the output (the paper's form; steps/2 and steps with
--steps) and the measurements (measure.py, metrics.py) for each, and logs the table in a
summary MLflow run.
Each run keeps its experiment's snapshots (the iterations of the paper's figures) up to --steps,
and x_G(0) and x_G(steps).
Extra arguments are Hydra overrides given to every experiment (e.g. `encoder=magenta
encoder.checkpoint=PATH`, `audio.duration=1`).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import logging
import sys
import time
from importlib import resources
from pathlib import Path

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from audiostyle import interrupts
from audiostyle.config.from_hydra import register_configs, to_config
from audiostyle.config.schema import Config, snapshot_iterations
from audiostyle.config.validation import validate
from audiostyle.errors import AudiostyleError, ConfigError, fail
from audiostyle.files import atomic_path, storage_errors

log = logging.getLogger("audiostyle.commands.reproduce")

CONF = resources.files("audiostyle.conf")  # the top-level conf/, installed with the package
EXPERIMENTS = (
    "pitch_pitch_low_high",
    "pitch_pitch_high_low",
    "pitch_to_chord",
    "chord_to_pitch",
    "voice_flute",
)
COLUMNS = (  # (header, summary key, format)
    ("monotonic", "eval/loss_curve/monotonic", "{:.0f}"),
    ("drop by 50", "eval/loss_curve/share_of_drop_by_50", "{:.1%}"),
    ("x_G within 50c of x_S", "eval/pitch/within50_of_style", "{:.0%}"),
    ("x_G within 50c of x_C", "eval/pitch/within50_of_content", "{:.0%}"),
    ("f0 x_G / x_C / x_S (Hz)", None, None),
    ("SNR vs x_S (dB)", "eval/snr_vs_style_db", "{:.1f}"),
    ("SNR vs x_C (dB)", "eval/snr_vs_content_db", "{:.1f}"),
    ("WER x_G", "eval/judge/wer", "{:.0%}"),
    ("WER x_C", "eval/judge/ref_content/wer", "{:.0%}"),
)


def compose_experiment(name: str, overrides: list[str]) -> Config:
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module="audiostyle.conf", version_base="1.3"):
            return to_config(compose("config", overrides=[f"experiment={name}", *overrides]))
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(f"{name}: {str(err).splitlines()[0]}") from None
    finally:
        GlobalHydra.instance().clear()


def with_snapshots(cfg: Config) -> Config:
    """The experiment's snapshots that --steps reaches, and the first and last x_G."""
    steps = cfg.optim.steps
    kept = {i for i in snapshot_iterations(cfg) if i <= steps} | {0, steps}
    return dataclasses.replace(cfg, snapshots=sorted(kept))


def loss_at(run_dir: Path, iterations: list[int]) -> list[float]:
    with open(run_dir / "losses.csv") as f:
        total = [float(row["total"]) for row in csv.DictReader(f)]
    return [total[i] for i in iterations]


def cell(summary: dict, key: str | None, fmt: str | None) -> str:
    if key is None:  # the f0 column
        keys = [f"eval/pitch/{n}_median_hz" for n in ("generated", "content", "style")]
        return " / ".join(f"{summary[k]:.0f}" for k in keys) if keys[0] in summary else "-"
    return fmt.format(summary[key]) if key in summary else "-"


def table(rows: list[tuple[str, list[float], dict]], iterations: list[int]) -> str:
    head = ["experiment", *(f"loss @ {i}" for i in iterations), *(c[0] for c in COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, losses, summary in rows:
        cells = [name, *(f"{v:.4g}" for v in losses), *(cell(summary, k, f) for _, k, f in COLUMNS)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plan(data: Path, steps: int, experiments: list[str], overrides: list[str]) -> dict[str, Config]:
    """Each experiment's config, composed and validated: every setting and note is checked
    before the first heavy run."""
    base = [f"data.nsynth_root={data}", f"optim.steps={steps}", "tracking.experiment=reproduce",
            *overrides]  # fmt: skip
    configs = {name: with_snapshots(compose_experiment(name, base)) for name in experiments}
    for cfg in configs.values():
        validate(cfg)
    return configs


def reproduce(configs: dict[str, Config], out: Path, steps: int) -> Path:
    """Run each experiment, write out/paper_table.md, log it to MLflow; returns the table path."""
    from audiostyle.run.context import RunContext
    from audiostyle.run.runner import run

    iterations = [0, steps // 2, steps]
    rows = []
    for name, cfg in configs.items():
        log.info("experiment %s", name)
        ctx = RunContext(out / name, {"experiment": name}, " ".join(sys.argv))
        summary = run(cfg, ctx)
        rows.append((name, loss_at(ctx.run_dir, iterations), summary))
    text = table(rows, iterations)
    command = "audiostyle-reproduce " + " ".join(sys.argv[1:])
    path = out / "paper_table.md"
    with atomic_path(path) as tmp:
        tmp.write_text(f"# The paper's experiments\n\n`{command}`\n\n{text}")
    log_summary(next(iter(configs.values())), out, rows, iterations)
    return path


def log_summary(cfg: Config, out: Path, rows, iterations: list[int]) -> None:
    """The table as its own MLflow run, ended KILLED or FAILED like any run if it stops early."""
    if not cfg.tracking.enabled:
        return
    from audiostyle.run.tracked import ended_run
    from audiostyle.run.tracking import MlflowTracker, flatten

    table_dir = out / "table"
    table_dir.mkdir(exist_ok=True)
    (table_dir / "paper_table.md").write_text((out / "paper_table.md").read_text())
    tracker = MlflowTracker(cfg.tracking, Path(cfg.runs_dir), cfg.tracking.experiment)
    with ended_run(tracker, table_dir):  # from the run's start: an interrupt after ends it KILLED
        run_name = f"reproduce-{time.strftime('%Y%m%d-%H%M%S')}"
        tracker.start(run_name, flatten(dataclasses.asdict(cfg.data)), {})
        for name, losses, summary in rows:
            metrics = {f"{name}/loss_{i}": v for i, v in zip(iterations, losses)}
            metrics.update({f"{name}/{k}": v for k, v in summary.items() if k.startswith("eval/")})
            tracker.log_metrics(metrics)
        tracker.write_table(
            [{"experiment": name, **{k: v for k, v in s.items() if k.startswith("eval/")}}
             for name, _, s in rows],
            table_dir / "paper_table.json",
        )  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="audiostyle-reproduce", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="NSynth root (folder or .tfrecord)"
    )
    parser.add_argument("--out", type=Path, default=None, help="default runs/reproduce/<time>")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--experiments", default=",".join(EXPERIMENTS))
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every experiment")
    return parser.parse_args(argv)


def experiment_names(args: argparse.Namespace) -> list[str]:
    """--experiments as names of conf/experiment/ files; --steps checked too."""
    if args.steps < 2:
        raise ConfigError(f"--steps must be at least 2, got {args.steps}")
    names = [n.strip() for n in args.experiments.split(",")]
    unknown = [n for n in names if not (CONF / "experiment" / f"{n}.yaml").is_file()]
    if unknown:
        raise ConfigError(
            f"--experiments: no experiment {', '.join(unknown)} in {CONF / 'experiment'}"
        )
    return names


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"
    )
    interrupts.install()  # a scheduler's stop ends a run KILLED too
    register_configs()
    try:
        configs = plan(args.data, args.steps, experiment_names(args), args.overrides)
        out = args.out or Path("runs") / "reproduce" / time.strftime("%Y-%m-%d_%H-%M-%S")
        with storage_errors():
            path = reproduce(configs, out, args.steps)
    except AudiostyleError as err:
        fail(err)
    except KeyboardInterrupt:  # the running experiment's MLflow run is already KILLED
        print(
            "audiostyle: interrupted; the runs and snapshots written so far are kept",
            file=sys.stderr,
        )
        sys.exit(130)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

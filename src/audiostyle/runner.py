"""One run, end to end: validated config -> clips -> encoder -> transfer -> files and sinks.

The run folder gets the processed inputs, each snapshot, the final x_G, the loss history and a
summary; tracking (MLflow) listens through the same callbacks. Returns the final figures so a
sweep trial can use them.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from omegaconf import OmegaConf
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from audiostyle import clipspec
from audiostyle.audio import num_samples, write_wav
from audiostyle.config import Config, Loudness, snapshot_iterations, validate
from audiostyle.errors import AudioError, NumericalError, StorageError
from audiostyle.files import atomic_path, check_writable, storage_errors
from audiostyle.playback import limit_peak
from audiostyle.redact import redact, redact_files

if TYPE_CHECKING:  # metrics, plots and MLflow load only once the inputs are good (seconds)
    from audiostyle.tracking import MlflowTracker

log = logging.getLogger(__name__)


@dataclass
class RunContext:
    """Where a run writes, and what Hydra knows about it (for tags)."""

    run_dir: Path
    choices: dict[str, str] = field(default_factory=dict)
    command: str = ""
    network: str = "default"  # what chose encoder.network (cli.why_this_network)


@dataclass
class Inputs:
    content: np.ndarray
    style: np.ndarray
    paths: tuple[Path, ...]


def load_inputs(cfg: Config) -> Inputs:
    a = cfg.audio
    n = num_samples(a.duration, a.sample_rate)
    peak = a.peak if a.loudness == Loudness.peak else None
    root = cfg.data.nsynth_root
    content = clipspec.load(a.content, a.sample_rate, n, peak, root)
    style = clipspec.load(a.style, a.sample_rate, n, peak, root)
    paths = clipspec.input_paths(a.content, root) + clipspec.input_paths(a.style, root)
    return Inputs(content, style, paths)


def write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))


def write_history(
    path: Path, history: dict[str, list[float]], layers: list[str], per_layer
) -> None:
    keys = list(history)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", *keys, *(f"style/{n}" for n in layers)])
        for i in range(len(history[keys[0]])):
            w.writerow([i, *(history[k][i] for k in keys), *per_layer[i].tolist()])


def log_clip_inputs(tracker: MlflowTracker, cfg: Config, inputs: Inputs, run_dir: Path) -> None:
    """x_C and x_S, as processed (written to inputs/), as the MLflow run's dataset inputs."""
    from audiostyle.mlflow_conventions import clip_input

    a = cfg.audio
    clips = ((a.content, "content", inputs.content), (a.style, "style", inputs.style))
    found = [
        clip_input(spec, role, wave, a.sample_rate, run_dir / "inputs" / f"{role}.wav")
        for spec, role, wave in clips
    ]
    tracker.log_inputs(found)


def snapshot_path(run_dir: Path, iteration: int) -> Path:
    return run_dir / "snapshots" / f"iter_{iteration:04d}.wav"


def sweep_tags(cfg: Config, reporter) -> dict[str, str]:
    if reporter is None:
        return {}
    tags = {"sweep.study": cfg.sweep.study_name, "sweep.trial": str(reporter.number)}
    if cfg.sweep.parent_run_id:
        tags["mlflow.parentRunId"] = cfg.sweep.parent_run_id
    return tags


def open_tracker(cfg: Config) -> MlflowTracker | None:
    """Open the MLflow store before any heavy work, so an unusable store fails early."""
    if not cfg.tracking.enabled:
        return None
    from audiostyle.tracking import MlflowTracker

    return MlflowTracker(cfg.tracking, Path(cfg.runs_dir), cfg.tracking.experiment)


def start_tracked_run(tracker: MlflowTracker, cfg: Config, ctx: RunContext, reporter) -> None:
    """The run's MLflow run, named after its main choices, with every parameter."""
    from audiostyle.mlflow_conventions import run_tags
    from audiostyle.tracking import git_commit

    choices = ctx.choices
    name = "-".join(
        [
            cfg.loss.type.value,
            choices.get("style_layers", "custom"),
            cfg.content_layer.layer,
            f"a{cfg.alpha:g}",
            f"lr{cfg.optim.lr:g}",
            uuid.uuid4().hex[:6],
        ]
    )
    tags = {
        **sweep_tags(cfg, reporter),
        "network": cfg.encoder.network.value,
        "network_chosen_by": ctx.network,
        "git_commit": git_commit(Path.cwd()),
        "hydra_run_dir": str(ctx.run_dir.resolve()),
        "command": ctx.command,
        **{f"choice.{group}": option for group, option in choices.items()},
        **run_tags(ctx.command),
    }
    tracker.start(name, run_params(cfg), tags)
    log.info("MLflow run %s (%s) in %s", tracker.run_id, name, redact(tracker.uri))


def run_params(cfg: Config) -> dict[str, str]:
    """Every setting, flattened; `snapshots` as the iterations kept (null means first, middle
    and last: the list says which)."""
    from audiostyle.tracking import flatten

    return {**flatten(dataclasses.asdict(cfg)), "snapshots": str(snapshot_iterations(cfg))}


def write_pictures(
    run_dir: Path, inputs: Inputs, result, rate: int, snapshots: dict[int, np.ndarray]
) -> None:
    from audiostyle.plots import save_loss_curves, save_spectrograms

    spec = run_dir / "spectrograms"
    clips = {"content": inputs.content, "style": inputs.style, "generated": result.output}
    for name, x in clips.items():
        save_spectrograms({name: x}, rate, spec / f"{name}.png")
    for i, wave in snapshots.items():
        save_spectrograms({f"iteration {i}": wave}, rate, spec / f"iter_{i:04d}.png")
    save_spectrograms(
        {"content x_C": inputs.content, "style x_S": inputs.style, "generated x_G": result.output},
        rate,
        run_dir / "spectrograms.png",
    )
    save_loss_curves(result.history, run_dir / "loss_curves.png")


def run(cfg: Config, ctx: RunContext) -> dict[str, float]:
    """Run one transfer; every setting is checked before any audio is read."""
    validate(cfg)
    log.info("network %s, chosen by %s", cfg.encoder.network.value, ctx.network)
    inputs = load_inputs(cfg)
    check_writable(ctx.run_dir, "the run's outputs")
    if cfg.tracking.enabled and not cfg.tracking.uri:
        check_writable(Path(cfg.runs_dir), "the MLflow store and its artifacts")
    with storage_errors():
        redact_files(ctx.run_dir / ".hydra")
        config_yaml = redact(OmegaConf.to_yaml(OmegaConf.structured(cfg)))
        (ctx.run_dir / "config.yaml").write_text(config_yaml)
    reporter = None
    if cfg.sweep.trial_id is not None:  # a trial of an Optuna sweep
        from audiostyle.sweep import TrialReporter

        reporter = TrialReporter(cfg.sweep, cfg.runs_dir)
    tracker = open_tracker(cfg)
    with ended_run(tracker, ctx.run_dir):  # from its start: an interrupt after ends it KILLED
        if tracker is not None:
            start_tracked_run(tracker, cfg, ctx, reporter)
        try:
            with storage_errors():
                summary = transfer_and_write(cfg, ctx, inputs, tracker, reporter)
        except NumericalError as err:
            keep_last_finite(ctx.run_dir, err, cfg.audio.sample_rate, inputs.paths)
            raise
    say_where(ctx.run_dir, tracker)
    return summary


def say_where(run_dir: Path, tracker: MlflowTracker | None) -> None:
    """The run's last lines: what to play, what to read, where to compare."""
    log.info("listen: %s", (run_dir / "generated.wav").resolve())
    log.info("report: %s", (run_dir / "report.html").resolve())
    if tracker is None or tracker.experiment_id is None:
        return
    from audiostyle.mlflow_conventions import runs_table_url, ui_command

    command = ui_command(tracker.uri)
    if command:
        log.info(
            "compare runs: %s, then open %s",
            redact(command),
            runs_table_url(tracker.uri, tracker.experiment_id),
        )
    else:
        log.info("compare runs: %s", redact(runs_table_url(tracker.uri, tracker.experiment_id)))


@contextlib.contextmanager
def ended_run(tracker: MlflowTracker | None, folder: Path) -> Iterator[None]:
    """End the MLflow run however the block ends: FINISHED; FAILED with the error; KILLED on
    Ctrl-C or SIGTERM; FINISHED tagged sweep.state PRUNED for a pruned sweep trial. `folder`
    is uploaded first. A run never stays RUNNING."""
    try:
        yield
    except KeyboardInterrupt:
        end_tracker(tracker, folder, "KILLED", "interrupted (SIGINT or SIGTERM)")
        raise
    except BaseException as err:
        if type(err).__name__ == "TrialPruned":  # optuna.TrialPruned, without importing optuna
            end_tracker(tracker, folder, "FINISHED", None, {"sweep.state": "PRUNED"})
        else:
            end_tracker(tracker, folder, "FAILED", f"{type(err).__name__}: {err}")
        raise
    end_tracker(tracker, folder, "FINISHED", None)


def end_tracker(
    tracker: MlflowTracker | None,
    run_dir: Path,
    status: str,
    error: str | None,
    tags: dict[str, str] | None = None,
) -> None:
    """Tag the MLflow run, upload the run folder and set the final status. A failed upload is a
    warning, and Ctrl-C or SIGTERM during it ends the run KILLED (a FAILED one stays FAILED)
    before taking effect: the run never stays RUNNING, and the error that ended it stays the
    one reported."""
    if tracker is None:
        return
    tags = dict(tags or {})
    if error:
        tags["error"] = error
    try:
        if tags:
            tracker.set_tags(tags)
        tracker.log_artifacts(run_dir)
    except KeyboardInterrupt:
        set_final_status(tracker, "FAILED" if status == "FAILED" else "KILLED")
        raise
    except Exception as err:  # a full disk or a server error must not leave the run RUNNING
        log.warning("could not log the run's artifacts: %s", redact(str(err))[:300])
    set_final_status(tracker, status)


def set_final_status(tracker: MlflowTracker, status: str) -> None:
    """End the MLflow run; a store that refuses (locked, unreachable) is a warning, so that it
    does not replace the error that ended the run."""
    try:
        tracker.end(status)
    except Exception as err:  # MLflow, SQLAlchemy and HTTP errors alike
        log.warning(
            "could not end MLflow run %s as %s; it stays RUNNING: %s",
            tracker.run_id,
            status,
            redact(str(err))[:300],
        )


def keep_last_finite(run_dir: Path, err: NumericalError, rate: int, protected) -> None:
    """Write x_G as it stood when the loss stopped being finite (its samples are finite)."""
    if err.last_finite is None:
        return
    try:
        with storage_errors():
            path = write_wav(run_dir / "last_finite.wav", err.last_finite, rate, protected)
    except (AudioError, StorageError) as why:  # overflowed samples or a full disk: the NaN
        # stays the error reported
        log.warning("could not keep x_G (iteration %d): %s", err.iteration, why)
        return
    log.warning("kept the last finite x_G (iteration %d) in %s", err.iteration, path)


def transfer_and_write(
    cfg: Config, ctx: RunContext, inputs: Inputs, tracker: MlflowTracker | None, reporter=None
) -> dict[str, float]:
    run_dir = ctx.run_dir
    rate = cfg.audio.sample_rate
    write_wav(run_dir / "inputs" / "content.wav", inputs.content, rate, inputs.paths)
    write_wav(run_dir / "inputs" / "style.wav", inputs.style, rate, inputs.paths)
    if tracker:
        log_clip_inputs(tracker, cfg, inputs, run_dir)

    from audiostyle.quiet import start_tensorflow

    start_tensorflow(cfg.runtime.verbose)  # TensorFlow loads only once inputs are good
    from audiostyle.encoder import build_network
    from audiostyle.measure import measure
    from audiostyle.metrics import evaluate
    from audiostyle.report import write_run_report
    from audiostyle.transfer import initial_waveform, run_transfer

    network = build_network(cfg)
    bar = tqdm(total=cfg.optim.steps, desc="transfer", unit="step", dynamic_ncols=True)
    layers = cfg.style_layers.layers

    def on_step(stats) -> None:  # steps 0 .. steps - 1, then x_G(steps)'s loss (no update)
        if stats.step < cfg.optim.steps:
            bar.update(1)
        if stats.step % cfg.runtime.log_every == 0 or stats.step >= cfg.optim.steps - 1:
            bar.set_postfix(
                loss=f"{stats.total:.4g}",
                content=f"{stats.content:.4g}",
                style=f"{stats.style:.4g}",
            )
            if tracker:
                metrics = {
                    "loss/total": stats.total,
                    "loss/content": stats.content,
                    "loss/style": stats.style,
                    "loss/energy": stats.energy,
                    "grad_norm": stats.grad_norm,
                    "time/step_seconds": stats.seconds,
                }
                metrics.update(
                    {f"style_layer/{n}": float(v) for n, v in zip(layers, stats.per_layer)}
                )
                tracker.log_metrics(metrics, step=stats.step)

    snapshots: dict[int, np.ndarray] = {}  # kept for the pictures: a few clips, not re-read
    snapshot_gains: dict[str, float] = {}

    def on_snapshot(iteration: int, wave: np.ndarray) -> None:
        playable, snapshot_gains[str(iteration)] = limit_peak(wave, cfg.audio.peak)
        write_wav(snapshot_path(run_dir, iteration), playable, rate, inputs.paths)
        snapshots[iteration] = wave

    x0 = initial_waveform(cfg, inputs.content, inputs.style)

    def on_probe(iteration: int, wave: np.ndarray) -> None:
        reporter.report(iteration, evaluate(wave, inputs.content, inputs.style, x0, rate))

    probe_every = cfg.sweep.report_every if reporter else 0
    try:
        with logging_redirect_tqdm():  # log lines print above the bar, not through it
            result = run_transfer(
                cfg,
                network,
                inputs.content,
                inputs.style,
                on_step,
                on_snapshot,
                probe_every,
                on_probe,
            )
    finally:
        bar.close()
    playable, gain_db = limit_peak(result.output, cfg.audio.peak)  # metrics: unscaled x_G
    out = write_wav(run_dir / "generated.wav", playable, rate, inputs.paths)
    write_history(run_dir / "losses.csv", result.history, layers, result.per_layer)
    h, best = result.history, result.output_step
    summary = {
        "loss/total": h["total"][best],  # the output's: x_G(steps), or the best (keep_best)
        "loss/content": h["content"][best],
        "loss/style": h["style"][best],
        "loss/total_initial": h["total"][0],
        "loss/style_initial": h["style"][0],
        "loss/total_max": max(h["total"]),
        "optim/output_step": best,
        "time/seconds": result.seconds,
        "time/seconds_per_step": float(np.median(h["seconds"])),
        "runtime/chunk_seconds": result.chunk_samples / rate,  # 0: the whole clip at once
        "output/gain_db": gain_db,  # applied to generated.wav (playback.py); 0: as computed
    }
    summary.update(evaluate(result.output, inputs.content, inputs.style, x0, rate))
    summary.update(
        measure(cfg.measure, result.output, inputs.content, inputs.style, rate, h["total"])
    )
    kept = snapshot_iterations(cfg)
    about = {"device": result.device, "output": str(out), "snapshots": kept}
    about["snapshot_gain_db"] = snapshot_gains
    about["network"] = {"name": cfg.encoder.network.value, "chosen_by": ctx.network}
    write_json(run_dir / "summary.json", {**summary, **about})
    write_pictures(run_dir, inputs, result, rate, snapshots)
    params = run_params(cfg)
    write_run_report(run_dir, f"audiostyle run {run_dir.name}", ctx.choices, params, summary, kept)
    if tracker:
        import tensorflow as tf

        # loss/* per step are already logged, x_G(steps)'s at step `steps`
        final = {k: v for k, v in summary.items() if not k.startswith("loss/")}
        tracker.log_metrics(final, step=cfg.optim.steps)
        tracker.set_tags({"device": result.device, "tensorflow_version": tf.__version__})
    log.info("wrote %s (%.1f s on %s)", out, result.seconds, result.device)
    return summary

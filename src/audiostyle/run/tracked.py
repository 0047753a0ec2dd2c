"""A run in MLflow: opened early (a store or server that fails costs nothing), its parameters
and tags, its inputs, and its end: FINISHED, FAILED or KILLED whatever stops it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from audiostyle.clips.inputs import Inputs
from audiostyle.config.schema import Config, snapshot_iterations
from audiostyle.run.context import RunContext, TrialReporting
from audiostyle.run.redact import redact

if TYPE_CHECKING:  # metrics, plots and MLflow load only once the inputs are good (seconds)
    from audiostyle.run.tracking import MlflowTracker


log = logging.getLogger(__name__)


def log_clip_inputs(tracker: MlflowTracker, cfg: Config, inputs: Inputs, run_dir: Path) -> None:
    """x_C and x_S, as processed (written to inputs/), as the MLflow run's dataset inputs."""
    from audiostyle.run.mlflow_conventions import clip_input

    a = cfg.audio
    clips = ((a.content, "content", inputs.content), (a.style, "style", inputs.style))
    found = [
        clip_input(spec, role, wave, a.sample_rate, run_dir / "inputs" / f"{role}.wav")
        for spec, role, wave in clips
    ]
    tracker.log_inputs(found)


def sweep_tags(cfg: Config, reporter: TrialReporting | None) -> dict[str, str]:
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
    from audiostyle.run.tracking import MlflowTracker

    return MlflowTracker(cfg.tracking, Path(cfg.runs_dir), cfg.tracking.experiment)


def start_tracked_run(
    tracker: MlflowTracker, cfg: Config, ctx: RunContext, reporter: TrialReporting | None
) -> None:
    """The run's MLflow run, named after its main choices, with every parameter."""
    from audiostyle.run.mlflow_conventions import run_tags
    from audiostyle.run.tracking import git_commit

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
    from audiostyle.run.tracking import flatten

    return {**flatten(dataclasses.asdict(cfg)), "snapshots": str(snapshot_iterations(cfg))}


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

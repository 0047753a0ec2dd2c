"""The sweep's own MLflow run: opened once per study, the trials its children, and
finished with the study's plots and best trial.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import optuna
from optuna.trial import TrialState

from audiostyle.config.schema import SweepConfig, TrackingConfig
from audiostyle.interrupts import uninterrupted
from audiostyle.run.mlflow_conventions import run_tags
from audiostyle.run.redact import redact

if TYPE_CHECKING:  # MLflow loads only when tracking is on
    from audiostyle.run.tracking import MlflowTracker


log = logging.getLogger(__name__)


def open_tracker(tracking: TrackingConfig, runs_dir: str) -> MlflowTracker | None:
    """The sweep's one handle on the MLflow store (None when tracking is off)."""
    if not tracking.enabled:
        return None
    from audiostyle.run.tracking import MlflowTracker

    return MlflowTracker(tracking, Path(runs_dir), tracking.experiment)


@uninterrupted
def open_parent_run(study: optuna.Study, cfg: SweepConfig, tracker: MlflowTracker | None) -> None:
    """One MLflow run per study that every trial's run is a child of (shared by all workers);
    `tracker.run_id` is it afterwards."""
    if tracker is None:
        return
    known = study.user_attrs.get("mlflow_parent_run_id")
    if known:
        missing = parent_run_missing(tracker, known)
        if missing is None:
            tracker.client.update_run(known, status="RUNNING")  # resumed after an interruption
            tracker.run_id = known
            return
        log.warning(
            "the sweep's MLflow run %s cannot be resumed (%s): starting a new one", known, missing
        )
    run_id = tracker.start(
        f"sweep-{cfg.study_name}",
        {
            "sweep.study_name": cfg.study_name,
            "sweep.n_trials": str(cfg.n_trials),
            **{f"sweep.params.{k}": v for k, v in cfg.params.items()},
        },
        {"sweep.study": cfg.study_name, "sweep.role": "parent", **run_tags(" ".join(sys.argv))},
    )
    study.set_user_attr("mlflow_parent_run_id", run_id)


def parent_run_missing(tracker: MlflowTracker, run_id: str) -> str | None:
    """Why the sweep's recorded MLflow run cannot be resumed (deleted, or not in this store:
    the tracking URI changed); None when it can."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

    try:
        run = tracker.client.get_run(run_id)
    except MlflowException as err:  # a locked or unreachable store is not a missing run
        if err.error_code != ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            raise
        return f"not in {redact(tracker.uri)}: {redact(str(err))[:200]}"
    if run.info.lifecycle_stage == "deleted":
        return "it was deleted"
    return None


def finish_parent_run(
    study: optuna.Study, cfg: SweepConfig, tracker: MlflowTracker | None, runs_dir: str
) -> None:
    """best.json and Optuna's plots in runs/sweeps/<study_name>/, and with them the best
    trial(s) on the parent run when tracking is on."""
    from audiostyle.sweep.plots import write_study_plots

    out = Path(runs_dir) / "sweeps" / cfg.study_name
    if tracker is None:  # no MLflow: the files are the sweep's only summary
        write_study_plots(study, cfg, out)
        return
    states = [t.state for t in study.get_trials(deepcopy=False)]
    tracker.log_metrics(
        {
            f"sweep/{s.name.lower()}": float(states.count(s))
            for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        }
    )
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if complete and len(cfg.objectives) == 1:
        best = study.best_trial
        tracker.log_metrics({f"best/{cfg.objectives[0]}": best.value})
        tracker.set_tags(
            {
                "best.trial": str(best.number),
                **{f"best.{k}": str(v) for k, v in best.params.items()},
            }
        )
    elif complete:
        tracker.set_tags({"pareto.trials": ",".join(str(t.number) for t in study.best_trials)})
    write_study_plots(study, cfg, out)
    tracker.write_table(trial_rows(study, cfg), out / "trials.json")
    tracker.log_artifacts(out)
    tracker.end("FINISHED")


def trial_rows(study: optuna.Study, cfg: SweepConfig) -> list[dict[str, object]]:
    """One row per trial: number, state, its objectives' values and its parameters."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        values = t.values or [None] * len(cfg.objectives)
        row: dict[str, object] = {"trial": t.number, "state": t.state.name}
        row |= dict(zip(cfg.objectives, values))
        rows.append(row | {k: t.params.get(k) for k in sorted(t.distributions)})
    return rows

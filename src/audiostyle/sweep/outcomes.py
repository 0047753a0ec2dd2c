"""How a trial ends in the study: told its values, FAIL with a reason (interrupted,
an error), or abandoned by a dead worker; and the one-line standing of the study.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import optuna
from hydra.core.utils import JobReturn, JobStatus
from optuna.trial import TrialState

from audiostyle.config.schema import SweepConfig
from audiostyle.interrupts import uninterrupted
from audiostyle.run.redact import redact
from audiostyle.sweep.storage import INTERRUPTED, counted_trials

if TYPE_CHECKING:  # MLflow loads only when tracking is on
    from audiostyle.run.tracking import MlflowTracker

log = logging.getLogger(__name__)


def abandon(
    study: optuna.Study,
    asked: list[optuna.Trial],
    tracker: MlflowTracker | None,
    err: BaseException,
) -> None:
    """The sweep stops early: this worker's unfinished trials are FAIL with the reason (an
    interrupted one does not count, so the same command resumes), the parent run ends."""
    interrupted = isinstance(err, KeyboardInterrupt | SystemExit)
    reason = INTERRUPTED if interrupted else f"{type(err).__name__}: {err}"
    for trial in asked:
        if study._storage.get_trial(trial._trial_id).state == TrialState.RUNNING:
            fail_trial(study, trial, reason)
    if tracker is None:
        return
    try:  # the parent run; a rerun resumes it
        tracker.end("KILLED" if interrupted else "FAILED")
    except Exception as end_err:  # must not hide why the sweep stopped
        log.warning("could not end the sweep's MLflow run: %s", redact(str(end_err))[:300])


@uninterrupted
def end_dead_runs(tracker: MlflowTracker, study_name: str, numbers: list[int]) -> None:
    """A dead worker left its trials' MLflow runs RUNNING: mark them FAILED, saying why."""
    reason = "worker died: its heartbeat stopped"
    try:
        ended = sum(
            tracker.fail_running({"sweep.study": study_name, "sweep.trial": str(n)}, reason)
            for n in numbers
        )
    except Exception as err:  # the sweep goes on; the runs merely stay RUNNING
        log.warning("could not end a dead worker's MLflow runs: %s", redact(str(err))[:300])
        return
    if ended:
        log.info("marked %d MLflow run(s) of dead workers FAILED", ended)


def standing(study: optuna.Study, cfg: SweepConfig) -> str:
    """Where the study stands, for a worker that found nothing to run."""
    states = [t.state for t in study.get_trials(deepcopy=False)]
    counts = ", ".join(f"{states.count(s)} {s.name.lower()}" for s in TrialState if s in states)
    return (
        f"study {cfg.study_name!r} already counts {counted_trials(study)[0]} of "
        f"sweep.n_trials={cfg.n_trials} trials ({counts or 'none'}); raise sweep.n_trials or "
        "set a new sweep.study_name to run more"
    )


def fail_trial(study: optuna.Study, trial: optuna.Trial, reason: str) -> None:
    """FAIL, with the reason kept where whoever reads the study finds it."""
    trial.set_user_attr("fail_reason", reason[:2000])
    study.tell(trial, state=TrialState.FAIL)


@uninterrupted
def tell(study: optuna.Study, cfg: SweepConfig, trial: optuna.Trial, ret: JobReturn) -> None:
    """Record a finished job: its objectives, PRUNED, or FAIL with the reason kept."""
    if ret.status == JobStatus.COMPLETED:
        summary = ret.return_value
        try:
            values = [float(summary[k]) for k in cfg.objectives]
        except (KeyError, TypeError) as err:
            fail_trial(study, trial, f"objective missing from the run's result: {err}")
            return
        study.tell(trial, values)
        log.info("trial %d: %s", trial.number, dict(zip(cfg.objectives, values, strict=True)))
        return
    error = ret._return_value
    if isinstance(error, optuna.TrialPruned):
        study.tell(trial, state=TrialState.PRUNED)
        log.info("trial %d pruned", trial.number)
        return
    reason = f"{type(error).__name__}: {error}"
    fail_trial(study, trial, reason)
    log.warning("trial %d failed (%s); the sweep goes on", trial.number, reason)

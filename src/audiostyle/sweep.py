"""Optuna sweeps as a Hydra sweeper on Optuna's ask/tell API: `python run.py -m sweep=NAME`.

Each trial is an ordinary run launched by Hydra's launcher with the sampled overrides plus
`sweep.trial_id`, so the run reports intermediate values to the same study and can be pruned
(`TrialReporter`). The study lives in a shared storage (SQLite under runs/ by default, any
Optuna URL otherwise), so running the command again resumes it up to `sweep.n_trials`, and
several processes started with the same command work on one study. A trial that raises is
FAIL with its reason and the sweep goes on; a worker that dies stops sending heartbeats and
its RUNNING trial is failed and retried by the next worker that looks (a journal file has no
heartbeats: there a worker with nothing left to ask stops rather than wait on a trial that may
never end). Ctrl-C or SIGTERM stops the sweep: the running trial is FAIL with reason
"interrupted" and does not count toward `sweep.n_trials`, so the same command resumes the study.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import threading
import time
import warnings
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
import sqlalchemy
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from audiostyle import interrupts
from audiostyle.config import SweepConfig, TrackingConfig, resolved, to_config, validate
from audiostyle.errors import AudiostyleError, ConfigError
from audiostyle.files import file_lock, sqlite_url
from audiostyle.interrupts import held, uninterrupted
from audiostyle.redact import redact

if TYPE_CHECKING:  # MLflow loads only when tracking is on
    from audiostyle.tracking import MlflowTracker

log = logging.getLogger(__name__)
INTERRUPTED = "interrupted"  # the fail_reason of a trial stopped by Ctrl-C or SIGTERM

# Heartbeats, retries and stale-trial checks are marked experimental in Optuna; we rely on them
# knowingly, and with ask/tell (not Study.optimize) we record the heartbeats ourselves.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")


def storage_url(cfg: SweepConfig, runs_dir: str) -> str:
    return cfg.storage or sqlite_url(Path(runs_dir) / "optuna.db", "Optuna study", "sweep.storage")


def make_storage(cfg: SweepConfig, runs_dir: str) -> optuna.storages.BaseStorage:
    """RDB storage with heartbeats and retries, or a journal file (`journal:///path`)."""
    url = storage_url(cfg, runs_dir)
    if url.startswith("journal://"):
        path = url[len("journal://") :]
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        engine: dict[str, Any] = {"connect_args": {"timeout": 60}}
    else:  # a database server: drop connections it closed while a long trial ran
        engine = {"pool_pre_ping": True, "pool_recycle": 1800}
    return optuna.storages.RDBStorage(
        url,
        engine_kwargs=engine,
        heartbeat_interval=cfg.heartbeat_seconds,
        grace_period=2 * cfg.heartbeat_seconds,
        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
            max_retry=cfg.max_retry
        ),
    )


def file_of(url: str) -> Path | None:
    """The file behind a SQLite or journal storage URL; None for a database server."""
    for prefix in ("sqlite:///", "journal://"):
        if url.startswith(prefix):
            return Path(url[len(prefix) :])
    return None


@contextlib.contextmanager
def study_lock(study: optuna.Study, url: str) -> Iterator[None]:
    """One worker at a time counts the study's trials and asks for new ones, so parallel
    workers stop at exactly n_trials: a PostgreSQL advisory lock (released by the server if
    the worker dies), or a file lock next to a SQLite or journal file. Other databases get no
    lock and may overshoot by one trial per extra worker."""
    path = file_of(url)
    if path is not None:
        with file_lock(Path(f"{path}.ask.lock")):
            yield
        return
    storage = getattr(study._storage, "_backend", study._storage)  # Optuna wraps RDBStorage
    engine = getattr(storage, "engine", None)
    if engine is None or engine.dialect.name != "postgresql":
        yield
        return
    key = zlib.crc32(f"audiostyle-sweep:{study.study_name}".encode())
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            conn.commit()


def make_pruner(cfg: SweepConfig) -> optuna.pruners.BasePruner:
    if cfg.pruner == "none" or len(cfg.objectives) > 1:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(
        n_startup_trials=cfg.pruner_startup_trials, n_warmup_steps=cfg.pruner_warmup_steps
    )


def make_sampler(cfg: SweepConfig, seed: int) -> optuna.samplers.BaseSampler:
    if cfg.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if cfg.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True)


def trial_seed(seed: int, number: int) -> int:
    return zlib.crc32(f"{seed}:{number}".encode())


class TrialSeededSampler(optuna.samplers.BaseSampler):
    """The configured sampler, seeded afresh for each trial from (sweep.seed, trial number).
    A sweep run from scratch is reproducible, yet a resumed sweep or a second worker, which
    start from the same sweep.seed, do not repeat the random points already asked (TPE's
    start-up trials, `random`, NSGA-II's first population)."""

    def __init__(self, cfg: SweepConfig):
        self.cfg = cfg
        self.inner = make_sampler(cfg, cfg.seed)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.inner = make_sampler(self.cfg, trial_seed(self.cfg.seed, trial.number))
        self.inner.before_trial(study, trial)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self.inner.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self.inner.sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self.inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self.inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()


@uninterrupted  # writes to the study's storage hold Ctrl-C (see interrupts.py)
def load_study(cfg: SweepConfig, runs_dir: str, attempts: int = 5) -> optuna.Study:
    """Create or join the study. Workers started together race to create the storage's tables;
    the loser sees an integrity error and simply joins on the next attempt."""
    for attempt in range(attempts):
        try:
            return optuna.create_study(
                study_name=cfg.study_name,
                storage=make_storage(cfg, runs_dir),
                directions=list(cfg.directions),
                sampler=TrialSeededSampler(cfg),
                pruner=make_pruner(cfg),
                load_if_exists=True,
            )
        except sqlalchemy.exc.SQLAlchemyError as err:
            if attempt == attempts - 1:
                url = redact(storage_url(cfg, runs_dir))
                reason = redact(str(err).splitlines()[0])[:300]
                raise AudiostyleError(f"Optuna storage {url} is not usable: {reason}") from None
            time.sleep(0.5 + random.random())
    raise AssertionError("unreachable")


def distribution(override: Override, current: object = None) -> BaseDistribution:
    """Hydra's sweep grammar -> an Optuna distribution. Hydra reads interval() ends as floats,
    so an interval is over integers when the key's value in the composed config (`current`)
    is an int, as the schema makes optim.steps."""
    value = override.value()
    if isinstance(value, ChoiceSweep):
        return CategoricalDistribution(list(override.sweep_iterator(transformer=lambda x: x)))
    if isinstance(value, RangeSweep):
        return CategoricalDistribution(list(override.sweep_iterator(transformer=lambda x: x)))
    if isinstance(value, IntervalSweep):
        log_scale = "log" in value.tags
        if isinstance(current, int) and not isinstance(current, bool):
            if not (float(value.start).is_integer() and float(value.end).is_integer()):
                raise ConfigError(
                    f"{override.input_line}: {override.key_or_group} is an integer setting, "
                    "so interval() needs integer ends"
                )
            return IntDistribution(int(value.start), int(value.end), log=log_scale)
        return FloatDistribution(float(value.start), float(value.end), log=log_scale)
    raise ConfigError(
        f"{override.input_line}: a sweep needs choice(...), range(...) or interval(...)"
    )


def has_heartbeats(storage: optuna.storages.BaseStorage) -> bool:
    """Whether a dead worker's trial can be found: RDB storages record heartbeats, journal
    files do not."""
    return (
        isinstance(storage, optuna.storages._heartbeat.BaseHeartbeat)
        and storage.get_heartbeat_interval() is not None
    )


def describe_running(study: optuna.Study) -> str:
    """The RUNNING trials, with the worker that asked each and when, for a log line."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return ", ".join(
        f"trial {t.number} (worker {t.user_attrs.get('worker', '?')}, since "
        f"{t.datetime_start:%Y-%m-%d %H:%M:%S})"
        for t in running
    )


def fail_stale_trials(study: optuna.Study) -> list[int]:
    """Fail the trials whose worker stopped sending heartbeats; their numbers."""
    running = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    if not running:
        return []
    optuna.storages.fail_stale_trials(study)
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    return sorted(t.number for t in failed if t.number in running)


def counted_trials(study: optuna.Study) -> tuple[int, int, int]:
    """(trials that count toward n_trials, trials waiting to be retried, trials running)."""
    trials = study.get_trials(deepcopy=False)
    retried = {
        n
        for t in trials
        for n in [optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t)]
        if n is not None
    }
    waiting = sum(t.state == TrialState.WAITING for t in trials)
    running = sum(t.state == TrialState.RUNNING for t in trials)
    counted = sum(
        t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
        or (
            t.state == TrialState.FAIL
            and t.number not in retried
            and t.user_attrs.get("fail_reason") != INTERRUPTED  # stopped by the user: not a result
        )
        for t in trials
    )
    return counted, waiting, running


class Heartbeat:
    """Records heartbeats for the trials this worker is running, from a background thread."""

    def __init__(self, storage: optuna.storages.BaseStorage, trial_ids: list[int], seconds: int):
        self.storage, self.trial_ids, self.seconds = storage, trial_ids, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self._stop.is_set():
            for tid in self.trial_ids:
                try:
                    self.storage.record_heartbeat(tid)
                except Exception as err:  # a heartbeat must never kill the sweep
                    log.debug("heartbeat failed: %s", err)
            self._stop.wait(self.seconds)

    def __enter__(self) -> Heartbeat:
        if has_heartbeats(self.storage):
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()


class TrialReporter:
    """Used inside a trial's run: reports intermediate objective values and asks to prune."""

    def __init__(self, cfg: SweepConfig, runs_dir: str):
        assert cfg.trial_id is not None
        self.cfg = cfg
        self.study = load_study(cfg, runs_dir)
        self.trial = optuna.Trial(self.study, cfg.trial_id)
        self.single = len(cfg.objectives) == 1

    @property
    def number(self) -> int:
        return self.trial.number

    def report(self, step: int, metrics: dict[str, float]) -> None:
        if not self.single:
            return  # Optuna does not prune multi-objective studies
        with held():
            self.trial.report(metrics[self.cfg.objectives[0]], step)
            prune = self.trial.should_prune()
        if prune:
            raise optuna.TrialPruned(f"pruned at step {step}")


class OptunaSweeper:
    """Drives Optuna's ask/tell for Hydra (through the shim in hydra_plugins); settings come
    from the `sweep` config node."""

    def __init__(self) -> None:
        self.config: DictConfig | None = None
        self.launcher = None
        self.hydra_context: HydraContext | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def _settings(self) -> tuple[SweepConfig, str, TrackingConfig]:
        assert self.config is not None
        sweep = resolved(
            OmegaConf.merge(OmegaConf.structured(SweepConfig), self.config.sweep), "sweep."
        )
        tracking = resolved(
            OmegaConf.merge(OmegaConf.structured(TrackingConfig), self.config.tracking),
            "tracking.",
        )
        return sweep, str(self.config.runs_dir), tracking

    def _validate_fixed(self, fixed: list[str]) -> None:
        """Check the settings every trial shares (the command line and sweep.params' plain
        values, composed as a trial composes them), and read its clips, once before the first
        trial: a mistake there would fail every trial and use up sweep.n_trials. Searched keys
        are checked at their config values; a sampled value is checked by its trial."""
        from audiostyle.runner import load_inputs

        assert self.config is not None and self.hydra_context is not None
        composed = self.hydra_context.config_loader.load_sweep_config(self.config, fixed)
        job = OmegaConf.masked_copy(composed, [k for k in composed if k != "hydra"])
        config = to_config(job)
        validate(config)
        load_inputs(config)  # a missing or unreadable file: types and ranges cannot tell

    def _split(
        self, arguments: list[str], cfg: SweepConfig
    ) -> tuple[list[str], dict[str, BaseDistribution]]:
        """(fixed overrides, search space). A key given a plain value on the command line is
        fixed, not searched, even where sweep.params searches it (the command line wins, as
        everywhere in Hydra; the sampled value used to replace it silently)."""
        assert self.hydra_context is not None and self.config is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        lines = [f"{k}={v}" for k, v in cfg.params.items()] + list(arguments)
        fixed: list[str] = []
        given: dict[str, str] = {}  # key -> its fixed value on the command line
        space: dict[str, BaseDistribution] = {}
        searched: dict[str, str] = {}  # key -> its name in the search space
        for i, override in enumerate(parser.parse_overrides(lines)):
            key = override.key_or_group
            if override.is_sweep_override():
                current = OmegaConf.select(self.config, key, default=None)
                space[override.get_key_element()] = distribution(override, current)
                searched[key] = override.get_key_element()
            else:
                fixed.append(override.input_line)
                if i >= len(cfg.params):
                    given[key] = override.input_line
        for key, line in given.items():
            if key in searched:
                del space[searched.pop(key)]
                log.info("%s on the command line: fixed, not searched", line)
        if not space:
            raise ConfigError(
                "the sweep has no search space: set sweep.params or give key=interval(...)"
            )
        return fixed, space

    def sweep(self, arguments: list[str]) -> Any:
        cfg, runs_dir, tracking = self._settings()
        fixed, space = self._split(arguments, cfg)
        self._validate_fixed(fixed)
        study = load_study(cfg, runs_dir)
        url = storage_url(cfg, runs_dir)
        log.info("study %r in %s: %d trials requested", cfg.study_name, redact(url), cfg.n_trials)
        if not has_heartbeats(study._storage):
            log.warning(
                "%s has no heartbeats: a worker that dies leaves its trial RUNNING, and a "
                "worker with nothing left to ask stops instead of waiting for other workers",
                redact(url),
            )
        tracker = open_tracker(tracking, runs_dir)  # the sweep's own run and dead workers' runs
        with held(), study_lock(study, url):  # one parent run, however many workers start
            open_parent_run(study, cfg, tracker)
        parent = tracker.run_id if tracker else None  # every trial's run is its child
        asked: list[optuna.Trial] = []  # this worker's trials not yet told
        ran = 0
        awaited, said_at = "", 0.0  # the RUNNING trials last reported waited for, and when
        try:
            while True:
                interrupts.check()  # a Ctrl-C that Python discarded during the last trial
                state, batch = self._next_batch(study, cfg, space, url, asked, tracker)
                if state in ("done", "leave"):
                    break
                if state == "run":
                    self._run_batch(study, cfg, fixed, batch, parent)
                    ran += len(batch)
                    asked.clear()
                    continue
                # others still run trials; one whose worker died comes back to be retried
                running = describe_running(study)
                if running != awaited or time.monotonic() - said_at > 600:
                    log.info(
                        "waiting for other workers: %s; a trial whose worker died is failed "
                        "and retried %d s after its last heartbeat",
                        running,
                        2 * cfg.heartbeat_seconds,
                    )
                    awaited, said_at = running, time.monotonic()
                time.sleep(cfg.heartbeat_seconds)
            if state == "done":
                if not ran:
                    log.warning("nothing to run: %s", standing(study, cfg))
                finish_parent_run(study, cfg, tracker, runs_dir)
            # "leave": other workers' trials run on; the last worker to finish ends the
            # parent run (it stays RUNNING until then)
        except BaseException as err:  # Ctrl-C, SIGTERM, a launcher error: the study stays sound
            with held():  # a second Ctrl-C must not cut this clean-up short
                abandon(study, asked, tracker, err)
            raise
        return study

    def _next_batch(
        self,
        study: optuna.Study,
        cfg: SweepConfig,
        space: dict[str, BaseDistribution],
        url: str,
        asked: list[optuna.Trial],
        tracker: MlflowTracker | None,
    ) -> tuple[str, list[optuna.Trial]]:
        """("run", new trials for this worker, also appended to `asked` the moment they exist),
        ("wait", []) for other workers' trials, ("done", []) when the study is done, or
        ("leave", []) when only other workers' trials run and none can be told dead (no
        heartbeats): this worker stops and leaves the parent run to them."""
        with held(), study_lock(study, url):
            dead = fail_stale_trials(study)
            counted, waiting, running = counted_trials(study)
            free = max(cfg.n_trials - counted, 0) + waiting
            batch = [study.ask(space) for _ in range(min(cfg.n_jobs, free))]
            asked.extend(batch)
            for trial in batch:  # which machine and process ran it, for whoever reads the study
                if has_heartbeats(study._storage):  # from now on, a dead worker's trial shows
                    study._storage.record_heartbeat(trial._trial_id)
                trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        if dead and tracker is not None:
            end_dead_runs(tracker, cfg.study_name, dead)
        if batch:
            return "run", batch
        if not running:
            return "done", []
        if has_heartbeats(study._storage):
            return "wait", []
        path = file_of(url)
        log.warning(
            "nothing left to ask, and not waiting for %s: %s has no heartbeats, so a dead "
            "worker's trial cannot be told from a running one. If its worker died, fail it by "
            "hand (it then counts toward sweep.n_trials): optuna tell --storage %s "
            "--study-name %s --trial-number N --state fail",
            describe_running(study),
            redact(url),
            path if path is not None else redact(url),
            cfg.study_name,
        )
        return "leave", []

    def _run_batch(
        self,
        study: optuna.Study,
        cfg: SweepConfig,
        fixed: list[str],
        batch: list[optuna.Trial],
        parent: str | None,
    ) -> None:
        jobs = []
        for trial in batch:
            sampled = [f"{k}={v}" for k, v in trial.params.items()]
            extra = [f"sweep.trial_id={trial._trial_id}"]
            if parent:
                extra.append(f"sweep.parent_run_id={parent}")
            jobs.append(fixed + sampled + extra)
        with Heartbeat(study._storage, [t._trial_id for t in batch], cfg.heartbeat_seconds):
            returns: Sequence[JobReturn] = self.launcher.launch(
                jobs, initial_job_idx=batch[0].number
            )
        for trial, ret in zip(batch, returns, strict=True):
            tell(study, cfg, trial, ret)


def open_tracker(tracking: TrackingConfig, runs_dir: str) -> MlflowTracker | None:
    """The sweep's one handle on the MLflow store (None when tracking is off)."""
    if not tracking.enabled:
        return None
    from audiostyle.tracking import MlflowTracker

    return MlflowTracker(tracking, Path(runs_dir), tracking.experiment)


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
        {"sweep.study": cfg.study_name, "sweep.role": "parent"},
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
    from audiostyle.sweep_plots import write_study_plots

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
    tracker.log_artifacts(out)
    tracker.end("FINISHED")

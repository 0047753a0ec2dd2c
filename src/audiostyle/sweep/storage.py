"""Where a study lives and how workers share it: the storage URL, the study lock,
loading with retries, heartbeats and stale trials, and the counts that decide when to stop.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy
from optuna.trial import TrialState

from audiostyle.config.schema import SweepConfig
from audiostyle.errors import AudiostyleError
from audiostyle.files import file_lock, sqlite_url
from audiostyle.interrupts import uninterrupted
from audiostyle.run.redact import redact
from audiostyle.sweep.sampling import TrialSeededSampler, make_pruner

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

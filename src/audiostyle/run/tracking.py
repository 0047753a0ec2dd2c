"""MLflow as a sink: one run per transfer, in one shared store, ended FINISHED, FAILED or KILLED.

Default store: `runs/mlflow.db` (SQLite) with artifacts under `runs/mlartifacts`, wherever
Hydra puts the run folder, so `mlflow ui --backend-store-uri sqlite:///runs/mlflow.db` sees every
run. `tracking.uri` points at a tracking server instead. Metrics are buffered and written in
batches so the step loop never waits on the database for long.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from enum import Enum
from pathlib import Path

from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from audiostyle.config.schema import TrackingConfig
from audiostyle.errors import AudiostyleError
from audiostyle.files import atomic_path, file_lock, sqlite_url
from audiostyle.interrupts import held, uninterrupted
from audiostyle.run.mlflow_conventions import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG
from audiostyle.run.redact import redact

log = logging.getLogger(__name__)

MAX_PARAM_LENGTH = 6000
FLUSH_EVERY = 200
REACH_TIMEOUT = 5.0  # seconds to wait for a tracking server to accept a connection


@contextlib.contextmanager
def redacted_copy(folder: Path) -> Iterator[Path]:
    """A temporary copy of a folder of text files with every URL password hidden: Hydra's
    config.yaml and overrides.yaml hold the command line, which may carry a database URL."""
    with tempfile.TemporaryDirectory() as tmp:
        for path in folder.iterdir():
            if path.is_file():
                text = path.read_text(errors="replace")
                (Path(tmp) / path.name).write_text(redact(text))
        yield Path(tmp)


def store_uri(cfg: TrackingConfig, runs_dir: Path) -> str:
    """tracking.uri, or the SQLite file under runs_dir (files.sqlite_url: no '%' or '?')."""
    return cfg.uri or sqlite_url(runs_dir / "mlflow.db", "MLflow store", "tracking.uri")


def check_reachable(uri: str, timeout: float = REACH_TIMEOUT) -> None:
    """A tracking server that does not answer fails now, in seconds, not after MLflow's
    HTTP retries (minutes) and not after the optimisation."""
    url = urllib.parse.urlsplit(uri)
    if url.scheme not in ("http", "https"):
        return
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "", port), timeout=timeout).close()
    except OSError as err:
        raise AudiostyleError(
            f"tracking server {redact(uri)} is not reachable ({err.strerror or err}); "
            "start it, fix tracking.uri, or use tracking=none"
        ) from None


def flatten(tree: object, prefix: str = "") -> dict[str, str]:
    """{'optim': {'lr': 0.1}} -> {'optim.lr': '0.1'}; lists and None become their text."""
    if isinstance(tree, dict):
        out: dict[str, str] = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    value = tree.value if isinstance(tree, Enum) else tree
    if isinstance(value, list):
        value = "[" + ", ".join(str(v.value if isinstance(v, Enum) else v) for v in value) + "]"
    return {prefix[:-1]: redact(str(value))[:MAX_PARAM_LENGTH]}


def git_commit(cwd: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@contextlib.contextmanager
def sqlite_init_lock(uri: str) -> Iterator[None]:
    """Serialise processes that open one SQLite store at once: MLflow's schema migration is
    not safe against a second process doing the same (parallel sweep workers)."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    with file_lock(Path(uri[len("sqlite:///") :] + ".lock")):
        yield


class MlflowTracker:
    """Listens to a run: parameters and tags at the start, metrics per step, artifacts at the end."""

    def __init__(self, cfg: TrackingConfig, runs_dir: Path, experiment: str):
        self.uri = store_uri(cfg, runs_dir)
        check_reachable(self.uri)
        try:
            with (
                held(),
                sqlite_init_lock(self.uri),
            ):  # opening the store creates or migrates its schema
                self.client = MlflowClient(tracking_uri=self.uri)
                self.client.search_experiments(max_results=1)
        except Exception as err:  # MLflow, SQLAlchemy and HTTP errors alike
            raise AudiostyleError(
                f"MLflow store {redact(self.uri)} is not usable: {redact(str(err))[:300]}"
            ) from None
        self.runs_dir = runs_dir
        self.experiment = experiment
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.system_metrics_seconds = cfg.system_metrics_seconds
        self._monitor = None  # mlflow's SystemMetricsMonitor while the run runs
        self._pending: list[Metric] = []

    def _experiment_id(self) -> str:
        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            if EXPERIMENT_KIND_TAG not in found.tags:  # made before audiostyle set it
                self._tag_experiment_kind(found.experiment_id)
            return found.experiment_id
        location = None
        if self.uri.startswith("sqlite:"):
            location = (self.runs_dir / "mlartifacts").resolve().as_uri()
        try:
            return self.client.create_experiment(
                self.experiment,
                artifact_location=location,
                tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND},
            )
        except MlflowException:  # another process created it first
            found = self.client.get_experiment_by_name(self.experiment)
            if found is None:
                raise
            return found.experiment_id

    def _tag_experiment_kind(self, experiment_id: str) -> None:
        """A UI hint, not worth failing a run for (a shared server may refuse the write)."""
        try:
            self.client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        except MlflowException as err:
            log.warning("could not tag experiment %s: %s", experiment_id, redact(str(err))[:300])

    @uninterrupted  # Ctrl-C inside a SQLite write would leave the store locked
    def start(self, run_name: str, params: dict[str, str], tags: dict[str, str]) -> str:
        try:
            exp_id = self.experiment_id = self._experiment_id()
            run = self.client.create_run(
                exp_id, run_name=run_name, tags={k: redact(v) for k, v in tags.items()}
            )
        except MlflowException as err:
            raise AudiostyleError(
                f"MLflow store {redact(self.uri)} is not usable: {redact(str(err))[:300]}"
            ) from None
        self.run_id = run.info.run_id
        items = [Param(k, v) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[i : i + 100])
        self._start_system_metrics()
        return self.run_id

    def _start_system_metrics(self) -> None:
        """CPU, memory, disk, network (and GPU where MLflow can read it) as system/* metrics,
        sampled in a thread; tracking.system_metrics_seconds=0 turns it off."""
        if self.system_metrics_seconds <= 0:
            return
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        logging.getLogger("mlflow.system_metrics").setLevel(logging.WARNING)  # no start banners
        self._monitor = SystemMetricsMonitor(
            self.run_id, sampling_interval=self.system_metrics_seconds, tracking_uri=self.uri
        )
        self._monitor.start()

    def _stop_system_metrics(self) -> None:
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            monitor.finish()  # wakes the thread, then writes its last samples

    @uninterrupted
    def log_inputs(self, datasets: list) -> None:
        """The run's dataset inputs (mlflow_conventions.clip_input); a store that refuses them
        (a server older than MLflow 2.4) is a warning: the run's results do not depend on them."""
        if not self.run_id:
            return
        try:
            self.client.log_inputs(self.run_id, datasets=datasets)
        except MlflowException as err:
            log.warning("could not log the run's input clips: %s", redact(str(err))[:300])

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        now = int(time.time() * 1000)
        self._pending += [Metric(k, float(v), now, step) for k, v in metrics.items()]
        if len(self._pending) >= FLUSH_EVERY:
            self.flush()

    @uninterrupted
    def flush(self) -> None:
        while self._pending and self.run_id:
            batch, self._pending = self._pending[:1000], self._pending[1000:]
            self.client.log_batch(self.run_id, metrics=batch)

    @uninterrupted
    def set_tags(self, tags: dict[str, str]) -> None:
        if self.run_id:
            self.client.log_batch(
                self.run_id, tags=[RunTag(k, redact(v)[:5000]) for k, v in tags.items()]
            )

    def write_table(self, rows: list[dict[str, object]], path: Path) -> None:
        """Rows as a table file in MLflow's table format, marked so that the UI's artifact view
        shows it as a table once the folder holding it is uploaded. Written whole each time
        (MLflow's log_table would append to a table a resumed sweep logged before)."""
        if not self.run_id or not rows:
            return
        columns = list(rows[0])
        data = [[row.get(k) for k in columns] for row in rows]
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps({"columns": columns, "data": data}))
        logged = [{"path": path.name, "type": "table"}]
        self.set_tags({"mlflow.loggedArtifacts": json.dumps(logged)})

    def log_artifacts(self, run_dir: Path) -> None:
        """Upload the run folder; an interrupt takes effect between items, never inside MLflow's
        store read that each upload starts with."""
        if self.run_id:
            for path in sorted(run_dir.iterdir()):
                with held():
                    if path.name.startswith("."):
                        if path.name == ".hydra" and path.is_dir():
                            with redacted_copy(path) as copy:
                                self.client.log_artifacts(self.run_id, str(copy), "hydra")
                    elif path.is_dir():
                        self.client.log_artifacts(self.run_id, str(path), path.name)
                    else:
                        self.client.log_artifact(self.run_id, str(path))

    @uninterrupted
    def fail_running(self, tags: dict[str, str], reason: str) -> int:
        """End as FAILED every RUNNING run with these tags; how many. For runs whose process
        died without ending them."""
        found = self.client.get_experiment_by_name(self.experiment)
        if found is None:
            return 0
        terms = [f"tags.`{k}` = '{v}'" for k, v in tags.items()] + ["attributes.status = 'RUNNING'"]
        runs = self.client.search_runs([found.experiment_id], filter_string=" AND ".join(terms))
        for run in runs:
            self.client.set_tag(run.info.run_id, "error", reason)
            self.client.set_terminated(run.info.run_id, status="FAILED")
        return len(runs)

    @uninterrupted
    def end(self, status: str) -> None:
        """status: FINISHED, FAILED or KILLED. Buffered metrics that cannot be written (database
        locked, server error) are a warning: the status must still be set."""
        if not self.run_id:
            return
        pending = len(self._pending)
        try:
            self.flush()
        except Exception as err:  # MLflow, SQLAlchemy and HTTP errors alike
            log.warning(
                "could not log the last %d metric value(s) to MLflow: %s",
                pending,
                redact(str(err))[:300],
            )
            self._pending.clear()
        self._stop_system_metrics()
        self.client.set_terminated(self.run_id, status=status)

"""Scale out for real: PostgreSQL as Optuna's storage, an MLflow tracking server, three workers.

Needs PostgreSQL's server binaries (Debian's `postgresql`) and the `scale` extra; `.ci/run`
installs both. Each worker gets its own runs_dir, as if on its own machine: the servers are
all they share.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from audiostyle.errors import ConfigError

from conftest import CONF, ROOT, wait_for_mlflow_run
from test_sweep import FAST, LONG_TRIALS

SCRIPT = ROOT / "scripts" / "local_cluster.sh"
N_TRIALS = 6


def read_env_file(path: Path) -> dict[str, str]:
    """`export KEY=VALUE` lines -> {KEY: VALUE}."""
    lines = path.read_text().splitlines()
    return dict(line.removeprefix("export ").split("=", 1) for line in lines if "=" in line)


@pytest.fixture
def cluster(tmp_path):
    """PostgreSQL and an MLflow server on loopback from scripts/local_cluster.sh, always stopped."""
    state = tmp_path / "cluster"
    env = {**os.environ, "PYTHON": sys.executable}
    try:
        started = subprocess.run(
            [SCRIPT, "start", state], env=env, capture_output=True, text=True, timeout=400
        )
        assert started.returncode == 0, started.stdout + started.stderr
        status = subprocess.run([SCRIPT, "status", state], env=env, capture_output=True, text=True)
        assert status.returncode == 0, status.stdout
        yield read_env_file(state / "env")
    finally:
        subprocess.run([SCRIPT, "stop", state], env=env, capture_output=True, timeout=300)
        outside = state / "pgdata.path"  # as root the data lives in a postgres-owned folder
        if outside.exists():
            shutil.rmtree(outside.read_text().strip(), ignore_errors=True)


def worker_env(cluster: dict[str, str]) -> dict[str, str]:
    """The servers as a user names them: the tracking URL, and the storage URL with its password
    (the harder case for secrecy; PGPASSWORD, the other way, is left out)."""
    storage = cluster["AUDIOSTYLE_OPTUNA_STORAGE"].replace(
        "audiostyle@", f"audiostyle:{cluster['PGPASSWORD']}@"
    )
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    return {
        **env,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "MLFLOW_TRACKING_URI": cluster["MLFLOW_TRACKING_URI"],
        "AUDIOSTYLE_OPTUNA_STORAGE": storage,
    }


def start_worker(env: dict[str, str], runs_dir: Path, *overrides: str) -> subprocess.Popen:
    runs_dir.mkdir(parents=True)
    cmd = [sys.executable, "run.py", "-m", *FAST, f"runs_dir={runs_dir}", *overrides]
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=open(runs_dir / "stdout.txt", "w"),  # noqa: SIM115 (closed with the process)
        stderr=open(runs_dir / "stderr.txt", "w"),  # noqa: SIM115
    )


def running_trial_of(study_name: str, url: str, pid: int, seconds: float):
    """The RUNNING trial that worker `pid` took, waiting up to `seconds` for it. One storage,
    so one connection pool, for all the polls: a pool per poll exhausts PostgreSQL's clients."""
    deadline = time.time() + seconds
    storage = None
    try:
        while time.time() < deadline:
            time.sleep(1)
            try:
                storage = storage or optuna.storages.RDBStorage(url)
                found = optuna.load_study(study_name=study_name, storage=storage).get_trials()
            except (KeyError, sqlalchemy.exc.SQLAlchemyError):  # no study, or tables, yet
                continue
            for trial in found:
                worker = trial.user_attrs.get("worker", "")
                if trial.state == TrialState.RUNNING and worker.endswith(f":{pid}"):
                    return trial
        return None
    finally:
        if storage is not None:
            storage.engine.dispose()


@pytest.mark.slow
def test_three_workers_share_postgresql_and_an_mlflow_server(cluster, tmp_path):
    env = worker_env(cluster)
    storage = env["AUDIOSTYLE_OPTUNA_STORAGE"]
    common = [
        "sweep=alpha_lr",
        "cluster=shared",
        "sweep.study_name=scale",
        f"sweep.n_trials={N_TRIALS}",
        "sweep.pruner=none",
        "sweep.heartbeat_seconds=2",
        *LONG_TRIALS,  # the same for all workers, as the study's settings digest requires
    ]
    began = time.perf_counter()
    victim = start_worker(env, tmp_path / "w0", *common)
    workers = [start_worker(env, tmp_path / f"w{i}", *common) for i in (1, 2)]
    try:
        killed = running_trial_of("scale", storage, victim.pid, seconds=300)
        assert killed is not None, "the victim never started a trial"
        wait_for_mlflow_run(cluster["MLFLOW_TRACKING_URI"], killed.number)
        victim.send_signal(signal.SIGKILL)  # no clean-up: only the missing heartbeat tells
        victim.wait(timeout=30)
        for worker in workers:
            assert worker.wait(timeout=600) == 0, (worker.args, worker_stderr(worker))
    finally:
        for proc in [victim, *workers]:
            if proc.poll() is None:
                proc.kill()
    wall = time.perf_counter() - began
    print(f"\nscale-out sweep, {N_TRIALS} trials, 3 workers (one killed): {wall:.1f} s wall")

    assert optuna.get_all_study_names(storage) == ["scale"]
    done = optuna.load_study(study_name="scale", storage=storage).get_trials()
    numbers = [t.number for t in done]
    assert len(numbers) == len(set(numbers))
    complete = [t for t in done if t.state == TrialState.COMPLETE]
    assert len(complete) == N_TRIALS  # exactly: workers count and ask under one lock
    assert not [t for t in done if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    (failed,) = [t for t in done if t.state == TrialState.FAIL]
    assert failed.number == killed.number  # the dead worker's trial, failed by its heartbeat
    (retry,) = [t for t in done if t.system_attrs.get("failed_trial") == killed.number]
    assert retry.state == TrialState.COMPLETE and retry.params == killed.params

    client = MlflowClient(cluster["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("audiostyle")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    (parent,) = [r for r in runs if r.data.tags.get("sweep.role") == "parent"]
    finished = [
        r
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
        and r.info.status == "FINISHED"
    ]
    trial_tags = sorted(int(r.data.tags["sweep.trial"]) for r in finished)
    assert trial_tags == sorted(t.number for t in complete)  # one run per trial, none twice
    assert not [r for r in runs if r.info.status == "RUNNING"]
    (dead,) = [r for r in runs if r.data.tags.get("sweep.trial") == str(killed.number)]
    assert dead.info.status == "FAILED"  # ended by the worker that failed its trial
    assert "heartbeat" in dead.data.tags["error"]
    for run in finished:
        names = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"generated.wav", "summary.json", "hydra"} <= names, names
    wav = client.download_artifacts(finished[0].info.run_id, "generated.wav", str(tmp_path))
    assert Path(wav).stat().st_size > 1000  # served back by the server from its store

    secret = cluster["PGPASSWORD"]
    for run in runs:
        assert secret not in repr(run.data.params) + repr(run.data.tags)
    hydra_dir = client.download_artifacts(finished[0].info.run_id, "hydra", str(tmp_path))
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "cluster" not in p.parts]
    written += list(Path(hydra_dir).iterdir())
    assert written and not [p for p in written if secret in p.read_text(errors="replace")]


def worker_stderr(worker: subprocess.Popen) -> str:
    runs_dir = next(a for a in worker.args if a.startswith("runs_dir=")).split("=", 1)[1]
    return (Path(runs_dir) / "stderr.txt").read_text()[-3000:]


@pytest.mark.slow  # needs the `scale` extra's launcher plugins
def test_launcher_options_compose(monkeypatch):
    """The joblib and SLURM launchers are config options; cluster=shared reads the environment."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    monkeypatch.setenv("AUDIOSTYLE_OPTUNA_STORAGE", "postgresql+psycopg://u@db.example/optuna")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        slurm = compose(
            "config",
            ["sweep=alpha_lr", "cluster=shared", "hydra/launcher=slurm"],
            return_hydra_config=True,
        )
        joblib = compose("config", ["hydra/launcher=joblib"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    assert slurm.hydra.launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert slurm.hydra.launcher.gpus_per_node == 1
    assert slurm.tracking.uri == "http://127.0.0.1:5000"
    assert slurm.sweep.storage == "postgresql+psycopg://u@db.example/optuna"
    assert joblib.hydra.launcher._target_.endswith("joblib_launcher.JoblibLauncher")


def test_server_tracking_without_its_variable_is_a_config_error(compose_config, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(ConfigError, match="tracking.uri: .*MLFLOW_TRACKING_URI"):
        compose_config("tracking=server")

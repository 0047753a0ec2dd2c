"""MLflow's conventions without a transfer: digests, tags, URLs, the experiment's kind."""

import subprocess
import time

import numpy as np
from mlflow.tracking import MlflowClient

from audiostyle.clips.inputs import clip_digest
from audiostyle.config.schema import TrackingConfig
from audiostyle.run.mlflow_conventions import (
    EXPERIMENT_KIND,
    EXPERIMENT_KIND_TAG,
    note,
    run_tags,
    runs_table_url,
    ui_command,
)
from audiostyle.run.tracking import MlflowTracker

from conftest import ROOT


def test_a_clip_digest_names_the_samples_and_the_rate():
    x = np.linspace(-0.5, 0.5, 1024, dtype=np.float32)
    assert clip_digest(x, 16000) == clip_digest(x.copy(), 16000)
    assert clip_digest(x, 16000) != clip_digest(x, 22050)
    y = x.copy()
    y[100] += 1e-6  # one sample, barely
    assert clip_digest(x, 16000) != clip_digest(y, 16000)
    assert len(clip_digest(x, 16000)) <= 36  # MLflow's column


def test_run_tags_name_the_source_and_the_command():
    tags = run_tags("run.py alpha=1")
    assert tags["mlflow.note.content"] == "```\npython run.py alpha=1\n```"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode == 0:  # a git checkout
        assert tags["mlflow.source.git.commit"] == head.stdout.strip()
    assert note("python -m x") == "```\npython -m x\n```"


def test_the_url_opens_the_runs_table_of_a_local_store_or_a_server():
    assert runs_table_url("sqlite:////r/mlflow.db", "3") == (
        "http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning"
    )
    assert runs_table_url("http://host:5001/", "3").startswith("http://host:5001/#/experiments/3/")
    assert (
        ui_command("sqlite:////r/mlflow.db")
        == "mlflow ui --backend-store-uri sqlite:////r/mlflow.db"
    )
    assert ui_command("http://host:5001") is None


def test_an_experiment_made_before_gets_its_kind_and_one_made_now_has_it(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    old = client.create_experiment("older")
    for name in ("older", "newer"):
        tracker = MlflowTracker(TrackingConfig(system_metrics_seconds=0), tmp_path, name)
        tracker.start("r", {}, {})
        tracker.end("FINISHED")
        tags = client.get_experiment_by_name(name).tags
        assert tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND, name
    assert client.get_experiment(old).tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND


def test_system_metrics_are_sampled_while_a_run_runs_and_can_be_turned_off(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    for seconds in (0.2, 0.0):
        tracker = MlflowTracker(TrackingConfig(system_metrics_seconds=seconds), tmp_path, "e")
        run_id = tracker.start(f"every {seconds}", {}, {})
        time.sleep(1.5)
        tracker.end("FINISHED")
        metrics = client.get_run(run_id).data.metrics
        sampled = [k for k in metrics if k.startswith("system/")]
        if seconds:
            assert "system/cpu_utilization_percentage" in sampled
            assert len(client.get_metric_history(run_id, "system/cpu_utilization_percentage")) >= 2
        else:
            assert not sampled

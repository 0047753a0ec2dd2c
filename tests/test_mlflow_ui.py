"""A real `mlflow server` on loopback, on a store of three tiny runs made by `python run.py`.

Its REST API shows MLflow's conventions (experiment kind, source and note tags, the clips as
dataset inputs with digests); headless Chromium, from a fresh profile, opens the URL a run prints
and must see the runs table with the three runs (not the GenAI overview), and a run's artifacts.

MLflow 3.17's runs table shows no parameter or metric column from a fresh profile (Source, Models,
Dataset; the rest is behind "Columns"), and no URL parameter selects columns (the URL holds only
the search, sort and date facets). A saved view does: an experiment tag that any browser loads
from `?viewStateShareKey=`, so the table with alpha and eval/* is checked through one. The loss
curves of two runs are on the metric page that compare-runs links each metric name to.
"""

from __future__ import annotations

import html
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import CHROMIUM, ROOT, needs_chromium

ALPHAS = ("0.1", "1", "10")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_run(runs_dir: Path, alpha: str) -> str:
    """One run as a user starts it; returns its stdout."""
    done = subprocess.run(
        [
            sys.executable,
            "run.py",
            "optim.steps=2",
            "audio.duration=0.25",
            "runtime.xla=false",
            f"alpha={alpha}",
            f"runs_dir={runs_dir}",
            "tracking.system_metrics_seconds=1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def wait_healthy(base: str, server: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert server.poll() is None, "mlflow server exited"
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"mlflow server at {base} never became healthy")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base URL, stdout of each run, runs_dir): three runs, then `mlflow server` on them."""
    runs_dir = tmp_path_factory.mktemp("ui") / "runs"
    outputs = [tiny_run(runs_dir, alpha) for alpha in ALPHAS]
    port = free_port()
    log = open(runs_dir / "server.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{runs_dir / 'mlflow.db'}",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its uvicorn workers go with it
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, server)
        yield base, outputs, runs_dir
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def api(base: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}/api/2.0/mlflow/{path}", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.loads(reply.read())


def experiment(base: str) -> dict:
    query = urllib.parse.urlencode({"experiment_name": "audiostyle"})
    return api(base, f"experiments/get-by-name?{query}")["experiment"]


def search(base: str, experiment_id: str, filter_string: str = "") -> list[dict]:
    body = {"experiment_ids": [experiment_id], "filter": filter_string, "max_results": 100}
    return api(base, "runs/search", body).get("runs", [])


def tags_of(item: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in item.get("tags", [])}


def test_the_store_follows_mlflows_conventions(served):
    base, _, _ = served
    exp = experiment(base)
    assert tags_of(exp)["mlflow.experimentKind"] == "custom_model_development"
    runs = search(base, exp["experiment_id"])
    assert len(runs) == len(ALPHAS)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    notes = []
    for r in runs:
        tags = tags_of(r["data"])
        assert tags["mlflow.source.name"] == str(ROOT / "run.py")
        if head.returncode == 0:
            assert tags["mlflow.source.git.commit"] == head.stdout.strip()
        notes.append(tags["mlflow.note.content"])
        metrics = {m["key"] for m in r["data"]["metrics"]}
        assert "output/gain_db" in metrics and "system/cpu_utilization_percentage" in metrics
        inputs = r["inputs"]["dataset_inputs"]
        contexts = {tags_of(i)["mlflow.data.context"]: i["dataset"] for i in inputs}
        assert contexts["content"]["name"] == "example:speech"
        assert contexts["style"]["name"] == "example:flute"
        assert all(re.fullmatch(r"[0-9a-f]{16}", d["digest"]) for d in contexts.values())
    for alpha in ALPHAS:  # the command line as the description
        assert (
            sum("python run.py optim.steps=2 " in n and f" alpha={alpha} " in n for n in notes) == 1
        )
    digest = contexts["content"]["digest"]
    same_clip = search(base, exp["experiment_id"], f"datasets.digest = '{digest}'")
    assert len(same_clip) == len(ALPHAS)  # runs on the same x_C are found by its digest
    assert digest != contexts["style"]["digest"]


def test_each_run_ends_with_the_runs_table_url_and_the_ui_command(served):
    base, outputs, runs_dir = served
    exp_id = experiment(base)["experiment_id"]
    for out in outputs:
        last = out.strip().splitlines()[-1]
        assert last.endswith(
            f"compare runs: mlflow ui --backend-store-uri sqlite:///{runs_dir.resolve() / 'mlflow.db'}, "
            f"then open http://127.0.0.1:5000/#/experiments/{exp_id}/runs?workflowType=machine_learning"
        ), last


def page_dom(url: str, profile: Path) -> str:
    """The DOM headless Chromium builds at `url`, from a fresh profile."""
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1920,1080",  # the grids draw only the columns and rows in view
            "--virtual-time-budget=30000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def text_of(dom: str) -> str:
    """A DOM's visible text, on one line."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.DOTALL)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))


def page_text(url: str, profile: Path) -> str:
    """What headless Chromium shows at `url`, from a fresh profile: the page's text."""
    return text_of(page_dom(url, profile))


@pytest.mark.slow
@needs_chromium()
def test_the_printed_url_opens_the_runs_table_in_a_fresh_browser(served, tmp_path):
    base, outputs, _ = served
    printed = re.search(r"then open (http://\S+)", outputs[-1]).group(1)
    url = printed.replace("http://127.0.0.1:5000", base)  # the test's server, not the default port
    text = page_text(url, tmp_path / "fresh-profile")
    runs = search(base, experiment(base)["experiment_id"])
    names = [r["info"]["run_name"] for r in runs]
    assert all(name in text for name in names), text[-3000:]
    assert f"{len(names)} matching runs" in text, text[-3000:]
    assert "Token Usage" not in text and "Observability" not in text  # not the GenAI overview

    run_id = runs[0]["info"]["run_id"]
    exp_id = runs[0]["info"]["experiment_id"]
    artifacts = (
        f"{base}/#/experiments/{exp_id}/runs/{run_id}/artifacts?workflowType=machine_learning"
    )
    text = page_text(artifacts, tmp_path / "fresh-profile-2")
    assert "generated.wav" in text and "report.html" in text, text[-3000:]


def runs_by_alpha(base: str) -> dict[str, dict]:
    """The fixture's runs, keyed by the alpha given on the command line."""
    runs = search(base, experiment(base)["experiment_id"])
    by_alpha = {}
    for r in runs:
        params = {p["key"]: p["value"] for p in r["data"]["params"]}
        by_alpha[str(float(params["alpha"]))] = r
    assert set(by_alpha) == {str(float(a)) for a in ALPHAS}
    return by_alpha


def js_number(value: float) -> str:
    """How the browser writes a number (JavaScript's String(x)) for the cells compared here."""
    return str(int(value)) if value.is_integer() else repr(value)


def save_view(base: str, exp_id: str, key: str, name: str, columns: list[str]) -> None:
    """A saved view, stored as MLflow's "Views > Save as new view" stores it: an experiment tag."""
    envelope = {
        "name": name,
        "createdAt": int(time.time() * 1000),
        "state": json.dumps({"selectedColumns": columns}),
    }
    tag = {"experiment_id": exp_id, "key": f"mlflow.sharedViewState.{key}"}
    api(base, "experiments/set-experiment-tag", {**tag, "value": json.dumps(envelope)})


@pytest.mark.slow
@needs_chromium()
def test_a_saved_view_shows_each_runs_alpha_and_eval_metrics_in_the_runs_table(served, tmp_path):
    base, _, _ = served
    exp_id = experiment(base)["experiment_id"]
    metrics = ["eval/transfer_score", "eval/style_distance"]
    columns = ["params.`alpha`", *(f"metrics.`{m}`" for m in metrics)]
    save_view(base, exp_id, "alpha-eval", "alpha and eval", columns)
    url = f"{base}/#/experiments/{exp_id}/runs?viewStateShareKey=alpha-eval&workflowType=machine_learning"
    text = page_text(url, tmp_path / "fresh-profile")
    assert "alpha and eval" in text and "viewing a shared view" in text, text[-3000:]
    header = re.search(r"Run Name Created (.*?) Hide run", text)
    assert header, text[-3000:]
    assert {"Parameters", "Metrics", "alpha", *metrics} <= set(header.group(1).split()), (
        header.group(1)
    )
    cells = text[header.end() : text.index("matching runs")]
    for alpha, run in runs_by_alpha(base).items():
        assert run["info"]["run_name"] in text, text[-3000:]
        assert re.search(rf"(?<![\d.]){re.escape(alpha)}(?![\d.])", cells), (alpha, cells)
        values = {m["key"]: m["value"] for m in run["data"]["metrics"]}
        assert all(js_number(values[m]) in cells for m in metrics), (values, cells)


def metric_page(base: str, run_ids: list[str], exp_id: str, key: str) -> str:
    """The metric page that compare-runs links a metric name to (MLflow's getMetricPageRoute)."""
    quoted = urllib.parse.quote(json.dumps(key), safe="")
    keys = urllib.parse.quote(json.dumps([key]), safe="")
    return (
        f"{base}/#/metric?runs={json.dumps(run_ids, separators=(',', ':'))}&metric={quoted}"
        f'&experiments=["{exp_id}"]&plot_metric_keys={keys}&plot_layout={{}}&x_axis=step'
        "&y_axis_scale=linear&line_smoothness=1&show_point=false&deselected_curves=[]"
        "&last_linear_y_axis_range=[]"
    )


@pytest.mark.slow
@needs_chromium()
def test_comparing_two_runs_shows_their_alpha_and_loss_curves(served, tmp_path):
    base, _, _ = served
    by_alpha = runs_by_alpha(base)
    low, high = by_alpha["0.1"], by_alpha["10.0"]
    ids = [low["info"]["run_id"], high["info"]["run_id"]]
    names = [low["info"]["run_name"], high["info"]["run_name"]]
    exp_id = low["info"]["experiment_id"]
    runs, exps = json.dumps(ids), json.dumps([exp_id])
    compare = f"{base}/#/compare-runs?runs={urllib.parse.quote(runs)}&experiments={urllib.parse.quote(exps)}"
    dom = page_dom(compare, tmp_path / "fresh-profile")
    text = text_of(dom)
    assert "Comparing 2 Runs from 1 Experiment" in text, text[-3000:]
    assert f"Run Name: {names[0]} {names[1]}" in text, text[-3000:]
    assert "Parameters Show diff only alpha 0.1 10.0 " in text, text[-3000:]
    assert "Metrics Show diff only eval/" in text, text[-3000:]
    link = metric_page(base, ids, exp_id, "eval/content_distance").removeprefix(base + "/")
    assert f'href="{html.escape(link)}"' in dom  # each metric name links to its metric page

    for key in ("loss/total", "loss/style"):  # logged at every step by the runner
        text = page_text(metric_page(base, ids, exp_id, key), tmp_path / f"fresh-{key[5:]}")
        assert f"Comparing 2 Runs from 1 Experiment {key} Completed Runs 2/2" in text, text[-3000:]
        assert all(f"{name} ({key})" in text for name in names), text[-3000:]  # the legend
        table = text[text.index(f"{key} Run Latest Min Max") :]
        for name in names:  # each run's row: latest at the last step, min and max over a curve
            step = r"\S+ \(step=(\d+)\)"
            row = re.search(rf"{re.escape(name)} {step} {step} {step}", table)
            assert row and row.group(1) == "2", table[:2000]
            assert len(set(row.groups())) > 1, row.group(0)  # not one point: a value per step

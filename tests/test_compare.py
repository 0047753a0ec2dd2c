"""audiostyle-compare --top K ranks only runs that have the metric."""

import math

from mlflow.tracking import MlflowClient

from audiostyle.commands import compare


def test_top_k_skips_runs_without_the_metric(tmp_path, capsys):
    """A sweep's parent run has no eval metrics; it must not fill a place in the top K."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("e", artifact_location=str(tmp_path / "artifacts"))
    for score in (0.5, None, 0.2, None, -math.inf):  # MLflow stores -inf as -1.797e308
        run = client.create_run(experiment)
        if score is not None:
            client.log_metric(run.info.run_id, "eval/score", score)
        client.set_terminated(run.info.run_id)
    args = ["--experiment", "e", "--metric", "eval/score", "--tracking-uri", uri]
    runs = compare.select_runs(client, compare.parse_args([*args, "--top", "3"]))
    scores = [r.data.metrics["eval/score"] for r in runs]
    assert scores[0] < -1e307 and scores[1:] == [0.2, 0.5]
    missing = ["--experiment", "e", "--metric", "eval/nothing", "--tracking-uri", uri]
    assert compare.main([*missing, "--out", str(tmp_path / "c.html")]) == 2
    assert "no finished runs with metric 'eval/nothing'" in capsys.readouterr().err


def test_a_missing_store_or_a_folder_as_out_fails_before_any_work(tmp_path, capsys):
    missing = f"sqlite:///{tmp_path / 'typo.db'}"
    args = ["--experiment", "e", "--tracking-uri", missing, "--out", str(tmp_path / "c.html")]
    assert compare.main(args) == 2
    assert "no MLflow store there" in capsys.readouterr().err
    assert not (tmp_path / "typo.db").exists()  # MLflow would have created an empty store
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(uri).create_experiment("e", artifact_location=str(tmp_path / "artifacts"))
    folder = tmp_path / "pages"
    folder.mkdir()
    assert compare.main(["--experiment", "e", "--tracking-uri", uri, "--out", str(folder)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert compare.main(["--tracking-uri", uri, "--out", str(tmp_path / "c.html")]) == 2
    assert "audiostyle-compare: error: give run ids" in capsys.readouterr().err

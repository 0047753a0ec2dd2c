"""`audiostyle-compare`: chosen MLflow runs side by side on one self-contained page.

Runs are given by id, or as the top K of an experiment ranked by a metric. The page shows, per
run, the generated audio with its spectrogram, the parameters that differ between the runs, and
their metrics; audio and images are embedded, so the page works anywhere, the MLflow UI included.
"""

from __future__ import annotations

import argparse
import html
import sys
import tempfile
from pathlib import Path

from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from audiostyle.errors import AudiostyleError, ConfigError
from audiostyle.files import atomic_path, check_output_file, storage_errors
from audiostyle.run.report import audio_tag, fmt, image_tag, page


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="audiostyle-compare", description=__doc__.splitlines()[0])
    p.add_argument("run_ids", nargs="*", help="MLflow run ids")
    p.add_argument("--experiment", help="rank the runs of this experiment instead of naming ids")
    p.add_argument("--metric", default="eval/style_distance", help="metric to rank by")
    p.add_argument("--top", type=int, default=5, help="how many runs to take (with --experiment)")
    p.add_argument("--descending", action="store_true", help="rank highest first (default: lowest)")
    p.add_argument("--tracking-uri", default="sqlite:///runs/mlflow.db", help="MLflow store")
    p.add_argument("--out", type=Path, default=Path("runs/compare.html"))
    return p.parse_args(argv)


def select_runs(client: MlflowClient, args: argparse.Namespace) -> list[Run]:
    if args.run_ids:
        return [client.get_run(r) for r in args.run_ids]
    if not args.experiment:
        raise ConfigError("give run ids, or --experiment NAME (with --metric and --top)")
    exp = client.get_experiment_by_name(args.experiment)
    if exp is None:
        raise ConfigError(f"no experiment named {args.experiment!r} in {args.tracking_uri}")
    order = "DESC" if args.descending else "ASC"
    # only runs that have the metric: a sweep's parent run has none, and would fill the top K
    has_metric = f"metrics.`{args.metric}` >= -1.7976931348623157e308"  # MLflow's -inf
    return client.search_runs(
        [exp.experiment_id],
        filter_string=f"attributes.status = 'FINISHED' and {has_metric}",
        order_by=[f"metrics.`{args.metric}` {order}"],
        max_results=args.top,
    )


def differing_params(runs: list[Run]) -> list[str]:
    keys = sorted({k for r in runs for k in r.data.params})
    return [k for k in keys if len({r.data.params.get(k) for r in runs}) > 1]


def run_column(client: MlflowClient, run: Run, tmp: Path) -> str:
    rid = run.info.run_id
    local = Path(client.download_artifacts(rid, "", str(tmp / rid)))
    parts = [f"<h3>{html.escape(run.info.run_name or rid)}</h3><code>{rid}</code><br>"]
    wav, png = local / "generated.wav", local / "spectrograms" / "generated.png"
    parts.append(audio_tag(wav) if wav.exists() else "<p>no generated.wav</p>")
    if png.exists():
        parts.append("<br>" + image_tag(png, f"spectrogram of {rid}"))
    return '<div class="clip">' + "".join(parts) + "</div>"


def comparison_table(runs: list[Run], rows: list[str], source: str) -> str:
    head = "".join(f"<th>{html.escape(r.info.run_name or r.info.run_id)}</th>" for r in runs)
    body = ""
    for key in rows:
        values = [getattr(r.data, source).get(key, "") for r in runs]
        body += (
            f"<tr><td>{html.escape(key)}</td>"
            + "".join(f"<td>{html.escape(fmt(v))}</td>" for v in values)
            + "</tr>"
        )
    return f"<table><tr><th></th>{head}</tr>{body}</table>"


def write_comparison(client: MlflowClient, runs: list[Run], out: Path) -> Path:
    metrics = sorted(
        {k for r in runs for k in r.data.metrics if k.startswith(("eval/", "loss/", "time/"))}
    )
    judges = [k for k in metrics if k.startswith("eval/judge/")]  # first: the verdict
    metrics = [k for k in metrics if k not in judges]
    with tempfile.TemporaryDirectory() as tmp:
        columns = "".join(run_column(client, r, Path(tmp)) for r in runs)
    body = (
        f'<h2>Audio</h2><div class="clips">{columns}</div>'
        + "<h2>Judges (no loss optimises them)</h2>"
        + comparison_table(runs, judges, "metrics")
        + "<h2>Parameters that differ</h2>"
        + comparison_table(runs, differing_params(runs), "params")
        + "<h2>Diagnostics and losses</h2>"
        + comparison_table(runs, metrics, "metrics")
    )
    with storage_errors(), atomic_path(out) as tmp:
        tmp.write_text(page(f"audiostyle: {len(runs)} runs compared", body), encoding="utf-8")
    return out


def check_arguments(args: argparse.Namespace) -> None:
    """The store exists and the page can be written, before any run is read or downloaded
    (MLflow would create an empty SQLite store at a mistyped path)."""
    uri = args.tracking_uri
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///") :]).is_file():
        raise ConfigError(f"--tracking-uri {uri}: no MLflow store there")
    check_output_file(args.out, "--out", ".html")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        check_arguments(args)
        client = MlflowClient(tracking_uri=args.tracking_uri)
        runs = select_runs(client, args)
        if not runs:
            what = "" if args.run_ids else f" with metric {args.metric!r}"
            raise ConfigError(f"no finished runs{what} to compare")
        out = write_comparison(client, runs, args.out)
    except MlflowException as err:
        print(f"audiostyle-compare: error: {err.message}", file=sys.stderr)
        return 2
    except AudiostyleError as err:
        print(f"audiostyle-compare: error: {err}", file=sys.stderr)
        return err.exit_code
    print(f"wrote {out} ({len(runs)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

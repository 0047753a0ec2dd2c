"""A self-contained HTML page per run, read in ten seconds: x_G, x_C, x_S and the mix to play and
see first, then one verdict table (the judges' rows; x_G beside x_C, x_S and the mix), then the
snapshots, what the run optimised and measured (diagnostics, grouped), the loss curves, the
choices and parameters.

Audio and images are embedded as base64 data URIs: the MLflow UI shows HTML artifacts in a
sandboxed iframe where relative links do not resolve.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from audiostyle.files import atomic_path

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:.9em}
.clips{display:flex;flex-wrap:wrap;gap:1em}
.clip{border:1px solid #ddd;padding:.5em;border-radius:6px}
.verdict td:first-child{font-weight:600}
img{max-width:100%}
"""


def data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def audio_tag(path: Path) -> str:
    return f'<audio controls preload="auto" src="{data_uri(path, "audio/wav")}"></audio>'


def image_tag(path: Path, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="{data_uri(path, "image/png")}">'


def table(rows: dict[str, object], header: tuple[str, str] = ("key", "value")) -> str:
    body = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(fmt(v))}</td></tr>"
        for k, v in rows.items()
    )
    return f"<table><tr><th>{header[0]}</th><th>{header[1]}</th></tr>{body}</table>"


def fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def clip_block(title: str, wav: Path, png: Path | None) -> str:
    picture = image_tag(png, title) if png is not None and png.exists() else ""
    return f'<div class="clip"><h4>{html.escape(title)}</h4>{audio_tag(wav)}<br>{picture}</div>'


def page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


# The judges' rows: (label, the metric's name under eval/judge/<clip's prefix>)
JUDGE_ROWS = [
    ("the tagger hears a voice (probability)", "voice"),
    ("the tagger hears x_S's instrument (probability)", "instrument"),
    ("toward x_S in the tagger's embedding (cos to x_S - cos to x_C)", "toward_style"),
    ("where it sits from x_C (0) to x_S (1) in that embedding", "instrument_share"),
    ("word error rate against x_C's words", "wer"),
    ("share of x_C's words kept", "words_kept"),
    ("score: harmonic mean of the two shares (sweep=alpha_lr maximises it)", "score"),
]
COLUMNS = [("x_G", ""), ("x_C", "ref_content/"), ("x_S", "ref_style/"), ("mix", "ref_mix/")]


def verdict_table(metrics: dict[str, float], notes: dict[str, str]) -> str:
    """One row per judge, one column per clip; a judge the run left out says why."""
    head = "".join(f"<th>{name}</th>" for name, _ in COLUMNS)
    rows = ""
    for label, key in JUDGE_ROWS:
        cells = [metrics.get(f"eval/judge/{ref}{key}") for _, ref in COLUMNS]
        if all(c is None for c in cells):
            continue
        rows += f"<tr><td>{html.escape(label)}</td>" + "".join(
            f"<td>{'' if c is None else html.escape(fmt(c))}</td>" for c in cells
        )
        rows += "</tr>"
    extra = "".join(
        f"<tr><td>{html.escape(k)}</td><td colspan={len(COLUMNS)}>{html.escape(v)}</td></tr>"
        for k, v in notes.items()
    )
    if not rows and not extra:
        return "<p>No judge ran (judge.tagger=false judge.speech=false).</p>"
    return f'<table class="verdict"><tr><th>judge</th>{head}</tr>{rows}{extra}</table>'


def grouped(metrics: dict[str, float]) -> str:
    """The other figures, a table per group (eval/pitch, eval/ref_mix, loss, time, ...)."""
    groups: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        if key.startswith("eval/judge/"):
            continue
        parts = key.split("/")
        group = "/".join(parts[:2]) if parts[0] == "eval" and len(parts) > 2 else parts[0]
        groups.setdefault(group, {})[key] = value
    return "".join(
        f"<h3>{html.escape(g)}</h3>" + table(rows, ("metric", "value"))
        for g, rows in sorted(groups.items())
    )


def write_run_report(
    run_dir: Path,
    title: str,
    choices: dict[str, str],
    params: dict[str, object],
    metrics: dict[str, float],
    snapshots: list[int],
    judge_notes: dict[str, str] | None = None,
) -> Path:
    """report.html in run_dir, built from the files the run wrote there."""
    spec = run_dir / "spectrograms"
    clips = [
        clip_block("x_G final", run_dir / "generated.wav", spec / "generated.png"),
        clip_block("content x_C", run_dir / "inputs" / "content.wav", spec / "content.png"),
        clip_block("style x_S", run_dir / "inputs" / "style.wav", spec / "style.png"),
    ]
    mix = run_dir / "inputs" / "mix.wav"
    if mix.exists():
        clips.append(clip_block("the mix (x_C + x_S) / 2", mix, None))
    steps = []
    for i in snapshots:
        wav = run_dir / "snapshots" / f"iter_{i:04d}.wav"
        if wav.exists():
            steps.append(clip_block(f"x_G at iteration {i}", wav, spec / f"iter_{i:04d}.png"))
    curves = run_dir / "loss_curves.png"
    body = (
        '<div class="clips">'
        + "".join(clips)
        + "</div>"
        + "<h2>Verdict: the judges (no loss of this run optimises them)</h2>"
        + verdict_table(metrics, judge_notes or {})
        + ('<h2>x_G over the steps</h2><div class="clips">' + "".join(steps) + "</div>")
        + "<h2>Diagnostics: what the run optimised and measured</h2>"
        + "<p>Some share definitions with the run's loss terms (harmonic distance, flatness, the"
        + " loss curve): they say what the optimisation did, not whether the transfer worked.</p>"
        + grouped(metrics)
        + "<h2>Losses</h2>"
        + (image_tag(curves, "loss curves") if curves.exists() else "")
        + "<h2>Choices</h2>"
        + table(choices, ("group", "option"))
        + "<h2>Parameters</h2>"
        + table(params)
    )
    out = run_dir / "report.html"
    with atomic_path(out) as tmp:
        tmp.write_text(page(title, body), encoding="utf-8")
    return out

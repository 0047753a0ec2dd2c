"""A self-contained HTML page per run: choices, metrics, players and spectrograms, loss curves.

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


def write_run_report(
    run_dir: Path,
    title: str,
    choices: dict[str, str],
    params: dict[str, object],
    metrics: dict[str, float],
    snapshots: list[int],
) -> Path:
    """report.html in run_dir, built from the files the run wrote there."""
    spec = run_dir / "spectrograms"
    clips = [
        clip_block("content x_C", run_dir / "inputs" / "content.wav", spec / "content.png"),
        clip_block("style x_S", run_dir / "inputs" / "style.wav", spec / "style.png"),
    ]
    for i in snapshots:
        wav = run_dir / "snapshots" / f"iter_{i:04d}.wav"
        if wav.exists():
            clips.append(clip_block(f"x_G at iteration {i}", wav, spec / f"iter_{i:04d}.png"))
    clips.append(clip_block("x_G final", run_dir / "generated.wav", spec / "generated.png"))
    curves = run_dir / "loss_curves.png"
    body = (
        "<h2>Choices</h2>"
        + table(choices, ("group", "option"))
        + "<h2>Evaluation</h2>"
        + table(metrics, ("metric", "value"))
        + '<h2>Audio</h2><div class="clips">'
        + "".join(clips)
        + "</div>"
        + "<h2>Losses</h2>"
        + (image_tag(curves, "loss curves") if curves.exists() else "")
        + "<h2>Parameters</h2>"
        + table(params)
    )
    out = run_dir / "report.html"
    with atomic_path(out) as tmp:
        tmp.write_text(page(title, body), encoding="utf-8")
    return out

"""Every judge a run asks, on x_G beside x_C, x_S and their plain mix.

Metric names: x_G's figure is `eval/judge/<name>`; the references' are
`eval/judge/ref_content/<name>`, `eval/judge/ref_style/<name>` and `eval/judge/ref_mix/<name>`,
as metrics.py names its own references, so the MLflow runs table sorts runs by x_G's figure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from audiostyle.config.schema import JudgeConfig

log = logging.getLogger(__name__)

PREFIXES = {"generated": "", "content": "ref_content/", "style": "ref_style/", "mix": "ref_mix/"}
TAGGER_NETWORK = "MTT_musicnn"


@dataclass
class Verdict:
    metrics: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # what a person reads beside the figures


def mix_of(content: np.ndarray, style: np.ndarray) -> np.ndarray:
    """The plain mix, 0.5 (x_C + x_S): the baseline a transfer must beat on every judge."""
    return (0.5 * (content + style)).astype(np.float32)


def judge(
    cfg: JudgeConfig,
    generated: np.ndarray,
    content: np.ndarray,
    style: np.ndarray,
    rate: int,
    loss_networks: set[str],
) -> Verdict:
    """The judges `cfg` asks for; one whose network serves in this run's loss is left out."""
    verdict = Verdict()
    mix = mix_of(content, style)
    if cfg.tagger and TAGGER_NETWORK in loss_networks:
        reason = f"left out: the run's loss uses {TAGGER_NETWORK}, the tagger's own network"
        log.warning("judge tagger %s", reason)
        verdict.notes["tagger"] = reason
    elif cfg.tagger:
        _tagger(
            verdict, {"generated": generated, "content": content, "style": style, "mix": mix}, rate
        )
    if cfg.speech:
        from audiostyle.judges.speech import speech_verdict

        rates, heard = speech_verdict(generated, content, mix, rate, cfg.transcript)
        verdict.metrics.update(rates)
        verdict.notes["words heard (x_G / x_C / mix)"] = " / ".join(
            repr(heard[k]) for k in ("generated", "content", "mix")
        )
        verdict.notes["reference words"] = heard["reference"]
    return verdict


def _tagger(verdict: Verdict, clips: dict[str, np.ndarray], rate: int) -> None:
    from audiostyle.judges.tagger import PREFIX, tagger_report

    report = tagger_report(clips, rate)
    for key, value in report.metrics.items():
        clip, name = key.removeprefix(PREFIX + "/").split("/")
        verdict.metrics[f"eval/judge/{PREFIXES[clip]}{name}"] = value
    verdict.notes["x_S's instrument, as the tagger hears it"] = report.instrument
    for clip, tags in report.top_tags.items():
        top = ", ".join(f"{tag} {p:.2f}" for tag, p in tags)
        verdict.notes[f"top tags of {clip}"] = top

"""Every judge a run asks, on x_G beside x_C, x_S and their plain mix.

Metric names: x_G's figure is `eval/judge/<name>`; the references' are
`eval/judge/ref_content/<name>`, `eval/judge/ref_style/<name>` and `eval/judge/ref_mix/<name>`,
as metrics.py names its own references, so the MLflow runs table sorts runs by x_G's figure.

Two must-haves, one figure each, and one for a sweep:
- `eval/judge/instrument_share`: where toward_style sits between x_C's (0) and x_S's (1);
- `eval/judge/words_kept`: 1 - min(wer, 1);
- `eval/judge/score`: their harmonic mean, 2 s k / (s + k) with s clipped to [0, 1]: 0 for x_C
  (no instrument), for a copy of x_S (no words) and for anything that drops either; 1 only for
  x_S's place in the embedding with every word kept. x_G's and the mix's are reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from audiostyle.clips.inputs import mix_of
from audiostyle.config.schema import JudgeConfig
from audiostyle.networks.layers import TAGGER_NETWORK

log = logging.getLogger(__name__)

INSTRUMENT = "x_S's instrument, as the tagger hears it"  # the note the run also tags
PREFIXES = {"generated": "", "content": "ref_content/", "style": "ref_style/", "mix": "ref_mix/"}


@dataclass
class Verdict:
    metrics: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # what a person reads beside the figures


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
        clips = {"generated": generated, "content": content, "style": style, "mix": mix}
        asked(verdict, "tagger", lambda: _tagger(verdict, clips, rate))
    if cfg.speech:
        asked(verdict, "speech", lambda: _speech(verdict, generated, content, mix, rate, cfg))
    for prefix in ("", "ref_mix/"):
        verdict.metrics.update(combined(verdict.metrics, prefix))
    return verdict


def combined(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    """instrument_share, words_kept and score for the clip under `prefix`, where its judges ran."""
    out = {}
    m = {k.removeprefix("eval/judge/"): v for k, v in metrics.items()}
    ends = m.get("ref_content/toward_style"), m.get("ref_style/toward_style")
    toward = m.get(f"{prefix}toward_style")
    if toward is not None and None not in ends and ends[1] > ends[0]:
        out[f"eval/judge/{prefix}instrument_share"] = (toward - ends[0]) / (ends[1] - ends[0])
    if f"{prefix}wer" in m:
        out[f"eval/judge/{prefix}words_kept"] = 1.0 - min(m[f"{prefix}wer"], 1.0)
    if len(out) == 2:
        s = min(max(out[f"eval/judge/{prefix}instrument_share"], 0.0), 1.0)
        k = out[f"eval/judge/{prefix}words_kept"]
        out[f"eval/judge/{prefix}score"] = 2 * s * k / (s + k) if s + k > 0 else 0.0
    return out


def asked(verdict: Verdict, name: str, ask) -> None:
    """Ask one judge; a judge that fails is a note and a warning, so the run still writes its
    summary and report (its figures are then missing, and a sweep on them fails the trial)."""
    try:
        ask()
    except Exception as err:  # a judge is a third-party model: any failure of it is its own
        log.warning("judge %s failed, left out: %s: %s", name, type(err).__name__, err)
        verdict.notes[name] = f"failed: {type(err).__name__}: {err}"


def _speech(verdict: Verdict, generated, content, mix, rate: int, cfg: JudgeConfig) -> None:
    from audiostyle.judges.speech import speech_verdict

    rates, heard = speech_verdict(generated, content, mix, rate, cfg.transcript)
    verdict.metrics.update(rates)
    verdict.notes["words heard (x_G / x_C / mix)"] = " / ".join(
        repr(heard[k]) for k in ("generated", "content", "mix")
    )
    verdict.notes["reference words"] = heard["reference"]


def _tagger(verdict: Verdict, clips: dict[str, np.ndarray], rate: int) -> None:
    from audiostyle.judges.tagger import PREFIX, tagger_report

    report = tagger_report(clips, rate, kept=("content", "style", "mix"))
    for key, value in report.metrics.items():
        clip, name = key.removeprefix(PREFIX + "/").split("/")
        verdict.metrics[f"eval/judge/{PREFIXES[clip]}{name}"] = value
    verdict.notes[INSTRUMENT] = report.instrument
    for clip, tags in report.top_tags.items():
        top = ", ".join(f"{tag} {p:.2f}" for tag, p in tags)
        verdict.notes[f"top tags of {clip}"] = top

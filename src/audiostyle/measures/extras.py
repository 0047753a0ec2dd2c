"""Measurements that show whether a transfer happened, beyond metrics.py's log-mel distances.

- Pitch (`measure.pitch`): pyin f0 tracks of x_G, x_C and x_S; the share of x_G's voiced
  frames within 50 cents of x_S's f0 (and of x_C's), framewise. Tests the paper's claim that
  x_G matches x_S "quite closely in pitch". The tracks are timbre.py's, cached: metrics'
  default eval/pitch/at_* shares have computed them already.
- Speech (`measure.speech`): word error rate of x_G and of x_C against x_C's words
  (`measure.transcript`, or the recogniser's reading of x_C), with pocketsphinx's bundled
  English model, offline. Tests "the content is ... still understandable".
- Loss curve (always): monotonic or not, the final over the initial loss, and the share of the
  total reduction reached by iteration 50 (the paper reports 99.7%).
The waveform SNR of x_G against x_S and x_C (copy or transfer) is in metrics.evaluate.
Missing optional packages skip their measurement with a logged note; the run goes on.
"""

from __future__ import annotations

import logging
import re

import numpy as np

from audiostyle.config.schema import MeasureConfig
from audiostyle.measures.timbre import f0_track, within_cents

log = logging.getLogger(__name__)


def pitch_measures(
    generated: np.ndarray, content: np.ndarray, style: np.ndarray, rate: int
) -> dict[str, float]:
    tracks = {
        name: f0_track(x, rate)
        for name, x in (("generated", generated), ("content", content), ("style", style))
    }
    out = {}
    for name, (f0, voiced) in tracks.items():
        out[f"eval/pitch/{name}_voiced_share"] = float(np.mean(voiced))
        out[f"eval/pitch/{name}_median_hz"] = float(np.median(f0[voiced])) if voiced.any() else 0.0
    g = tracks["generated"]
    out["eval/pitch/within50_of_style"] = within_cents(*g, *tracks["style"])
    out["eval/pitch/within50_of_content"] = within_cents(*g, *tracks["content"])
    return out


def loss_curve_facts(total: list[float], at: int = 50) -> dict[str, float]:
    """1 if the loss never rose, L_last / L_0 (how far it fell), and (L_0 - L_at) / (L_0 - L_last):
    how soon. `total` holds the loss of every x_G(i), the output's last (the paper: 99.7% by 50
    of 100 steps)."""
    loss = np.asarray(total, dtype=float)
    out = {"eval/loss_curve/monotonic": float(np.all(np.diff(loss) <= 0))}
    if loss[0] > 0:  # a zero loss (nothing to optimise) has no ratio
        out["eval/loss_curve/final_over_initial"] = float(loss[-1] / loss[0])
    drop = loss[0] - loss[-1]
    if len(loss) > at + 1 and drop != 0:  # `at` before the output
        out[f"eval/loss_curve/share_of_drop_by_{at}"] = float((loss[0] - loss[at]) / drop)
    return out


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def word_error_rate(hypothesis: str, reference: str) -> float:
    """(substitutions + deletions + insertions) / reference words (Levenshtein on words)."""
    hyp, ref = words(hypothesis), words(reference)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(len(ref), 1)


def transcribe(x: np.ndarray, rate: int) -> str:
    """pocketsphinx's English reading of a 16 kHz clip, offline."""
    from pocketsphinx import Decoder

    from audiostyle.clips.audio import resample

    pcm = np.clip(resample(x, rate, 16000), -1, 1)
    decoder = Decoder(samprate=16000, loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw((pcm * 32767).astype(np.int16).tobytes(), full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr if hyp is not None else ""


def speech_measures(
    generated: np.ndarray, content: np.ndarray, rate: int, transcript: str | None
) -> dict:
    heard_g, heard_c = transcribe(generated, rate), transcribe(content, rate)
    reference = transcript or heard_c
    log.info("speech: x_C heard as %r, x_G as %r (reference %r)", heard_c, heard_g, reference)
    return {
        "eval/speech/wer": word_error_rate(heard_g, reference),
        "eval/speech/ref_content_wer": word_error_rate(heard_c, reference),
    }


def measure(
    cfg: MeasureConfig,
    generated: np.ndarray,
    content: np.ndarray,
    style: np.ndarray,
    rate: int,
    total_loss: list[float],
) -> dict[str, float]:
    """The measurements that apply to this run; a missing package skips its part with a note."""
    out = loss_curve_facts(total_loss)
    parts = []
    if cfg.pitch:
        parts.append(("pitch", "librosa", lambda: pitch_measures(generated, content, style, rate)))
    if cfg.speech:
        parts.append(
            (
                "speech",
                "pocketsphinx",
                lambda: speech_measures(generated, content, rate, cfg.transcript),
            )
        )
    for name, package, compute in parts:
        try:
            out.update(compute())
        except ImportError:
            log.warning(
                "%s measurements skipped: %s is not installed (pip install -e '.[eval]')",
                name,
                package,
            )
    return out

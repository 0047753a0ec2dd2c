"""Speech recognition as a judge: are x_C's words still in x_G?

pocketsphinx's bundled English model reads each clip offline. The reference is `judge.transcript`
when a user gives x_C's words, else pocketsphinx's own reading of x_C, so no transcript is
needed: `eval/judge/wer` is x_G's word error rate against it, beside the mix's (a 50/50 sum of
x_C and x_S, the baseline a transfer must beat) and, with a transcript, x_C's own.
No loss reads words, so none can optimise this figure.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np

from audiostyle.digests import DigestCache, digest

log = logging.getLogger(__name__)

RATE = 16000  # pocketsphinx's bundled model


def _write_text(text: str, path: Path) -> None:
    path.write_text(json.dumps(text))


def _read_text(path: Path) -> str:
    return json.loads(path.read_text())


_heard: DigestCache[str] = DigestCache(".json", _write_text, _read_text)


def use_disk_cache(folder: Path | None) -> None:
    """Keep the readings of x_C and the mix in `folder`: the same clips are read once."""
    _heard.folder = None if folder is None else Path(folder)


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


def transcribe(x: np.ndarray, rate: int, keep: bool = False) -> str:
    """pocketsphinx's English reading of a clip (resampled to 16 kHz), cached by its samples."""
    from importlib.metadata import version

    key = digest(x, f"pocketsphinx {version('pocketsphinx')} default model {rate}")
    return _heard.get(key, lambda: _decode(x, rate), keep)


def _decode(x: np.ndarray, rate: int) -> str:
    from pocketsphinx import Decoder

    from audiostyle.clips.audio import resample

    pcm = np.clip(resample(x, rate, RATE), -1, 1)
    decoder = Decoder(samprate=RATE, loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw((pcm * 32767).astype(np.int16).tobytes(), full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr if hyp is not None else ""


def speech_verdict(
    generated: np.ndarray,
    content: np.ndarray,
    mix: np.ndarray,
    rate: int,
    transcript: str | None = None,
) -> tuple[dict[str, float], dict[str, str]]:
    """The word error rates (`eval/judge/wer`, `eval/judge/ref_mix/wer`, and with a transcript
    `eval/judge/ref_content/wer`) and the words heard in each clip."""
    heard = {
        "content": transcribe(content, rate, keep=True),
        "mix": transcribe(mix, rate, keep=True),
        "generated": transcribe(generated, rate),
    }
    reference = transcript or heard["content"]
    log.info(
        "speech: x_C heard as %r, the mix as %r, x_G as %r (reference %r)",
        heard["content"],
        heard["mix"],
        heard["generated"],
        reference,
    )
    rates = {
        "eval/judge/wer": word_error_rate(heard["generated"], reference),
        "eval/judge/ref_mix/wer": word_error_rate(heard["mix"], reference),
    }
    if transcript:  # else x_C is its own reference: 0 by definition, not a measurement
        rates["eval/judge/ref_content/wer"] = word_error_rate(heard["content"], reference)
    return rates, {**heard, "reference": reference}

"""A pretrained tagger's ear: does x_G sound like x_S's instrument, and is x_C's voice still there?

MTT_musicnn (networks.musicnn) tags each clip. Families of MagnaTagATune tags:
- voice: every tag that says a voice is heard. Its probability is the max over its tags, not a
  sum or mean: the 50 outputs are independent sigmoids and MTT's annotators used synonyms
  ("vocal", "vocals", "voice", "female vocal") interchangeably, so the evidence for one voice
  lands on whichever synonym the model learnt best; a sum would grow and a mean shrink with
  the number of synonyms (or with "choir" and "opera" when one woman speaks).
- instrument: x_S's family, the one of `INSTRUMENTS` most probable on x_S itself (violin,
  cello and strings are one family), its probability again the max over its tags.
`toward_style` = cos(e, e_S) - cos(e, e_C) in the penultimate layer's embedding (averaged over
3 s patches): > 0 when the clip is nearer x_S than x_C; x_C's own is cos(e_C, e_S) - 1 and x_S's
1 - cos(e_C, e_S), the two ends of the scale.

Each clip is scaled before tagging so that its loudest mel bin has power `MEL_PEAK` (log-mel
4.0): musicnn's float16 front end overflows above power 6.55, so its training data held none
louder; and the verdict then does not depend on x_G's gain (measured: the bundled flute at its
own level, peak 0.65, is "strings" 0.157 before "flute" 0.157; at this level "flute" 0.44).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiostyle.clips.audio import resample
from audiostyle.digests import arrays_cache, digest

MODEL = "MTT_musicnn"
MEL_PEAK = 1.0
PREFIX = "eval/judge/tagger"
VOICE = (
    "vocal", "vocals", "voice", "male", "female", "man", "woman", "male vocal", "female vocal",
    "male voice", "female voice", "singing", "choir", "choral", "opera",
)  # fmt: skip
INSTRUMENTS = {
    "guitar": ("guitar",),
    "strings": ("strings", "violin", "cello"),
    "piano": ("piano",),
    "harpsichord": ("harpsichord",),
    "flute": ("flute",),
    "sitar": ("sitar",),
    "harp": ("harp",),
    "drums": ("drums",),
    "synth": ("synth",),
}


@dataclass(frozen=True)
class TaggerReport:
    metrics: dict[str, float]  # eval/judge/tagger/<clip>/{voice,instrument,toward_style}
    instrument: str  # x_S's family, named by INSTRUMENTS
    top_tags: dict[str, tuple[tuple[str, float], ...]]  # each clip's 5 likeliest tags


@functools.lru_cache(maxsize=1)
def _network():
    from audiostyle.networks.musicnn import MusicnnNetwork

    return MusicnnNetwork(MODEL)


def family(probs: np.ndarray, tags: tuple[str, ...]) -> float:
    labels = _network().labels
    return float(max(probs[labels.index(t)] for t in tags))


def level(x: np.ndarray) -> np.ndarray:
    """x scaled so its loudest mel bin has power MEL_PEAK (silence is left as it is)."""
    import tensorflow as tf

    from audiostyle.networks.musicnn_frontend import log_mel

    peak_log = float(tf.reduce_max(log_mel(tf.constant(x[None]), exact=False)))
    power = (10.0**peak_log - 1.0) / 10000.0
    return x if power < 1e-12 else (x * np.sqrt(MEL_PEAK / power)).astype(np.float32)


Heard = tuple[np.ndarray, np.ndarray]  # tag probabilities [50], embedding
_heard = arrays_cache("tags", "embedding")


def use_disk_cache(folder: Path | None) -> None:
    """Keep what the tagger heard in x_C, x_S and the mix in `folder`: a rerun, a sweep's next
    trial, the next method on the same pair tag only x_G (0.2 s a clip on 2 cores)."""
    _heard.folder = None if folder is None else Path(folder)


def listen(x: np.ndarray, rate: int, name: str, keep: bool = False) -> Heard:
    """Tag probabilities [50] and embedding of one clip at `rate`, cached by its samples (and
    with `keep` written to the disk cache)."""
    key = digest(x, f"{MODEL} musicnn {_musicnn_version()} level {MEL_PEAK} {rate}")
    return _heard.get(key, lambda: _listen(x, rate, name), keep)


def _listen(x: np.ndarray, rate: int, name: str) -> Heard:
    import tensorflow as tf

    from audiostyle.networks.musicnn_frontend import SAMPLE_RATE

    wave = tf.constant(level(resample(np.asarray(x, np.float32), rate, SAMPLE_RATE, name))[None])
    tags, embedding = _network().tags_and_embedding(wave)
    return tags.numpy()[0], embedding.numpy()[0]


@functools.lru_cache(maxsize=1)
def _musicnn_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("musicnn")
    except PackageNotFoundError:  # the weights found another way: networks.musicnn_weights
        return "unknown"


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def tagger_report(
    clips: dict[str, np.ndarray],
    rate: int,
    style_name: str = "style",
    content_name: str = "content",
    top: int = 5,
    kept: tuple[str, ...] = (),
) -> TaggerReport:
    """The judge on named mono clips (x_C, x_S, x_G, a mix...) at `rate` Hz; what it heard in
    the clips named in `kept` goes to the disk cache (use_disk_cache)."""
    heard = {name: listen(x, rate, name, name in kept) for name, x in clips.items()}
    probs = {name: p for name, (p, _) in heard.items()}
    instrument = max(INSTRUMENTS, key=lambda f: family(probs[style_name], INSTRUMENTS[f]))
    metrics: dict[str, float] = {}
    for name, (p, emb) in heard.items():
        metrics[f"{PREFIX}/{name}/voice"] = family(p, VOICE)
        metrics[f"{PREFIX}/{name}/instrument"] = family(p, INSTRUMENTS[instrument])
        if content_name in heard:  # x_C: cos(C, S) - 1; x_S: 1 - cos(S, C)
            toward = cosine(emb, heard[style_name][1]) - cosine(emb, heard[content_name][1])
            metrics[f"{PREFIX}/{name}/toward_style"] = toward
    labels = _network().labels
    top_tags = {
        name: tuple((labels[i], float(p[i])) for i in np.argsort(p)[::-1][:top])
        for name, p in probs.items()
    }
    return TaggerReport(metrics, instrument, top_tags)


def tagger_verdict(
    clips: dict[str, np.ndarray],
    rate: int,
    style_name: str = "style",
    content_name: str = "content",
) -> dict[str, float]:
    """`tagger_report`'s metrics: eval/judge/tagger/<clip>/voice, /instrument and
    /toward_style for every clip."""
    return tagger_report(clips, rate, style_name, content_name).metrics

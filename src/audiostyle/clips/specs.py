"""Clip specs: what `audio.content=` and `audio.style=` may name, checked and then read.

| spec | clip |
|---|---|
| `PATH` | any file soundfile reads |
| `example:NAME` | a clip bundled with the package |
| `nsynth:NOTE_STR` | a note of the NSynth dataset at `data.nsynth_root` |
| `tone:FREQ` | a sine at FREQ Hz, the clip's length |
| `tones:LOW,HIGH` | the paper's sequence: a LOW Hz tone, silence, a HIGH Hz tone (thirds) |
| `chord:PART,PART,...` | the parts summed, aligned at their start; a part is any spec above but `tones:` or `chord:` (a bare note_str means `nsynth:`) |

`check` runs in `config.validate`, before any audio is read: malformed specs, missing bundled
clips, a missing dataset root and notes the dataset lacks all fail there with one clear line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from audiostyle.clips.audio import finish_clip, read_mono, resample
from audiostyle.clips.nsynth_data import is_note_str, open_dataset
from audiostyle.clips.synth import sine, stack, tone_sequence
from audiostyle.errors import AudioError, ConfigError

EXAMPLE, NSYNTH, TONE, TONES, CHORD = "example:", "nsynth:", "tone:", "tones:", "chord:"
DEFAULT_SECONDS = 4.0  # a tone's length when the clip length is not fixed (NSynth's 4 s)


@dataclass(frozen=True)
class ClipSpec:
    kind: str  # file | example | nsynth | tone | tones | chord
    text: str
    freqs: tuple[float, ...] = ()
    parts: tuple[ClipSpec, ...] = ()


def _freq(text: str, spec: str) -> float:
    try:
        f = float(text)
    except ValueError:
        f = float("nan")
    if not (math.isfinite(f) and f > 0):
        raise ConfigError(f"{spec}: {text!r} is not a frequency in Hz (a positive number)")
    return f


def example_names() -> list[str]:
    files = resources.files("audiostyle.clips") / "examples"
    return sorted(p.name[:-4] for p in files.iterdir() if p.name.endswith(".wav"))


def example_path(name: str) -> Path:
    return Path(str(resources.files("audiostyle.clips") / "examples" / f"{name}.wav"))


def file_path(clip: ClipSpec) -> Path:
    """The file a `file` or `example` spec reads."""
    return example_path(clip.text) if clip.kind == "example" else Path(clip.text).expanduser()


def parse(spec: str, in_chord: bool = False) -> ClipSpec:
    """The structure of a spec string, or a ConfigError saying what is malformed."""
    spec = spec.strip()
    if spec.startswith(CHORD):
        if in_chord:
            raise ConfigError(f"{spec}: a chord cannot contain a chord")
        texts = [t.strip() for t in spec[len(CHORD) :].split(",")]
        if not all(texts):
            raise ConfigError(f"{spec}: chord:PART,PART,... needs non-empty parts")
        return ClipSpec("chord", spec, parts=tuple(parse(t, in_chord=True) for t in texts))
    if spec.startswith(TONES):
        if in_chord:
            raise ConfigError(f"{spec}: tones: is a sequence in time and cannot be a chord part")
        texts = spec[len(TONES) :].split(",")
        if len(texts) != 2:
            raise ConfigError(f"{spec}: write tones:LOW,HIGH (two frequencies in Hz)")
        return ClipSpec("tones", spec, freqs=tuple(_freq(t, spec) for t in texts))
    if spec.startswith(TONE):
        return ClipSpec("tone", spec, freqs=(_freq(spec[len(TONE) :], spec),))
    if spec.startswith(EXAMPLE):
        return ClipSpec("example", spec[len(EXAMPLE) :])
    if spec.startswith(NSYNTH):
        name = spec[len(NSYNTH) :]
        if not is_note_str(name):
            raise ConfigError(
                f"{spec}: {name!r} is not an NSynth note_str "
                "(<family>_<source>_<instrument>-<pitch>-<velocity>, e.g. vocal_acoustic_000-060-100)"
            )
        return ClipSpec("nsynth", name)
    if in_chord and is_note_str(spec) and not Path(spec).exists():
        return ClipSpec("nsynth", spec)
    return ClipSpec("file", spec)


def leaves(clip: ClipSpec) -> list[ClipSpec]:
    return [leaf for p in clip.parts for leaf in leaves(p)] if clip.kind == "chord" else [clip]


def check(spec: str, key: str, nsynth_root: str | None, rate: int) -> None:
    """Everything about a spec that can be known without reading audio."""
    try:
        clip = parse(spec)
    except ConfigError as err:
        raise ConfigError(f"{key}: {err}") from None
    for leaf in leaves(clip):
        bad = [f for f in leaf.freqs if f >= rate / 2]
        if bad:
            raise ConfigError(
                f"{key}: {spec}: {bad[0]} Hz is at or above Nyquist ({rate / 2:g} Hz)"
            )
        if leaf.kind == "example" and leaf.text not in example_names():
            raise ConfigError(
                f"{key}: {EXAMPLE}{leaf.text}: no bundled example {leaf.text!r}; "
                f"choose from {example_names()}"
            )
    notes = [leaf.text for leaf in leaves(clip) if leaf.kind == "nsynth"]
    if notes:
        if not nsynth_root:
            raise ConfigError(f"{key}: {spec} names NSynth notes; set data.nsynth_root=DIR")
        open_dataset(nsynth_root).require(notes, key)


def input_paths(spec: str, nsynth_root: str | None) -> tuple[Path, ...]:
    """The files a spec reads: outputs must never be written over them."""
    out: list[Path] = []
    for leaf in leaves(parse(spec)):
        if leaf.kind in ("file", "example"):
            out.append(file_path(leaf))
        elif leaf.kind == "nsynth":
            root = open_dataset(nsynth_root).root
            out.append(root / "audio" / f"{leaf.text}.wav" if root.is_dir() else root)
    return tuple(out)


def render(clip: ClipSpec, rate: int, n: int | None, nsynth_root: str | None) -> np.ndarray:
    """The spec's samples at `rate`, mono float32 (any length; the caller fits and scales)."""
    length = n if n is not None else int(DEFAULT_SECONDS * rate)
    if clip.kind == "tone":
        return sine(clip.freqs[0], length, rate)
    if clip.kind == "tones":
        return tone_sequence(clip.freqs[0], clip.freqs[1], length, rate)
    if clip.kind == "chord":
        return stack([render(p, rate, n, nsynth_root) for p in clip.parts])
    if clip.kind == "nsynth":
        x, file_rate = open_dataset(nsynth_root).audio(clip.text)
        return resample(x, file_rate, rate, clip.text)
    if clip.kind == "example" and clip.text not in example_names():
        raise AudioError(f"{EXAMPLE}{clip.text}: no bundled example; choose from {example_names()}")
    return read_mono(file_path(clip), rate, n)


def load(
    spec: str, rate: int, n: int | None, peak: float | None, nsynth_root: str | None
) -> np.ndarray:
    """One mono clip from any spec, at `rate`, `n` samples (None: as long as it is), at `peak`."""
    return finish_clip(render(parse(spec), rate, n, nsynth_root), n, peak, spec)

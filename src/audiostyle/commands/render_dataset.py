"""`audiostyle-render-dataset`: a small NSynth-format dataset from a GM SoundFont.

Each note is a one-note MIDI file (program change, note-on at 0 s, note-off at 3 s) rendered by
the fluidsynth command line at 16 kHz, mixed to mono and cut to 4 s, as NSynth's notes are.
Written in NSynth's folder layout: `audio/<note_str>.wav` (16-bit) and `examples.json` with
NSynth's fields. Every note is labelled source `synthetic` (rendered from samples by a
synthesiser); the family comes from the General MIDI program's class; the instrument number is
the GM program (0-127), so `flute_synthetic_073-060-100` is GM Flute at middle C. Qualities are
not labelled (all 0). Nothing is downloaded: fluidsynth and the SoundFont must be installed
(Debian: `apt-get install fluidsynth fluid-soundfont-gm`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from audiostyle.clips.audio import to_mono
from audiostyle.clips.nsynth_data import FAMILIES, SAMPLE_RATE, SOURCES, note_str
from audiostyle.errors import AudiostyleError, ConfigError, fail
from audiostyle.files import atomic_path, check_writable, storage_errors

SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)
NOTE_SECONDS, NOTE_OFF_SECONDS = 4.0, 3.0
TICKS_PER_SECOND = 960  # 480 ticks a quarter note at MIDI's default 120 bpm
# Names for common GM programs (0-based); any number 0-127 with a family below works too.
PROGRAMS = {
    "piano": 0,
    "organ": 19,
    "guitar": 24,
    "bass": 33,
    "violin": 40,
    "strings": 48,
    "choir": 52,
    "voice": 53,
    "synth_voice": 54,
    "trumpet": 56,
    "sax": 65,
    "clarinet": 71,
    "flute": 73,
    "lead": 80,
}
# NSynth family of each GM program class (8 programs each); None: NSynth has no such family.
CLASS_FAMILY = (
    "keyboard",  # 0-7 piano
    "mallet",  # 8-15 chromatic percussion
    "organ",  # 16-23
    "guitar",  # 24-31
    "bass",  # 32-39
    "string",  # 40-47 strings
    "string",  # 48-55 ensemble: strings 48-51, choir and voices 52-54 (vocal, below)
    "brass",  # 56-63
    "reed",  # 64-71
    "flute",  # 72-79 pipe
    "synth_lead",  # 80-87
)
VOCAL_PROGRAMS = (52, 53, 54)


def family_of(program: int) -> str:
    if program in VOCAL_PROGRAMS:
        return "vocal"
    if program == 55 or program // 8 >= len(CLASS_FAMILY):
        raise ConfigError(f"GM program {program} has no NSynth instrument family")
    return CLASS_FAMILY[program // 8]


def parse_program(text: str) -> int:
    text = text.strip()
    if text in PROGRAMS:
        return PROGRAMS[text]
    if text.isdigit() and 0 <= int(text) <= 127:
        family_of(int(text))
        return int(text)
    raise ConfigError(
        f"--programs: {text!r} is neither a GM program 0-127 nor one of {sorted(PROGRAMS)}"
    )


def parse_ints(text: str, lo: int, hi: int, flag: str) -> list[int]:
    try:
        values = [int(t) for t in text.split(",")]
    except ValueError:
        raise ConfigError(f"{flag}: {text!r} is not a comma-separated list of integers") from None
    bad = [v for v in values if not lo <= v <= hi]
    if bad:
        raise ConfigError(f"{flag}: {bad} outside {lo}-{hi}")
    return values


def varlen(n: int) -> bytes:
    out = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        out.insert(0, (n & 0x7F) | 0x80)
    return bytes(out)


def one_note_midi(program: int, pitch: int, velocity: int) -> bytes:
    """A format-0 MIDI file: program change, note-on at 0 s, note-off at 3 s, end at 4 s."""
    off = int(NOTE_OFF_SECONDS * TICKS_PER_SECOND)
    end = int(NOTE_SECONDS * TICKS_PER_SECOND) - off
    track = (
        varlen(0) + bytes([0xC0, program])
        + varlen(0) + bytes([0x90, pitch, velocity])
        + varlen(off) + bytes([0x80, pitch, 0])
        + varlen(end) + bytes([0xFF, 0x2F, 0x00])
    )  # fmt: skip
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_SECOND // 2)
    return header + b"MTrk" + struct.pack(">I", len(track)) + track


def find_tools(soundfont: str | None) -> tuple[str, Path]:
    """The fluidsynth binary and a SoundFont, or a ConfigError saying how to install them."""
    binary = shutil.which("fluidsynth")
    if binary is None:
        raise ConfigError(
            "fluidsynth is not installed (Debian/Ubuntu: apt-get install fluidsynth fluid-soundfont-gm)"
        )
    candidates = [Path(soundfont)] if soundfont else [Path(p) for p in SOUNDFONTS]
    for path in candidates:
        if path.is_file():
            return binary, checked_soundfont(path)
    raise ConfigError(
        f"no SoundFont at {', '.join(map(str, candidates))} "
        "(Debian/Ubuntu: apt-get install fluid-soundfont-gm, or give --soundfont FILE.sf2)"
    )


def checked_soundfont(path: Path) -> Path:
    """`path` if it is a SoundFont 2 file (a RIFF file of form 'sfbk'): fluidsynth would
    otherwise say "not a SoundFont", fall back to its default font and still succeed."""
    try:
        with open(path, "rb") as f:
            header = f.read(12)
    except OSError as err:
        raise ConfigError(f"--soundfont {path}: cannot read it ({err.strerror})") from None
    if header[:4] != b"RIFF" or header[8:12] != b"sfbk":
        raise ConfigError(f"--soundfont {path}: not a SoundFont 2 file (.sf2)")
    return path


def render_note(binary: str, sf2: Path, program: int, pitch: int, velocity: int) -> np.ndarray:
    """4 s of mono float32 at 16 kHz, dry (reverb and chorus off)."""
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "note.mid", Path(tmp) / "note.wav"
        mid.write_bytes(one_note_midi(program, pitch, velocity))
        cmd = [binary, "-ni", "-R", "0", "-C", "0", "-g", "1.0", "-r", str(SAMPLE_RATE)]
        cmd += ["-F", str(wav), str(sf2), str(mid)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not wav.exists():
            raise AudiostyleError(
                f"fluidsynth failed on program {program} pitch {pitch}: {proc.stderr.strip()[-300:]}"
            )
        data, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        raise AudiostyleError(f"fluidsynth wrote {rate} Hz, not {SAMPLE_RATE}")
    x = to_mono(data)[: int(NOTE_SECONDS * SAMPLE_RATE)]
    return np.pad(x, (0, int(NOTE_SECONDS * SAMPLE_RATE) - len(x)))


def metadata(index: int, program: int, pitch: int, velocity: int) -> dict:
    """NSynth's examples.json fields for one rendered note."""
    family, source = family_of(program), "synthetic"
    name = note_str(family, source, program, pitch, velocity)
    return {
        "note": index,
        "note_str": name,
        "instrument": program,
        "instrument_str": name.split("-")[0],
        "pitch": pitch,
        "velocity": velocity,
        "sample_rate": SAMPLE_RATE,
        "qualities": [0] * 10,
        "qualities_str": [],
        "instrument_family": FAMILIES.index(family),
        "instrument_family_str": family,
        "instrument_source": SOURCES.index(source),
        "instrument_source_str": source,
    }


def render_dataset(
    out: Path, programs: list[int], pitches: list[int], velocity: int, soundfont: str | None
) -> dict[str, dict]:
    """Render every program x pitch into `out` (NSynth folder layout); returns examples.json."""
    binary, sf2 = find_tools(soundfont)
    examples: dict[str, dict] = {}
    (out / "audio").mkdir(parents=True, exist_ok=True)
    for program in programs:
        for pitch in pitches:
            meta = metadata(len(examples), program, pitch, velocity)
            x = render_note(binary, sf2, program, pitch, velocity)
            if not np.any(x):
                raise AudiostyleError(f"{sf2}: program {program} pitch {pitch} rendered silence")
            with atomic_path(out / "audio" / f"{meta['note_str']}.wav", ".wav") as tmp:
                sf.write(tmp, x, SAMPLE_RATE, subtype="PCM_16")
            examples[meta["note_str"]] = meta
    with atomic_path(out / "examples.json") as tmp:
        tmp.write_text(json.dumps(examples, indent=2))
    return examples


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="audiostyle-render-dataset", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write (created)")
    parser.add_argument(
        "--programs", default="choir,flute,lead,strings", help="GM names or numbers"
    )
    parser.add_argument("--pitches", default="48,55,60,64,67,72", help="MIDI pitches")
    parser.add_argument("--velocity", type=int, default=100)
    parser.add_argument(
        "--soundfont", default=None, help="a .sf2 file (default: Debian's GM fonts)"
    )
    return parser.parse_args(argv)


def checked_arguments(args: argparse.Namespace) -> tuple[list[int], list[int], int]:
    """(programs, pitches, velocity), with every value and --out checked before any rendering."""
    if (args.out / "examples.json").exists():
        raise ConfigError(f"--out: {args.out} already holds a dataset; choose a new folder")
    programs = [parse_program(p) for p in args.programs.split(",")]
    pitches = parse_ints(args.pitches, 0, 127, "--pitches")
    (velocity,) = parse_ints(str(args.velocity), 1, 127, "--velocity")
    return programs, pitches, velocity


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        programs, pitches, velocity = checked_arguments(args)
        check_writable(args.out / "audio", "the dataset")
        with storage_errors():
            examples = render_dataset(args.out, programs, pitches, velocity, args.soundfont)
    except AudiostyleError as err:
        fail(err)
    print(f"wrote {len(examples)} notes to {args.out}")


if __name__ == "__main__":
    main()

"""Make issue #18's content/style pairs: voices and GM instruments, 3 s each, 16 kHz mono.

Usage: python benchmarks/pairs.py DIR [--force] [--held-out]
Writes the clips and DIR/pairs.json (each clip's recipe, its measured f0 (pyin), each pair's
two file names) into DIR, a folder outside git. Rerunning rewrites only clips that are missing,
unreadable or made by another recipe (`--force`: all of them), so it is safe to repeat.
Then measure every pair: python benchmarks/choose_defaults.py --pairs DIR

Voices (content): the bundled speech, espeak-ng saying the same sentence at three pitches
(about 80, 140 and 230 Hz), and a sung "aah" gliding 200 -> 300 Hz (`sung_glide`).
Instruments (style): GM programs rendered by fluidsynth from FluidR3_GM.sf2 with the project's
renderer (audiostyle.commands.render_dataset), held the whole 3 s, each at a pitch outside its
voice's range (checked: outside the voice's 10th-90th percentile of f0, by a semitone at least),
so a drone and a transfer are told apart by the pitch shares.
`--held-out` makes HELD_OUT instead: six pairs that no default was chosen on, to check the
chosen ones on (issue #18's "pairs you do not see"): other espeak-ng voices saying another
sentence, a falling glide, and GM instruments the issue does not name.
Needs fluidsynth, fluid-soundfont-gm and espeak-ng (Debian: apt-get install ...).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from audiostyle.clips.audio import read_audio, resample, to_mono
from audiostyle.clips.specs import example_path
from audiostyle.commands.render_dataset import find_tools, render_note
from audiostyle.errors import AudiostyleError
from audiostyle.files import atomic_path
from audiostyle.measures.timbre import f0_track

RATE = 16000
SECONDS = 3.0
PEAK = 0.891  # -1 dBFS, as the bundled clips
SENTENCE = "Weasels have eaten our phone system"  # the bundled speech's words
ESPEAK_SPEED = 120  # words per minute: the sentence ends near 2.7 s, as the bundled one
HELD_OUT_SENTENCE = "The quick brown fox jumps over the lazy dog"
ESPEAK = {  # name: (espeak-ng voice, pitch 0-99, words); median f0 about 80, 140 and 230 Hz
    "espeak_low": ("en-us", 20, SENTENCE),
    "espeak_mid": ("en-us", 80, SENTENCE),
    "espeak_high": ("en-us+f3", 60, SENTENCE),
    # held out
    "espeak_gb": ("en-gb", 40, HELD_OUT_SENTENCE),
    "espeak_scot_f": ("en-gb-scotland+f2", 50, HELD_OUT_SENTENCE),
    "espeak_rp_m": ("en-gb-x-rp+m3", 60, HELD_OUT_SENTENCE),
}
GLIDES = {"glide": (200.0, 300.0), "glide_down": (330.0, 190.0)}  # f0 start, end (geometric)
VIBRATO = (5.5, 0.01)  # Hz and relative depth (17 cents: within pyin's 50-cent bins)
VOWEL_AH = ((850.0, 80.0), (1220.0, 90.0), (2810.0, 120.0))  # /a/ formants, Hz and bandwidth
GM = {  # 0-based programs; the issue's five, then the held-out pairs' four
    "flute": 73,
    "violin": 40,
    "trumpet": 56,
    "cello": 42,
    "clarinet": 71,
    "oboe": 68,
    "horn": 60,
    "viola": 41,
    "bassoon": 70,
}
VELOCITY = 100
# name: (content clip, style clip); an instrument clip is named <GM name>_<MIDI pitch>.wav
PAIRS: dict[str, tuple[str, str]] = {
    "speech_flute": ("speech.wav", "flute_79.wav"),  # ~210 Hz voice, G5 784 Hz
    "speech_trumpet": ("speech.wav", "trumpet_69.wav"),  # A4 440 Hz
    "espeak_low_cello": ("espeak_low.wav", "cello_57.wav"),  # ~80 Hz voice, A3 220 Hz
    "espeak_low_clarinet": ("espeak_low.wav", "clarinet_62.wav"),  # D4 294 Hz
    "espeak_mid_violin": ("espeak_mid.wav", "violin_76.wav"),  # ~140 Hz voice, E5 659 Hz
    "espeak_high_cello": ("espeak_high.wav", "cello_48.wav"),  # ~230 Hz voice, C3 131 Hz
    "espeak_high_trumpet": ("espeak_high.wav", "trumpet_65.wav"),  # F4 349 Hz
    "glide_clarinet": ("glide.wav", "clarinet_70.wav"),  # 200 -> 300 Hz, Bb4 466 Hz
}
HELD_OUT: dict[str, tuple[str, str]] = {  # no default was chosen on these
    "speech_oboe": ("speech.wav", "oboe_74.wav"),  # D5 587 Hz
    "espeak_gb_horn": ("espeak_gb.wav", "horn_65.wav"),  # F4 349 Hz
    "espeak_scot_f_viola": ("espeak_scot_f.wav", "viola_67.wav"),  # G4 392 Hz
    "espeak_rp_m_bassoon": ("espeak_rp_m.wav", "bassoon_74.wav"),  # D5 587 Hz
    "glide_down_bassoon": ("glide_down.wav", "bassoon_45.wav"),  # 330 -> 190 Hz, A2 110 Hz
    "espeak_gb_violin": ("espeak_gb.wav", "violin_81.wav"),  # A5 880 Hz
}


def fit(x: np.ndarray, rate: int, name: str) -> np.ndarray:
    """Mono at 16 kHz, cropped or zero-padded to 3 s, peak at -1 dBFS."""
    x = resample(x, rate, RATE, name)[: int(SECONDS * RATE)]
    x = np.pad(x, (0, int(SECONDS * RATE) - len(x)))
    peak = float(np.max(np.abs(x)))
    if peak == 0.0:
        raise AudiostyleError(f"{name}: the made clip is silent")
    return (x * (PEAK / peak)).astype(np.float32)


def espeak(voice: str, pitch: int, text: str) -> tuple[np.ndarray, int]:
    """`text` spoken by espeak-ng (it writes 22.05 kHz)."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise AudiostyleError(
            "espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "voice.wav"
        cmd = [binary, "-v", voice, "-p", str(pitch), "-s", str(ESPEAK_SPEED), "-w", str(wav)]
        done = subprocess.run([*cmd, text], capture_output=True, text=True)
        if done.returncode != 0 or not wav.exists():
            raise AudiostyleError(f"espeak-ng failed: {done.stderr.strip()[-300:]}")
        data, rate = read_audio(wav)
    return to_mono(data), rate


def sung_glide(start: float = 200.0, end: float = 300.0) -> np.ndarray:
    """A sung "aah" whose f0 glides from `start` to `end` Hz over 3 s, by source and filter.

    Source: the band-limited harmonics of the glottal pulse train at amplitude 1/k (the glottal
    flow's -12 dB/octave plus the lips' +6), with a light vibrato. Filter: three cascaded
    two-pole resonators at the formants of /a/, each of unit gain at 0 Hz (Klatt's form), so
    the formants keep their natural relative levels. 50 ms fades avoid clicks."""
    n = int(SECONDS * RATE)
    t = np.arange(n) / RATE
    f0 = start * (end / start) ** (t / SECONDS)
    f0 *= 1.0 + VIBRATO[1] * np.sin(2.0 * np.pi * VIBRATO[0] * t)
    phase = 2.0 * np.pi * np.cumsum(f0) / RATE
    k = np.arange(1, int(0.45 * RATE / f0.max()) + 1)
    x = (np.cos(np.outer(k, phase)) / k[:, None]).sum(axis=0)
    for freq, bandwidth in VOWEL_AH:
        r = np.exp(-np.pi * bandwidth / RATE)
        a = [1.0, -2.0 * r * np.cos(2.0 * np.pi * freq / RATE), r * r]
        x = signal.lfilter([sum(a)], a, x)
    fade = int(0.05 * RATE)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
    x[:fade] *= ramp
    x[-fade:] *= ramp[::-1]
    return x.astype(np.float32)


def recipe(clip: str) -> dict:
    """How a clip is made: stored in pairs.json, so a changed recipe remakes the clip."""
    name = clip.removesuffix(".wav")
    if name == "speech":
        how: dict = {"kind": "bundled", "spec": "example:speech"}
    elif name in ESPEAK:
        voice, pitch, text = ESPEAK[name]
        how = {"kind": "espeak-ng", "voice": voice, "pitch": pitch, "speed": ESPEAK_SPEED}
        how["text"] = text
    elif name in GLIDES:
        how = {"kind": "sung_glide", "f0_hz": GLIDES[name], "vibrato": VIBRATO}
        how["formants"] = VOWEL_AH
    else:
        instrument, pitch = name.rsplit("_", 1)
        how = {"kind": "fluidsynth", "program": GM[instrument], "pitch": int(pitch)}
        how["velocity"] = VELOCITY
    return json.loads(json.dumps(how))  # tuples as lists: equal to the recipe read back


def make_clip(clip: str) -> np.ndarray:
    """The clip's samples, as `recipe(clip)` says, fitted to 3 s of 16 kHz mono."""
    how = recipe(clip)
    if how["kind"] == "bundled":
        data, rate = read_audio(example_path("speech"))
        return fit(to_mono(data), rate, clip)
    if how["kind"] == "espeak-ng":
        return fit(*espeak(how["voice"], how["pitch"], how["text"]), clip)
    if how["kind"] == "sung_glide":
        return fit(sung_glide(*how["f0_hz"]), RATE, clip)
    binary, sf2 = find_tools(None)
    note = render_note(binary, sf2, how["program"], how["pitch"], VELOCITY)  # note-off at 3 s
    return fit(note, RATE, clip)


def is_made(path: Path) -> bool:
    """A readable 16 kHz mono file of exactly 3 s."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError):
        return False
    return info.samplerate == RATE and info.channels == 1 and info.frames == int(SECONDS * RATE)


def clip_f0(x: np.ndarray) -> list[float]:
    """10th percentile, median and 90th percentile of the voiced f0 (pyin, Hz)."""
    f0, voiced = f0_track(x, RATE)
    if not voiced.any():
        raise AudiostyleError("pyin hears no pitch in the made clip")
    return [float(v) for v in np.percentile(f0[voiced], [10, 50, 90])]


def midi_hz(pitch: int) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12.0)


def check_pitches(clips: dict[str, dict], pairs: dict[str, tuple[str, str]]) -> None:
    """Each instrument's note (its median f0) lies a semitone or more outside its voice's
    10-90% f0 range, and within a semitone of the MIDI note asked for."""
    semitone = 2 ** (1 / 12)
    for pair, (content, style) in pairs.items():
        low, _, high = clips[content]["f0_hz"]
        note, asked = clips[style]["f0_hz"][1], midi_hz(clips[style]["recipe"]["pitch"])
        if not asked / semitone < note < asked * semitone:
            raise AudiostyleError(f"{style}: median f0 {note:.0f} Hz, not {asked:.0f} Hz")
        if low / semitone < note < high * semitone:
            raise AudiostyleError(
                f"{pair}: {style} ({note:.0f} Hz) is within the voice's {low:.0f}-{high:.0f} Hz"
            )


def make(
    folder: Path, force: bool = False, only: list[str] | None = None, held_out: bool = False
) -> dict:
    """Write the clips (all of PAIRS' or HELD_OUT's, or `only` these) and pairs.json; returns
    the manifest."""
    pairs = HELD_OUT if held_out else PAIRS
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / "pairs.json"
    old = json.loads(manifest_path.read_text())["clips"] if manifest_path.exists() else {}
    wanted = only or sorted({c for pair in pairs.values() for c in pair})
    clips = {}
    for clip in wanted:
        entry, path = old.get(clip, {}), folder / clip
        if force or entry.get("recipe") != recipe(clip) or not is_made(path):
            x = make_clip(clip)
            with atomic_path(path, ".wav") as tmp:
                sf.write(tmp, x, RATE, subtype="PCM_16")
            entry = {"recipe": recipe(clip)}
            print(f"made {path}", flush=True)
        if "f0_hz" not in entry:
            entry["f0_hz"] = clip_f0(sf.read(str(path), dtype="float32")[0])
        clips[clip] = entry
    manifest = {"clips": {**old, **clips}, "pairs": pairs}  # file names within the folder
    if only is None:
        check_pitches(manifest["clips"], pairs)
    with atomic_path(manifest_path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2))
    return manifest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="where to write the clips (outside git)")
    p.add_argument("--force", action="store_true", help="remake every clip")
    p.add_argument("--held-out", action="store_true", help="the held-out pairs (HELD_OUT)")
    args = p.parse_args()
    manifest = make(args.folder, args.force, held_out=args.held_out)
    for clip, entry in sorted(manifest["clips"].items()):
        print(clip, entry["recipe"], f"f0 10/50/90%: {[round(v) for v in entry['f0_hz']]} Hz")
    print(f"{len(manifest['pairs'])} pairs in {args.folder / 'pairs.json'}")


if __name__ == "__main__":
    main()

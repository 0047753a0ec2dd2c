"""benchmarks/pairs.py makes 3 s, 16 kHz mono clips once; choose_defaults.py --pairs measures them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiostyle.measures.timbre import f0_track

from conftest import load_benchmark

ROOT = Path(__file__).resolve().parents[1]


def cents(f: float, ref: float) -> float:
    return abs(1200.0 * np.log2(f / ref))


@pytest.mark.parametrize("glide", ["glide", "glide_down"])
def test_sung_glide_glides_between_its_two_pitches(glide):
    """The rising glide (200 -> 300 Hz) of the eight pairs and the held-out falling one
    (330 -> 190 Hz): pyin hears each end within 50 cents of the geometric glide there."""
    pairs = load_benchmark("pairs")
    first, last = pairs.GLIDES[glide]
    x = pairs.sung_glide(first, last)
    assert len(x) == 3 * 16000 and np.all(np.isfinite(x))
    f0, voiced = f0_track(x, 16000)
    assert voiced.mean() > 0.9
    frames = len(f0) // 10  # the first and last 0.3 s
    start, end = np.nanmedian(f0[:frames]), np.nanmedian(f0[-frames:])
    ratio = last / first
    assert cents(start, first * ratio**0.05) < 50 and cents(end, first * ratio**0.95) < 50


def test_held_out_pairs_share_no_made_clip_with_the_pairs_defaults_were_chosen_on():
    pairs = load_benchmark("pairs")
    chosen_on = {clip for pair in pairs.PAIRS.values() for clip in pair}
    held_out = {clip for pair in pairs.HELD_OUT.values() for clip in pair}
    assert len(pairs.HELD_OUT) >= 6 and not set(pairs.HELD_OUT) & set(pairs.PAIRS)
    assert held_out & chosen_on == {"speech.wav"}  # the one real recording is in both
    texts = {pairs.recipe(c).get("text") for c in held_out if c.startswith("espeak")}
    assert texts == {pairs.HELD_OUT_SENTENCE} != {pairs.SENTENCE}
    for clip in held_out:  # every clip has a recipe: GM programs, voices and glides all known
        assert pairs.recipe(clip)["kind"] in {"bundled", "espeak-ng", "sung_glide", "fluidsynth"}


@pytest.mark.slow  # espeak-ng, fluidsynth and fluid-soundfont-gm (.ci/run installs them)
def test_held_out_maker_writes_the_held_out_pairs(tmp_path):
    pairs = load_benchmark("pairs")
    manifest = pairs.make(tmp_path, only=["espeak_gb.wav", "horn_65.wav"], held_out=True)
    assert manifest["pairs"] == pairs.HELD_OUT
    voice, horn = manifest["clips"]["espeak_gb.wav"], manifest["clips"]["horn_65.wav"]
    assert cents(horn["f0_hz"][1], pairs.midi_hz(65)) < 50
    assert horn["f0_hz"][1] > 2 * voice["f0_hz"][2]  # F4, far above the low voice


@pytest.mark.slow  # espeak-ng, fluidsynth and fluid-soundfont-gm (.ci/run installs them)
def test_maker_writes_a_voice_and_an_instrument_once(tmp_path):
    pairs = load_benchmark("pairs")
    clips = ["espeak_low.wav", "cello_57.wav"]
    manifest = pairs.make(tmp_path, only=clips)
    for clip in clips:
        x, rate = sf.read(tmp_path / clip)
        assert rate == 16000 and x.ndim == 1 and len(x) == 3 * 16000
        assert 0.88 < np.max(np.abs(x)) < 0.9  # -1 dBFS
    low, median, high = manifest["clips"]["espeak_low.wav"]["f0_hz"]
    assert 60 < median < 110  # a low voice
    cello = manifest["clips"]["cello_57.wav"]["f0_hz"][1]
    assert cents(cello, 220.0) < 50 and cello > 2 * high  # A3 as asked, far above the voice
    made = {c: (tmp_path / c).stat().st_mtime_ns for c in clips}
    again = pairs.make(tmp_path, only=clips)
    assert {c: (tmp_path / c).stat().st_mtime_ns for c in clips} == made  # nothing remade
    assert again["clips"] == manifest["clips"]


@pytest.mark.slow  # espeak-ng, fluidsynth and two calls of short TensorFlow runs, about 40 s
def test_pairs_measurement_writes_every_row_with_its_command(tmp_path):
    load_benchmark("pairs").make(tmp_path, only=["espeak_low.wav", "cello_57.wav"])
    cmd = [sys.executable, "benchmarks/choose_defaults.py", "--pairs", str(tmp_path)]
    cmd += ["--pair", "espeak_low_cello", "--duration", "0.5", "--steps", "3"]
    cmd += ["--only", "harmonic 0 (first default)", "lbfgs, harmonic 0.1"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = json.loads((tmp_path / "results.json").read_text())["results"]["espeak_low_cello"]
    assert set(runs) == {"harmonic 0 (first default)", "lbfgs, harmonic 0.1"}
    assert "optim=lbfgs loss.harmonic_weight=0.1" in runs["lbfgs, harmonic 0.1"]["command"]
    for run in runs.values():
        assert run["command"].startswith("python run.py tracking=none audio.content=")
        assert f"audio.style={tmp_path / 'cello_57.wav'}" in run["command"]
        assert (Path(run["run_dir"]) / "generated.wav").is_file()
    table = (tmp_path / "results.md").read_text()
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| espeak")]
    assert [r[1] for r in rows] == [
        "x_C",
        "x_S",
        "mix",
        "harmonic 0 (first default)",
        "lbfgs, harmonic 0.1",
    ]
    # x_C at its own pitch (every voiced frame, or 90% when it is one steady note); neither
    # reference beats the mix
    heading = table.splitlines()[0].split(" | ")
    x_c, x_s, mix = (dict(zip(heading, row, strict=True)) for row in rows[:3])
    # the judges' columns lead, and the tagger tells the voice from the cello
    assert heading[2:7] == ["voice", "instrument", "toward x_S", "WER", "judge score"]
    assert float(x_s["instrument"]) > float(x_c["instrument"])
    assert float(x_c["voice"]) > float(x_s["voice"])
    assert float(x_c["toward x_S"]) < 0 < float(x_s["toward x_S"])
    assert float(x_c["co-voiced at x_C pitch"]) >= 0.9
    assert x_c["beats_mix"] == mix["beats_mix"] == "0"
    assert abs(float(x_c["drone dB"])) < 1e-6  # x_C's comb less x_C's, computed twice
    assert float(mix["drone dB"]) > 3  # the cello's note in the mix
    assert x_c["loss final / initial"] == "-"  # a reference is not optimised
    assert all(runs[m]["command"] in table for m in runs)
    # the count of targets met, per row kind: x_C meets the melody and pattern targets
    judged, diagnostic = (
        "| row | " + part.split("\n\n", 1)[0] for part in table.split("\n| row | ")[1:3]
    )
    assert "voice <= 0.3" in judged.splitlines()[0]  # the judges' targets come first
    targets = diagnostic.splitlines()
    met = {
        r.split(" | ")[0]: dict(zip(targets[0].split(" | "), r.split(" | "), strict=True))
        for r in targets[2:]
    }
    assert met["| x_C"]["melody >= 50%"] == met["| x_C"]["pattern >= 0.6"] == "1/1"
    # --resume: a second call adds its rows and reruns none (a cross-synthesis judged, no step)
    kept = (Path(runs["lbfgs, harmonic 0.1"]["run_dir"]) / "generated.wav").stat().st_mtime_ns
    again = [*cmd[:-3], "--resume", "--only", "lbfgs, harmonic 0.1", "reference: channel vocoder"]
    done = subprocess.run(again, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = json.loads((tmp_path / "results.json").read_text())["results"]["espeak_low_cello"]
    assert (
        len(runs) == 3
        and "init=vocoder optim.steps=0" in runs["reference: channel vocoder"]["command"]
    )
    assert (
        Path(runs["lbfgs, harmonic 0.1"]["run_dir"]) / "generated.wav"
    ).stat().st_mtime_ns == kept
    vocoder = runs["reference: channel vocoder"]["summary"]
    assert vocoder["eval/pitch/covoiced_at_style"] > 0.5  # x_S carries x_C: at x_S's note
    assert met["| x_C"]["loss falls"] == "0/1"  # a reference is not optimised

"""The NSynth-format renderer: MIDI it writes, labels, errors, and (slow) a real render."""

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from audiostyle.clips.nsynth_data import open_dataset
from audiostyle.commands.render_dataset import (
    checked_soundfont,
    find_tools,
    main,
    metadata,
    one_note_midi,
    parse_program,
)
from audiostyle.errors import ConfigError

from conftest import run_cli


def test_midi_has_note_on_at_0_and_note_off_at_3_s():
    midi = one_note_midi(73, 60, 100)
    assert midi[:4] == b"MThd" and int.from_bytes(midi[12:14], "big") == 480  # ticks a beat
    track = midi[22:]
    assert track[:5] == bytes([0, 0xC0, 73, 0, 0x90])
    # note-off after 2880 ticks = 3 s at 120 bpm (varlen 0x96 0x40)
    assert bytes([0x96, 0x40, 0x80, 60, 0]) in track


def test_labels_follow_nsynth_and_are_honest():
    meta = metadata(3, 52, 48, 100)
    assert meta["note_str"] == "vocal_synthetic_052-048-100"
    assert meta["instrument_source_str"] == "synthetic" and meta["instrument_source"] == 2
    assert meta["instrument_family"] == 10 and meta["sample_rate"] == 16000
    assert metadata(0, 73, 60, 100)["instrument_family_str"] == "flute"
    assert parse_program("lead") == 80
    with pytest.raises(ConfigError, match="no NSynth instrument family"):
        parse_program("120")


def test_missing_soundfont_or_fluidsynth_is_a_clear_error(tmp_path):
    if shutil.which("fluidsynth"):
        with pytest.raises(ConfigError, match="no SoundFont at .*fluid-soundfont-gm"):
            find_tools(str(tmp_path / "none.sf2"))
    proc = run_cli(
        "-m",
        "audiostyle.commands.render_dataset",
        "--out",
        str(tmp_path / "d"),
        "--programs",
        "kazoo",
    )
    assert proc.returncode == 2 and "audiostyle: error: --programs: 'kazoo'" in proc.stderr


@pytest.mark.slow  # needs fluidsynth and fluid-soundfont-gm (.ci/run installs them)
def test_render_writes_an_nsynth_folder_the_reader_opens(tmp_path):
    out = tmp_path / "nsynth"
    proc = run_cli(
        "-m",
        "audiostyle.commands.render_dataset",
        "--out",
        str(out),
        "--programs",
        "choir,73",
        "--pitches",
        "48,67",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    ds = open_dataset(out)
    assert ds.select(family="vocal") == [
        "vocal_synthetic_052-048-100",
        "vocal_synthetic_052-067-100",
    ]
    x, rate = ds.audio("flute_synthetic_073-067-100")
    assert rate == 16000 and len(x) == 64000
    # sound while the key is down, (almost) nothing in the last 0.5 s after the release
    assert np.abs(x[:48000]).max() > 0.05 and np.abs(x[56000:]).max() < 0.2 * np.abs(x).max()
    assert (
        json.loads((out / "examples.json").read_text())["vocal_synthetic_052-048-100"]["pitch"]
        == 48
    )
    assert sf.info(str(out / "audio" / "vocal_synthetic_052-048-100.wav")).subtype == "PCM_16"
    again = run_cli("-m", "audiostyle.commands.render_dataset", "--out", str(out))
    assert again.returncode == 2 and "already holds a dataset" in again.stderr


def test_a_file_that_is_not_a_soundfont_is_refused(tmp_path):
    """fluidsynth would say "not a SoundFont", render with its default font and succeed."""
    empty = tmp_path / "bad.sf2"
    empty.touch()
    with pytest.raises(ConfigError, match="not a SoundFont 2 file"):
        checked_soundfont(empty)
    real = tmp_path / "tiny.sf2"
    real.write_bytes(b"RIFF" + (4).to_bytes(4, "little") + b"sfbk")
    assert checked_soundfont(real) == real


def test_out_naming_a_file_is_a_one_line_error(tmp_path, capsys):
    a_file = tmp_path / "afile"
    a_file.write_text("keep me")
    with pytest.raises(SystemExit) as exit_:
        main(["--out", str(a_file), "--programs", "flute", "--pitches", "60"])
    assert exit_.value.code != 0
    err = capsys.readouterr().err
    assert "cannot write the dataset there" in err and "Traceback" not in err
    assert a_file.read_text() == "keep me"

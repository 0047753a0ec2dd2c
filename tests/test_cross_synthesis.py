"""The cross-syntheses (clips/cross_synthesis.py) against pyin and the harmonic profile
(measures/timbre.py, librosa): x_C's melody and loudness, x_S's balance of harmonics; and the
runs that start from them (init=world|vocoder) or are judged as they are (optim.steps=0)."""

import numpy as np
import pytest

from audiostyle.clips.cross_synthesis import (
    NOTE_FRAMES,
    analyse,
    as_notes,
    channel_vocoder,
    register_octaves,
    world_cross,
)
from audiostyle.measures.timbre import covoiced_share, f0_track, harmonic_distance

RATE = 16000
N = RATE


def tone(f0: float | np.ndarray, amps: list[float], n: int = N) -> np.ndarray:
    f0 = np.broadcast_to(np.asarray(f0, dtype=float), (n,))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    x = sum(a * np.sin(k * phase) for k, a in enumerate(amps, 1) if k * f0.max() < RATE / 2)
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def voice(n: int = N) -> np.ndarray:
    """A voice-like melody (190-250 Hz, one rise and fall a second: WORLD's pulses at a faster
    vibrato read +-100 cents in pyin's 128 ms frames) with a dark balance, its last quarter
    silent."""
    f0 = 220.0 + 30.0 * np.sin(2 * np.pi * 1.0 * np.arange(n) / RATE)
    x = tone(f0, [1.0, 0.5, 0.25, 0.12, 0.06, 0.03], n)
    x[3 * n // 4 :] = 0.0
    return x


ODD = [1.0, 0.2, 0.8, 0.15, 0.6, 0.1, 0.4, 0.08]  # x_S's balance: odd harmonics, a clarinet's
STYLE = tone(440.0, ODD)


def test_world_keeps_x_cs_melody():
    content = voice()
    out = world_cross(content, STYLE, RATE)
    assert out.shape == content.shape and out.dtype == np.float32
    track, c = f0_track(out, RATE), f0_track(content, RATE)
    assert covoiced_share(track, c, c) > 0.8


def test_world_in_x_ss_register_takes_x_ss_harmonic_balance():
    """An envelope is x_S's balance at x_S's own pitch: one octave up the voice (190-250 Hz)
    reaches x_S's A4 (440 Hz) and its harmonics sample x_S's partials. At the voice's own pitch
    with x_C's envelope blended back in fully, the balance is x_C's again."""
    content = voice()
    out = world_cross(content, STYLE, RATE, octaves=1)
    assert harmonic_distance(out, STYLE, RATE) < 0.5 * harmonic_distance(content, STYLE, RATE)
    own = world_cross(content, STYLE, RATE, content_envelope=1.0)
    theirs = world_cross(content, STYLE, RATE)
    assert harmonic_distance(own, content, RATE) < 0.5 * harmonic_distance(theirs, content, RATE)


def test_world_keeps_x_cs_loudness_contour_and_peak():
    content = voice()
    out = world_cross(content, STYLE, RATE)
    assert np.max(np.abs(out)) == pytest.approx(np.max(np.abs(content)), rel=1e-5)
    sounding, pause = out[N // 8 : N // 2], out[3 * N // 4 + 800 :]
    assert np.sqrt(np.mean(pause**2)) < 0.01 * np.sqrt(np.mean(sounding**2))


@pytest.mark.parametrize("octaves", [1, -1])
def test_world_moves_the_melody_by_whole_octaves(octaves):
    content = voice()
    out = world_cross(content, STYLE, RATE, octaves=octaves)
    c, track = f0_track(content, RATE), f0_track(out, RATE)
    moved = (c[0] * 2.0**octaves, c[1])
    assert covoiced_share(track, c, moved) > 0.8
    assert covoiced_share(track, c, c) < 0.1


def test_notes_are_semitones_within_50_cents_and_a_glide_steps():
    """A slow glide (one semitone in 40 frames, 200 frames: A3 to D4) and a pause: every note is an equal-tempered
    semitone, within 50 cents of the voice's pitch, and the notes only rise (no trill)."""
    glide = 220.0 * 2.0 ** (np.arange(200) / 40.0 / 12.0)
    f0 = np.concatenate([glide, np.zeros(20), glide[:50]])
    notes = as_notes(f0)
    voiced = f0 > 0
    assert np.all(notes[~voiced] == 0)
    semis = 12.0 * np.log2(notes[voiced] / 440.0)
    assert np.allclose(semis, np.round(semis), atol=1e-9)
    assert np.all(np.abs(1200.0 * np.log2(notes[voiced] / f0[voiced])) <= 50.0 + 1e-6)
    assert np.all(np.diff(notes[:200]) >= 0) and len(np.unique(notes[:200])) == 6  # 0..5
    # a blip shorter than half the filter is held at the note around it
    blip = np.full(60, 220.0)
    blip[30 : 30 + NOTE_FRAMES // 2] = 233.08  # one semitone up
    assert np.allclose(as_notes(blip), 220.0)


def test_world_on_notes_keeps_the_melody_within_50_cents():
    content = voice()
    out = world_cross(content, STYLE, RATE, semitones=True)
    track, c = f0_track(out, RATE), f0_track(content, RATE)
    assert covoiced_share(track, c, c) > 0.8
    played = analyse(out, RATE).f0
    semis = 12.0 * np.log2(played[played > 0] / 440.0)
    assert np.median(np.abs(semis - np.round(semis))) < 0.1  # WORLD plays the notes it is given


def test_the_register_is_the_nearest_whole_octave_and_none_without_a_pitch():
    voice_f0 = np.array([0.0, 200.0, 210.0, 190.0, 0.0])
    assert register_octaves(voice_f0, np.full(5, 790.0)) == 2  # a flute's C5-G5: two up
    assert register_octaves(voice_f0, np.full(5, 100.0)) == -1
    assert register_octaves(voice_f0, np.zeros(5)) == 0  # x_S unpitched: nowhere to go


def test_the_vocoder_plays_x_ss_note_with_x_cs_loudness_contour():
    content = voice()
    out = channel_vocoder(content, STYLE, RATE)
    assert out.shape == content.shape
    track, c, s = f0_track(out, RATE), f0_track(content, RATE), f0_track(STYLE, RATE)
    assert covoiced_share(track, c, s) > 0.8  # the carrier's pitch: a talk box, by design
    sounding, pause = out[N // 8 : N // 2], out[3 * N // 4 + 1024 :]
    assert np.sqrt(np.mean(pause**2)) < 0.05 * np.sqrt(np.mean(sounding**2))


@pytest.mark.parametrize("source", ["world", "vocoder"])
def test_a_run_of_no_step_is_the_cross_synthesis_itself_judged(compose_config, tmp_path, source):
    """`init=world|vocoder optim.steps=0`: the baseline as a run (judges, report, MLflow), its
    output x_G(0), the cross-synthesis of the loaded clips (the default's: in x_S's register, on
    notes) plus the init's 1e-6 noise."""
    import soundfile as sf

    from audiostyle.clips.inputs import load_inputs
    from audiostyle.optimisation.start import melody_octaves
    from audiostyle.run.context import RunContext
    from audiostyle.run.runner import run

    cfg = compose_config(
        f"init={source}",
        "optim.steps=0",
        "snapshots=[]",
        "audio.duration=0.5",
        "judge.speech=false",
    )
    inputs = load_inputs(cfg)
    if source == "world":
        octaves = melody_octaves(cfg, inputs.content, inputs.style)
        assert cfg.init.octaves is None and cfg.init.semitones  # the default: x_S's register
        expected = world_cross(inputs.content, inputs.style, RATE, octaves=octaves, semitones=True)
    else:
        expected = channel_vocoder(inputs.content, inputs.style, RATE)
    summary = run(cfg, RunContext(run_dir=tmp_path / "run"))
    generated, _ = sf.read(tmp_path / "run" / "generated.wav", dtype="float32")
    assert np.max(np.abs(generated - expected)) < 1e-4  # the 1e-6 noise and the file's rounding
    assert summary["loss/total"] == summary["loss/total_initial"]  # x_G(0) is the output: copied
    assert "eval/judge/toward_style" in summary


def test_the_run_moves_the_melody_into_x_ss_register_with_pyins_pitches():
    """melody_octaves: init.octaves as set, or from x_C's and x_S's pyin pitch when null (the
    voice near 220 Hz, x_S's A4: one up); 0 for an init that plays no cross-synthesis."""
    from audiostyle.optimisation.start import melody_octaves

    from conftest import plain_config

    content = voice()
    world = {"init.source": "world", "init.octaves": None}
    assert melody_octaves(plain_config(world), content, STYLE) == 1
    assert melody_octaves(plain_config(world, {"init.octaves": -1}), content, STYLE) == -1
    assert melody_octaves(plain_config({"init.octaves": None}), content, STYLE) == 0


def test_x_g0_made_early_is_the_one_made_in_line_and_made_once_per_clips_and_settings():
    """start_early makes x_G(0) on a thread (the run's WORLD while TensorFlow starts), with its
    octaves from pyin where init.octaves is null; it is initial_waveform's x_G(0); a second run
    in the process (a sweep's next trial) takes the cross-synthesis from memory, and other
    octaves are another."""
    from audiostyle.optimisation import start

    from conftest import plain_config

    content = voice()
    world = plain_config({"init.source": "world", "init.octaves": 1})
    made = start.start_early(world, content, STYLE)
    assert made is not None
    x0, octaves = made.result(timeout=60)
    assert octaves == 1
    np.testing.assert_allclose(x0, start.initial_waveform(world, content, STYLE, 1), atol=1e-6)
    assert start.cross_synthesised(world, content, STYLE, 1) is start.cross_synthesised(
        world, content, STYLE, 1
    ), "the second call reads the memory, not WORLD again"
    other = start.cross_synthesised(world, content, STYLE, 0)
    assert np.max(np.abs(other - start.cross_synthesised(world, content, STYLE, 1))) > 0.01
    register = plain_config({"init.source": "world", "init.octaves": None})
    assert start.start_early(register, content, STYLE).result(timeout=60)[1] == 1  # pyin's
    assert start.start_early(plain_config({"init.source": "content"}), content, STYLE) is None

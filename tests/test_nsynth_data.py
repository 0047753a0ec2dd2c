"""NSynth readers on tiny datasets in both published layouts, clip specs, tones and chords."""

import numpy as np
import pytest

from audiostyle.clips import specs
from audiostyle.clips.nsynth_data import open_dataset
from audiostyle.clips.synth import sine, tone_sequence
from audiostyle.config.validation import validate
from audiostyle.errors import ConfigError

from conftest import PAPER_NOTES, harmonic_note, write_nsynth_folder, write_tfrecord

NOTES = {
    "vocal_acoustic_000-060-100": harmonic_note(60, 4000),
    "vocal_acoustic_000-064-075": harmonic_note(64, 4000),
    "flute_synthetic_002-067-100": harmonic_note(67, 4000),
}


def test_folder_and_tfrecord_layouts_read_the_same_notes(tmp_path):
    folder = write_nsynth_folder(tmp_path / "nsynth", NOTES)
    record = write_tfrecord(tmp_path / "nsynth-test.tfrecord", folder)
    for root in (folder, record):
        ds = open_dataset(root)
        assert sorted(ds.notes) == sorted(NOTES)
        assert ds.notes["vocal_acoustic_000-064-075"]["velocity"] == 75
        assert ds.notes["flute_synthetic_002-067-100"]["instrument_family_str"] == "flute"
        audio, rate = ds.audio("vocal_acoustic_000-064-075")
        assert rate == 16000
        np.testing.assert_allclose(audio, NOTES["vocal_acoustic_000-064-075"], atol=1e-7)
        assert ds.select(family="vocal") == [
            "vocal_acoustic_000-060-100",
            "vocal_acoustic_000-064-075",
        ]
        assert ds.select(source="synthetic") == ["flute_synthetic_002-067-100"]
        assert ds.select(pitch_range=(62, 70)) == [
            "flute_synthetic_002-067-100",
            "vocal_acoustic_000-064-075",
        ]
    # an nsynth: spec reads the note through the same path a run uses
    x = specs.load("nsynth:vocal_acoustic_000-060-100", 16000, 4000, None, str(record))
    np.testing.assert_allclose(x, NOTES["vocal_acoustic_000-060-100"], atol=1e-7)


def test_chord_is_the_aligned_sum_of_its_notes(tmp_path):
    root = str(write_nsynth_folder(tmp_path / "nsynth", NOTES))
    short = tmp_path / "short.wav"
    import soundfile as sf

    sf.write(short, harmonic_note(72, 1000), 16000, subtype="FLOAT")
    spec = f"chord:vocal_acoustic_000-060-100,nsynth:flute_synthetic_002-067-100,{short}"
    chord = specs.load(spec, 16000, None, None, root)
    expected = NOTES["vocal_acoustic_000-060-100"] + NOTES["flute_synthetic_002-067-100"]
    expected[:1000] += harmonic_note(72, 1000)
    np.testing.assert_allclose(chord, expected, atol=1e-6)
    assert specs.input_paths(spec, root)[-1] == short


def test_tones_are_sines_and_the_sequence_is_low_silence_high():
    x = specs.load("tone:441", 16000, 16000, None, None)
    assert np.argmax(np.abs(np.fft.rfft(x))) == 441  # 1 Hz bins over one second
    seq = tone_sequence(200.0, 800.0, 48000, 16000)
    low, gap, high = seq[:16000], seq[16000:32000], seq[32000:]
    assert np.argmax(np.abs(np.fft.rfft(low))) == 200
    assert not np.any(gap)
    assert np.argmax(np.abs(np.fft.rfft(high))) == 800
    np.testing.assert_allclose(specs.load("tones:200,800", 16000, 48000, None, None), seq)
    np.testing.assert_allclose(sine(100.0, 160, 16000)[40], 0.5, atol=1e-6)


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("tone:abc", "not a frequency"),
        ("tone:9000", "Nyquist"),
        ("tones:200", "tones:LOW,HIGH"),
        ("chord:tones:1,2", "cannot be a chord part"),
        ("nsynth:flute", "not an NSynth note_str"),
        ("nsynth:flute_synthetic_002-061-100", "has no note flute_synthetic_002-061-100"),
        ("chord:vocal_acoustic_000-060-100,,", "non-empty parts"),
        ("example:nope", "no bundled example"),
    ],
)
def test_bad_specs_fail_in_validate_with_the_reason(compose_config, tmp_path, spec, needle):
    root = write_nsynth_folder(tmp_path / "nsynth", NOTES)
    cfg = compose_config(f"data.nsynth_root={root}")
    cfg.audio.style = spec
    with pytest.raises(ConfigError, match=needle) as err:
        validate(cfg)
    assert "audio.style" in str(err.value)


def test_nsynth_root_must_be_given_and_exist(compose_config, tmp_path):
    cfg = compose_config("experiment=pitch_pitch_low_high")
    with pytest.raises(ConfigError, match="data.nsynth_root"):
        validate(cfg)
    cfg.data.nsynth_root = str(tmp_path / "missing")
    with pytest.raises(ConfigError, match="does not exist"):
        validate(cfg)
    cfg.data.nsynth_root = str(tmp_path)
    with pytest.raises(ConfigError, match="no examples.json"):
        validate(cfg)


@pytest.mark.parametrize(
    "name",
    [
        "pitch_pitch_low_high",
        "pitch_pitch_high_low",
        "pitch_to_chord",
        "chord_to_pitch",
        "voice_flute",
    ],
)
def test_paper_experiments_compose_as_the_paper_states(compose_config, tmp_path, name):
    notes = {k: harmonic_note(p, 64000) for k, p in PAPER_NOTES.items()}
    root = write_nsynth_folder(tmp_path / "nsynth", notes)
    cfg = compose_config(f"experiment={name}", f"data.nsynth_root={root}", tiny=False)
    validate(cfg)  # every note the experiment names is in the dataset
    assert cfg.encoder.network.value == "nsynth" and cfg.init.source.value == "content"
    if name == "voice_flute":
        assert cfg.loss.type.value == "gram" and cfg.content_layer.layer == "final_relu"
        assert cfg.style_layers.layers == [f"A_{i}" for i in range(1, 31)]
        assert cfg.style_layers.weights is None and cfg.judge.transcript
    else:
        assert cfg.loss.type.value == "l2" and cfg.measure.pitch
        assert cfg.style_layers.layers == ["A_1", "B_1", "A_2", "B_2", "A_3"]
        assert cfg.style_layers.weights == [0.2] * 5
    assert cfg.audio.duration == 3.0 and cfg.optim.steps == 100  # "three seconds", 100 iterations
    figures = {"voice_flute": [0, 1, 75, 100], "pitch_to_chord": [0, 30, 100]}  # figures 4, 3
    figures["chord_to_pitch"] = figures["pitch_to_chord"]
    assert cfg.snapshots == figures.get(name, [0, 50, 99])  # figure 2: iterations 50 and 99


def test_a_truncated_or_compressed_tfrecord_is_a_clear_error(tmp_path):
    import gzip

    folder = write_nsynth_folder(tmp_path / "nsynth", NOTES)
    record = write_tfrecord(tmp_path / "whole.tfrecord", folder)
    data = record.read_bytes()
    cut = tmp_path / "cut.tfrecord"
    cut.write_bytes(data[:-10])
    with pytest.raises(ConfigError, match="truncated"):
        open_dataset(cut)
    packed = tmp_path / "packed.tfrecord"
    packed.write_bytes(gzip.compress(data))
    with pytest.raises(ConfigError, match="not an uncompressed TFRecord"):
        open_dataset(packed)

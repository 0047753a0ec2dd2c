"""The audio loader on whatever a user has: every file is a valid clip or a clear AudioError."""

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from audiostyle.clips.audio import HOP, write_wav
from audiostyle.clips.specs import load
from audiostyle.errors import AudioError

RATE = 16000
SUBTYPES = {  # soundfile subtype -> the numpy dtype written
    "PCM_U8": np.int16,
    "PCM_16": np.int16,
    "PCM_24": np.int32,
    "PCM_32": np.int32,
    "FLOAT": np.float32,
    "DOUBLE": np.float64,
}


@st.composite
def audio_files(draw):
    subtype = draw(st.sampled_from(sorted(SUBTYPES)))
    dtype = SUBTYPES[subtype]
    shape = (draw(st.integers(0, 3000)), draw(st.integers(1, 6)))
    if np.issubdtype(dtype, np.integer):
        elements = st.integers(np.iinfo(dtype).min, np.iinfo(dtype).max)
    else:
        elements = st.floats(width=32 if dtype == np.float32 else 64, allow_subnormal=True)
    data = draw(arrays(dtype, shape, elements=elements))
    rate = draw(st.integers(1, 400_000))
    return data, rate, subtype


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(audio_files(), st.sampled_from([None, 1024, 48000]), st.sampled_from([None, 0.9]))
# found by CI: one sample of 8.9e36 at 1 Hz, upsampled in float32, gave NaN; 3e38 overflows
@example((np.array([[8.88562826e36]]), 1, "DOUBLE"), None, None)
@example((np.full((600, 2), 3.0e38, np.float32), 8000, "FLOAT"), None, 0.9)
@example((np.array([[1.0e300], [-1.0e300]]), 16000, "DOUBLE"), None, None)
def test_any_file_is_a_clip_or_a_clear_error(file, n, peak):
    data, rate, subtype = file
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.wav"
        sf.write(path, data, rate, subtype=subtype)
        try:
            x = load(str(path), RATE, n, peak, None)
        except AudioError as err:
            assert str(path) in str(err)
            event(str(err).split(": ")[1].split(" (")[0])
            return
    event("a valid clip")
    assert x.dtype == np.float32 and x.ndim == 1 and np.all(np.isfinite(x))
    if n is not None:
        assert len(x) == n
    if peak is not None:
        assert np.max(np.abs(x)) == pytest.approx(peak, rel=1e-5)


def test_stereo_resampled_long_clip_is_mixed_resampled_and_cropped(tmp_path, caplog):
    t = np.arange(44100 * 60) / 44100  # a minute at 44.1 kHz, far longer than needed
    left, right = 0.5 * np.sin(2 * np.pi * 440 * t), 0.1 * np.sin(2 * np.pi * 880 * t)
    path = tmp_path / "long.wav"
    sf.write(path, np.stack([left, right], axis=1), 44100, subtype="PCM_24")
    caplog.set_level("INFO")
    x = load(str(path), RATE, 2 * HOP, None, None)
    assert len(x) == 2 * HOP
    mixed = (left + right)[: 2 * HOP * 44100 // RATE] / 2
    assert np.max(np.abs(x)) == pytest.approx(np.max(np.abs(mixed)), rel=0.05)
    for words in ("mixed 2 channels", "resampled from 44100 Hz", "read the first", "cropped"):
        assert words in caplog.text, words


def test_reading_only_the_start_resamples_as_the_whole_file_would(tmp_path):
    """The part read reaches past the crop far enough for soxr's filter (64 frames did not:
    the last samples were off by 5e-3)."""
    noise = 0.3 * np.random.default_rng(0).normal(size=44100 * 5)
    path = tmp_path / "long.wav"
    sf.write(path, noise, 44100, subtype="FLOAT")
    part = load(str(path), RATE, 16 * HOP, None, None)
    whole = load(str(path), RATE, None, None, None)[: 16 * HOP]
    np.testing.assert_allclose(part, whole, atol=1e-5)


def test_a_clip_shorter_than_one_hop_is_zero_padded(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, np.full(100, 0.25), RATE)
    x = load(str(path), RATE, HOP, 0.5, None)
    assert len(x) == HOP and np.allclose(x[:100], 0.5) and not np.any(x[100:])


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b""), "not a readable audio file"),
        (lambda p: p.write_text("not audio at all\n" * 50), "not a readable audio file"),
        (lambda p: sf.write(p, np.zeros((0, 1)), RATE), "contains no samples"),
        (lambda p: sf.write(p, np.zeros(4000), RATE), "is silent"),
        # +-1 16-bit step of dither: scaled to audio.peak it would be 89 dB louder noise
        (lambda p: sf.write(p, np.tile([1, -1], 2000) / 32768, RATE, "PCM_16"), "nearly"),
        (lambda p: sf.write(p, np.array([0.1, np.nan, 0.2]), RATE, "FLOAT"), "NaN or infinite"),
        (lambda p: sf.write(p, np.array([0.1, np.inf]), RATE, "DOUBLE"), "NaN or infinite"),
    ],
    ids=["missing", "directory", "empty", "text", "no-frames", "silent", "dither", "nan", "inf"],
)
def test_bad_clips_name_the_file_and_the_reason(tmp_path, make, reason):
    path = tmp_path / "in.wav"
    make(path)
    with pytest.raises(AudioError) as err:
        load(str(path), RATE, 1024, 0.9, None)
    assert str(path) in str(err.value) and reason in str(err.value)


def test_a_file_without_read_permission_says_so(tmp_path):
    """Checked in a forked child that is not root when the tests are (root reads anything)."""
    path = tmp_path / "locked.wav"
    sf.write(path, np.full(1024, 0.1), RATE)
    path.chmod(0)
    tmp_path.chmod(0o755)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        message = "no error"
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)  # nobody
            load(str(path), RATE, 1024, 0.9, None)
        except AudioError as err:
            message = str(err)
        except BaseException as err:
            message = f"{type(err).__name__}: {err}"
        finally:
            os.write(writer, message.encode())
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        message = pipe.read()
    os.waitpid(pid, 0)
    assert message == f"{path}: cannot be read (Permission denied)"


def test_write_wav_refuses_non_finite_samples_and_inputs(tmp_path):
    out = tmp_path / "out.wav"
    with pytest.raises(AudioError, match="non-finite"):
        write_wav(out, np.array([0.0, np.nan], np.float32), RATE)
    assert not out.exists() and not list(tmp_path.iterdir())
    source = tmp_path / "source.wav"
    sf.write(source, np.full(64, 0.1), RATE)
    before = source.read_bytes()
    with pytest.raises(AudioError, match="refusing to overwrite an input"):
        write_wav(source, np.zeros(64, np.float32), RATE, protected=(source,))
    assert source.read_bytes() == before

"""musicnn's checkpoints in TF2: front end against librosa, gradients, weights, taps, tags, and
values recorded from musicnn's own graph (scripts/musicnn_crosscheck.py)."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from audiostyle.errors import CheckpointError
from audiostyle.networks import musicnn_frontend as fe
from audiostyle.networks import musicnn_weights as mw
from audiostyle.networks.musicnn import MUSICNN_MODELS, MusicnnNetwork, tap_names

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "audiostyle" / "clips" / "examples"
REFERENCE = Path(__file__).parent / "data" / "musicnn_reference.json"

# musicnn's wheel is part of the README's install (--no-deps): these tests need it, as runs do


def example(name: str) -> np.ndarray:
    return sf.read(EXAMPLES / f"{name}.wav", dtype="float32")[0]


def librosa_log_mel(x: np.ndarray) -> np.ndarray:
    """musicnn's extractor's front end, as it writes it."""
    import librosa

    mel = librosa.feature.melspectrogram(y=x, sr=16000, hop_length=256, n_fft=512, n_mels=96).T
    with np.errstate(over="ignore"):
        return np.log10(10000 * mel.astype(np.float16) + 1)


def test_missing_wheel_is_one_line(monkeypatch):
    monkeypatch.setattr(mw.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CheckpointError, match=r"pip install --no-deps musicnn==0\.1\.0"):
        mw.checkpoint_prefix("MTT_musicnn")


@pytest.mark.parametrize("model", MUSICNN_MODELS)
def test_every_model_tensor_is_read_and_none_is_missing(model):
    stored = mw.stored_shapes(model)
    model_tensors = {k: v for k, v in stored.items() if not mw.is_training_state(k)}
    assert model_tensors == mw.expected_shapes(model)


@pytest.mark.parametrize("peak", [0.1, 0.9])
def test_log_mel_matches_librosa_and_float16(peak):
    rng = np.random.default_rng(0)
    t = np.arange(fe.MIN_SAMPLES) / 16000
    x = np.sin(2 * np.pi * 440 * t) + 0.3 * rng.normal(size=t.size)
    x = (x / np.abs(x).max() * peak).astype(np.float32)
    want = librosa_log_mel(x).astype(np.float32)
    ours = fe.log_mel(tf.constant(x[None])).numpy()[0]
    assert ours.shape == want.shape == (fe.PATCH_FRAMES, 96)
    finite = np.isfinite(want)  # musicnn's float16 product overflows at full scale
    assert finite.all() if peak == 0.1 else not finite.all()
    # librosa sums the mel bands in another order: a float32 difference may move a value across
    # a float16 rounding boundary (1 bin in 17408 on the bundled flute), by one float16 step
    diff = np.abs(ours - want)[finite]
    assert (diff > 1e-6).mean() < 1e-3
    assert (diff <= np.abs(want[finite]) * 2.0**-10 + 1e-6).all()
    assert np.isfinite(ours).all() and (ours[~finite] > 4.8).all()  # float32 there instead


def test_gradient_matches_finite_differences():
    net = MusicnnNetwork("MTT_musicnn", dtype=tf.float64, exact=False)
    rng = np.random.default_rng(1)
    x = tf.constant(0.05 * rng.normal(size=(1, fe.MIN_SAMPLES)))
    weights = tf.constant(rng.normal(size=(1, fe.PATCH_FRAMES, 64)))

    def loss(wave):
        return tf.reduce_sum(net.features(wave, ["cnn2"])["cnn2"] * weights)

    with tf.GradientTape() as tape:
        tape.watch(x)
        value = loss(x)
    grad = tape.gradient(value, x).numpy()[0]
    eps = 1e-6
    for i in (3000, 20000, 40000):
        step = np.zeros(x.shape)
        step[0, i] = eps
        numeric = (loss(x + step) - loss(x - step)).numpy() / (2 * eps)
        assert grad[i] == pytest.approx(numeric, rel=1e-4, abs=1e-6 * np.abs(grad).max())


def test_exact_front_end_passes_the_smooth_gradient():
    x = tf.constant(
        0.1 * np.random.default_rng(2).normal(size=(1, fe.MIN_SAMPLES)).astype(np.float32)
    )
    grads = []
    for exact in (True, False):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(fe.log_mel(x, exact=exact))
        grads.append(tape.gradient(y, x).numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-2, atol=1e-3 * np.abs(grads[1]).max())


@pytest.mark.parametrize("model", ["MTT_musicnn", "MTT_vgg"])
def test_tap_shapes_two_clips_of_two_patches(model):
    net = MusicnnNetwork(model)
    wave = tf.zeros([2, 2 * fe.PATCH_FRAMES * fe.HOP])  # 374 frames: two patches
    taps = net(wave)
    assert tuple(taps) == tap_names(model)
    frames = 2 * fe.PATCH_FRAMES
    want = {
        "logmel": (frames, 96), "timbral": (frames, 408), "temporal": (frames, 153),
        "cnn1": (frames, 64), "cnn2": (frames, 64), "cnn3": (frames, 64),
        "mean_pool": (2, 753), "max_pool": (2, 753), "penultimate": (2, 200),
        "pool1": (2 * 92, 48 * 128), "pool2": (2 * 46, 24 * 128), "pool3": (2 * 23, 12 * 128),
        "pool4": (2 * 11, 6 * 128), "pool5": (2 * 2, 128), "logits": (2, 50), "taggram": (2, 50),
    }  # fmt: skip
    assert {n: tuple(t.shape) for n, t in taps.items()} == {n: (2, *want[n]) for n in taps}
    assert net.tags(wave).shape == (2, 50)
    assert net.embedding(wave).shape == (2, 200 if model == "MTT_musicnn" else 256)


def test_tagger_hears_flute_as_flute_and_speech_as_voice():
    net = MusicnnNetwork("MTT_musicnn")
    voice = [net.labels.index(t) for t in ("vocal", "voice", "female", "woman", "male", "man")]
    flute = net.labels.index("flute")
    # measured: flute 0.157 vs voice 0.010; speech (padded to a patch) voice 0.323 vs flute 0.001
    heard_flute = net.tags(tf.constant(example("flute")[None])).numpy()[0]
    assert heard_flute[flute] > 5 * heard_flute[voice].max()
    heard_speech = net.tags(tf.constant(example("speech")[None])).numpy()[0]
    assert heard_speech[voice].max() > 20 * heard_speech[flute]


@pytest.mark.parametrize("model", MUSICNN_MODELS)
def test_equals_musicnns_own_graph(model):
    """Values scripts/musicnn_crosscheck.py recorded from musicnn's extractor (TF1 graph on
    librosa's log-mel) for the bundled flute at peak 0.1."""
    ref = json.loads(REFERENCE.read_text())["models"][model]
    x = example("flute")
    x = x / np.abs(x).max() * np.float32(0.1)
    net = MusicnnNetwork(model)
    taps = net.from_patches(fe.patches(fe.log_mel(tf.constant(x[None]))))
    np.testing.assert_allclose(taps["taggram"].numpy()[0], ref["taggram"], rtol=0, atol=1e-4)
    for name, picked in ref["taps"].items():
        flat = taps[name].numpy().reshape(-1)
        np.testing.assert_allclose(flat[picked["index"]], picked["value"], rtol=1e-5, atol=1e-4)


def test_float16_rounding_without_a_float16_op_is_numpys():
    """The front end rounds to float16 in float32 bits (a float16 cast makes oneDNN print an
    error line on some CPUs): every finite float16's bits, and random float32s rounded, equal
    numpy's. Rounding is exact by definition, so equal to the bit is the point."""
    from audiostyle.networks.musicnn_frontend import as_half, half_bits

    h = np.arange(0, 0x7C00, dtype=np.uint16)
    np.testing.assert_array_equal(
        half_bits(tf.constant(h.view(np.float16).astype(np.float32))).numpy(), h
    )
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(0, 1e-4, 5000), 10 ** rng.uniform(-9, 4.8, 50000)])
    x = x.astype(np.float32)
    np.testing.assert_array_equal(
        as_half(tf.constant(x)).numpy(), x.astype(np.float16).astype(np.float32)
    )

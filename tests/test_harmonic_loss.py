"""The harmonic-profile loss term: its TF profile, its value at a known answer, its gradient."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import tensorflow as tf

from audiostyle.errors import AudioError
from audiostyle.losses.harmonic import HarmonicLoss
from audiostyle.measures import timbre

from conftest import SPECTRAL, plain_config

RATE = 16000


def tone(f0: float, power: float, seconds: float = 1.0) -> np.ndarray:
    """Harmonics 1..8 of f0 with amplitudes 1/k^power, peak 0.5."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k**power for k in range(1, 9))
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


@pytest.fixture(scope="module")
def clips() -> dict[str, np.ndarray]:
    return {"c": tone(220.0, 1.0), "s": tone(330.0, 2.0), "g": tone(220.0, 2.0)}


def test_tf_profile_matches_numpy_reference(clips):
    """Per frame, the TF band powers give timbre._harmonic_db's dB within 0.5 dB."""
    x = clips["c"]
    term = HarmonicLoss(x, clips["s"], RATE)
    tf_db = term.profiles(tf.constant(x[None, :])).numpy()
    f0, _ = timbre.f0_track(x, RATE)
    power = np.abs(librosa.stft(x, n_fft=timbre.FRAME, hop_length=timbre.HOP)) ** 2
    frames = term.frames.numpy()
    ref = np.array([timbre._harmonic_db(power[:, i], f0[i], RATE) for i in frames])
    keep = term.keep.numpy() > 0
    assert keep.sum() >= 8 * len(frames) // 2 and len(frames) > 20
    assert np.max(np.abs(tf_db[keep] - ref[keep])) < 0.5


def test_loss_is_near_zero_at_the_style_profile_and_large_for_the_content(clips):
    term = HarmonicLoss(clips["c"], clips["s"], RATE)
    at_style = float(term(tf.constant(clips["g"][None, :])))
    at_content = float(term(tf.constant(clips["c"][None, :])))
    assert at_style < 1.0  # dB^2
    assert at_content > 50.0 * max(at_style, 0.1)


def test_moved_by_an_octave_the_term_reads_x_gs_profile_an_octave_up(clips):
    """x_G plays x_C's pitch one octave up with x_S's balance (init=world in x_S's register):
    the term with octaves=1 reads it as x_S's profile; at x_C's own pitch it reads x_G's
    harmonics 1, 2, 3... as the 2nd, 4th, 6th of a tone an octave down, far from x_S's."""
    up = tone(440.0, 2.0)
    moved = float(HarmonicLoss(clips["c"], clips["s"], RATE, octaves=1)(tf.constant(up[None])))
    unmoved = float(HarmonicLoss(clips["c"], clips["s"], RATE)(tf.constant(up[None])))
    assert moved < 1.0  # dB^2, as at x_S's profile at x_C's pitch
    assert unmoved > 50.0 * max(moved, 0.1)


def test_gradient_is_the_terms_finite_difference_and_descends(clips):
    """At an x_G that is neither clip, the gradient along three random unit directions is the
    term's central difference (float32, step 0.03: measured within 0.07%; a gradient that
    ignores how the frame's total moves with x_G, stop_gradient on it, is 8-50% off), and a
    small step against it lowers the term (measured 94.3 -> 89.3 dB^2)."""
    term = HarmonicLoss(clips["c"], clips["s"], RATE)
    assert len(term.frames) > 50  # the tones are voiced and loud throughout: every frame counts
    x = clips["c"] + 0.3 * clips["g"]
    wave = tf.Variable(x[None])
    with tf.GradientTape() as tape:
        loss = term(wave)
    grad = tape.gradient(loss, wave).numpy()[0].astype(np.float64)
    assert np.all(np.isfinite(grad))

    def at(y: np.ndarray) -> float:
        return float(term(tf.constant(y[None].astype(np.float32))))

    rng = np.random.default_rng(0)
    step = 0.03
    for _ in range(3):
        d = rng.normal(size=x.shape)
        d /= np.linalg.norm(d)
        want = (at(x + step * d) - at(x - step * d)) / (2 * step)
        assert grad @ d == pytest.approx(want, rel=1e-2)
    assert at(x - 1e-2 * grad / np.abs(grad).max()) < float(loss) - 1.0


def test_unpitched_style_is_refused(clips):
    silence = np.zeros(RATE, np.float32)  # (pyin hears voiced frames even in white noise)
    with pytest.raises(AudioError, match="pitched x_S"):
        HarmonicLoss(clips["c"], silence, RATE)


def test_term_counts_in_the_spectral_objective_and_chunks_match_it(clips):
    from audiostyle.losses.chunked import ChunkedObjective
    from audiostyle.networks.encoder import build_network
    from audiostyle.optimisation.transfer import build_objective

    cfg = plain_config(SPECTRAL, {"loss.harmonic_weight": 0.5, "encoder.spectral.filters": 64})
    objective = build_objective(cfg, build_network(cfg))
    objective.set_targets(tf.constant(clips["c"][None]), tf.constant(clips["s"][None]))
    terms = objective(tf.constant(clips["c"][None]))
    assert float(terms.harmonic) > 10.0
    expected = (
        float(terms.style)
        + cfg.alpha * float(terms.content)
        + cfg.loss.energy_weight * float(terms.energy)
        + 0.5 * float(terms.harmonic)
    )
    assert float(terms.total) == pytest.approx(expected, rel=1e-5)
    # in chunks (the term on the whole clip, the network chunk by chunk): the same loss and
    # gradient at an x_G that is neither clip
    x = tf.constant((clips["c"] + 0.3 * clips["g"])[None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        whole = objective(x)
    grad = tape.gradient(whole.total, x).numpy()
    chunked = ChunkedObjective(build_objective(cfg, objective.network), 4096)
    chunked.set_targets(tf.constant(clips["c"][None]), tf.constant(clips["s"][None]))
    parts, part_grad = chunked(x)
    for name in ("total", "harmonic", "style", "energy"):
        assert float(getattr(parts, name)) == pytest.approx(float(getattr(whole, name)), rel=1e-4)
    assert float(whole.harmonic) > 1.0
    np.testing.assert_allclose(part_grad.numpy(), grad, atol=1e-4 * np.abs(grad).max())


def test_negative_weight_is_refused(compose_config):
    from audiostyle.config.validation import validate
    from audiostyle.errors import ConfigError

    with pytest.raises(ConfigError, match="harmonic_weight"):
        validate(compose_config("loss.harmonic_weight=-1"))


def test_an_unpitched_clip_turns_the_term_off_with_a_warning(clips, caplog):
    """A drum or a whisper as x_S (here silence: pyin hears no pitch) leaves nothing for the
    term to read: the run goes on without it, says so, and loss/harmonic reads 0."""
    from audiostyle.networks.encoder import build_network
    from audiostyle.optimisation.transfer import run_transfer

    cfg = plain_config(SPECTRAL, {"loss.harmonic_weight": 0.03, "encoder.spectral.filters": 64})
    silence = np.zeros_like(clips["s"])
    silence[::997] = 0.5  # clicks: not silent, not pitched
    with caplog.at_level("WARNING"):
        result = run_transfer(cfg, build_network(cfg), clips["c"][:1024], silence[:1024])
    assert "harmonic term is off" in caplog.text and "pitched x_S" in caplog.text
    assert result.history["harmonic"] == [0.0] * 3
    pitched = run_transfer(cfg, build_network(cfg), clips["c"], clips["s"])
    assert pitched.history["harmonic"][0] > 1.0

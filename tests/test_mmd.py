"""The MMD style loss against numpy, its invariances and gradient, its refusals, and a run."""

import numpy as np
import pytest
import tensorflow as tf

from audiostyle.config.schema import LossType, Normalize
from audiostyle.errors import ConfigError
from audiostyle.losses.mmd import MAX_PAIRS
from audiostyle.losses.objective import StyleTransferObjective

from conftest import (
    TINY,
    check_a_chunked_run_matches_the_whole_clip,
    check_a_spectral_run_descends,
    run_cli,
)

CHANNELS = 3


class Frames:
    """A 'network' whose one tap reads the wave [1, frames x C] as frames [1, frames, C]."""

    def features(self, wave: tf.Tensor, names: list[str]) -> dict[str, tf.Tensor]:
        return {n: tf.reshape(wave, [1, -1, CHANNELS]) for n in names}


def numpy_mmd2(g: np.ndarray, s: np.ndarray, bandwidth: float = 1.0) -> float:
    """The biased squared MMD under exp(-d^2 / 2 s^2), s^2 = bandwidth x x_S's mean d^2."""
    d2 = lambda a, b: ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)  # noqa: E731
    width2 = bandwidth * d2(s, s).mean()
    k = lambda a, b: np.exp(-d2(a, b) / (2 * width2))  # noqa: E731
    return k(g, g).mean() + k(s, s).mean() - 2 * k(g, s).mean()


def mmd_objective(style: np.ndarray, frames: int = 0, bandwidth: float = 1.0, loss=LossType.mmd):
    objective = StyleTransferObjective(
        Frames(), "x", ["x"], [1.0], loss, Normalize.none, alpha=0.0, mmd_bandwidth=bandwidth
    )
    content = tf.zeros([1, (frames or len(style)) * CHANNELS])
    objective.set_targets(content, tf.constant(style.reshape(1, -1), tf.float32))
    return objective


def style_loss(objective, frames: np.ndarray) -> float:
    return float(objective(tf.constant(frames.reshape(1, -1), tf.float32)).style)


@pytest.mark.parametrize("bandwidth", [1.0, 4.0])
def test_it_is_numpys_squared_mmd_for_clips_of_other_lengths(bandwidth):
    rng = np.random.default_rng(0)
    s, g = rng.normal(size=(37, CHANNELS)), rng.gamma(2.0, size=(21, CHANNELS))
    objective = mmd_objective(s, frames=21, bandwidth=bandwidth)
    assert style_loss(objective, g) == pytest.approx(numpy_mmd2(g, s, bandwidth), rel=1e-5)


def test_it_is_zero_for_the_styles_frames_in_any_order_and_positive_otherwise():
    rng = np.random.default_rng(1)
    s = rng.normal(size=(40, CHANNELS))
    objective = mmd_objective(s)
    assert style_loss(objective, s[rng.permutation(40)]) == pytest.approx(0.0, abs=1e-6)
    assert style_loss(objective, s + 0.5) > 1e-2


def test_it_sees_a_difference_that_a_gram_matrix_cannot():
    """Frames of +-v and frames of v alone have the same Gram matrix (v v^T): the Gram loss is
    zero, the Gaussian MMD is not."""
    v = np.array([1.0, -0.5, 2.0])
    s = np.stack([v, -v] * 10)
    g = np.stack([v] * 20)
    assert style_loss(mmd_objective(s, loss=LossType.gram), g) == pytest.approx(0.0, abs=1e-6)
    assert style_loss(mmd_objective(s), g) == pytest.approx(numpy_mmd2(g, s), rel=1e-5)
    assert numpy_mmd2(g, s) > 0.1


def test_its_gradient_is_the_numpy_losss_finite_difference():
    rng = np.random.default_rng(2)
    s, g = rng.normal(size=(15, CHANNELS)), rng.normal(size=(12, CHANNELS))
    objective = mmd_objective(s, frames=12)
    wave = tf.Variable(g.reshape(1, -1), dtype=tf.float32)
    with tf.GradientTape() as tape:
        style = objective(wave).style
    grad = tape.gradient(style, wave).numpy().reshape(g.shape)
    step, want = 1e-5, np.zeros_like(g)
    for index in np.ndindex(g.shape):
        up, down = g.copy(), g.copy()
        up[index] += step
        down[index] -= step
        want[index] = (numpy_mmd2(up, s) - numpy_mmd2(down, s)) / (2 * step)
    np.testing.assert_allclose(grad, want, rtol=1e-3, atol=1e-6)


def test_a_steady_style_keeps_a_kernel_of_finite_width():
    """Identical frames (no spread to set the width by) still give a finite, descending loss."""
    s = np.ones((20, CHANNELS))
    objective = mmd_objective(s)
    far, near = style_loss(objective, s + 1.0), style_loss(objective, s + 1e-4)
    assert np.isfinite(far) and np.isfinite(near) and 0 < near < far


def test_a_layer_with_too_many_frame_pairs_is_refused_before_any_step():
    frames = int(np.sqrt(MAX_PAIRS)) + 1
    with pytest.raises(ConfigError, match="loss=mmd compares every pair .*the spectral network"):
        mmd_objective(np.zeros((frames, CHANNELS)))


@pytest.mark.parametrize(
    "alone", [False, True], ids=["the default's terms", "the style term alone"]
)
def test_a_spectral_run_with_the_mmd_loss_ends_below_its_start(alone):
    check_a_spectral_run_descends("mmd", alone)


def test_a_clip_in_chunks_takes_the_whole_clips_steps():
    check_a_chunked_run_matches_the_whole_clip("mmd")


def test_a_bandwidth_that_is_not_positive_is_refused(compose_config):
    from audiostyle.config.validation import validate

    for value in ("0", "-1", "nan"):
        with pytest.raises(ConfigError, match="mmd_bandwidth must be a finite number > 0"):
            validate(compose_config(f"loss.mmd_bandwidth={value}"))


def test_loss_mmd_runs_from_the_command_line(tmp_path):
    proc = run_cli(
        "run.py", "loss=mmd", "loss.mmd_bandwidth=2", *TINY, "tracking=none", f"runs_dir={tmp_path}"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (summary,) = tmp_path.rglob("summary.json")
    assert (summary.parent / "generated.wav").is_file()
    composed = (summary.parent / ".hydra" / "config.yaml").read_text()
    assert "type: mmd" in composed and "mmd_bandwidth: 2" in composed

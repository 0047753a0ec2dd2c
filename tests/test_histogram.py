"""The histogram style loss against numpy and an optimal assignment, its invariances, and a run."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.optimize import linear_sum_assignment

from audiostyle.config.schema import LossType, Normalize
from audiostyle.losses.objective import StyleTransferObjective

from conftest import (
    TINY,
    check_a_chunked_run_matches_the_whole_clip,
    check_a_spectral_run_descends,
    run_cli,
)


class Identity:
    """A 'network' whose one tap is its input [1, time] as [1, time, 1]: the loss on raw values."""

    def features(self, wave: tf.Tensor, names: list[str]) -> dict[str, tf.Tensor]:
        return {n: wave[..., None] for n in names}


def histogram_objective(style: np.ndarray, normalize=Normalize.per_layer, length: int = 0):
    objective = StyleTransferObjective(
        Identity(), "x", ["x"], [1.0], LossType.histogram, normalize, alpha=0.0
    )
    content = tf.zeros([1, length or len(style)])
    objective.set_targets(content, tf.constant(style[None], tf.float32))
    return objective


def style_loss(objective, x: np.ndarray) -> float:
    return float(objective(tf.constant(x[None], tf.float32)).style)


def test_equal_lengths_give_the_optimal_assignments_squared_distance():
    """The squared 1-D Wasserstein-2 distance: no pairing of x's values with x_S's costs less
    than the sorted one (scipy's assignment finds the cheapest)."""
    rng = np.random.default_rng(0)
    x, s = rng.normal(size=40), rng.gamma(2.0, size=40)
    cost = (x[:, None] - s[None, :]) ** 2
    rows, cols = linear_sum_assignment(cost)
    want = cost[rows, cols].sum() / np.sum(s**2)
    got = style_loss(histogram_objective(s), x)
    assert got == pytest.approx(want, rel=1e-5)
    assert got < np.sum((x - s) ** 2) / np.sum(s**2)  # less than pairing by time


def test_other_lengths_read_the_styles_quantiles_as_np_interp_does():
    rng = np.random.default_rng(1)
    s, x = rng.normal(size=57), rng.normal(size=23)
    levels = lambda n: (np.arange(n) + 0.5) / n  # noqa: E731
    quantiles = np.interp(levels(23), levels(57), np.sort(s))
    want = np.mean((np.sort(x) - quantiles) ** 2)
    objective = histogram_objective(s, Normalize.none, length=23)
    assert style_loss(objective, x) == pytest.approx(want, rel=1e-5)


def test_it_ignores_the_order_in_time_and_sees_the_distribution():
    rng = np.random.default_rng(2)
    s = rng.normal(size=64)
    objective = histogram_objective(s)
    assert style_loss(objective, rng.permutation(s)) == pytest.approx(0.0, abs=1e-12)
    assert style_loss(objective, s[::-1].copy()) == pytest.approx(0.0, abs=1e-12)
    # the same mean and power (one second moment, as a one-channel Gram sees) but another shape
    flat = rng.uniform(-1, 1, size=64)
    flat = (flat - flat.mean()) / flat.std() * s.std() + s.mean()
    assert style_loss(objective, flat) > 1e-3


def test_its_gradient_moves_each_value_to_the_styles_value_at_its_rank():
    rng = np.random.default_rng(3)
    s, x = rng.normal(size=30), rng.normal(size=30)
    objective = histogram_objective(s, Normalize.none)
    wave = tf.Variable(x[None], dtype=tf.float32)
    with tf.GradientTape() as tape:
        style = objective(wave).style
    grad = tape.gradient(style, wave).numpy()[0]
    at_rank = np.sort(s)[np.argsort(np.argsort(x))]
    np.testing.assert_allclose(grad, 2 * (x - at_rank) / 30, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize(
    "alone", [False, True], ids=["the default's terms", "the style term alone"]
)
def test_a_spectral_run_with_the_histogram_loss_ends_below_its_start(alone):
    check_a_spectral_run_descends("histogram", alone)


def test_a_clip_in_chunks_takes_the_whole_clips_steps():
    check_a_chunked_run_matches_the_whole_clip("histogram")


def test_loss_histogram_runs_from_the_command_line(tmp_path):
    """The config group composes and a run writes its outputs, as `python run.py loss=histogram`."""
    proc = run_cli("run.py", "loss=histogram", *TINY, "tracking=none", f"runs_dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (summary,) = tmp_path.rglob("summary.json")
    assert (summary.parent / "generated.wav").is_file()
    assert "type: histogram" in (summary.parent / ".hydra" / "config.yaml").read_text()

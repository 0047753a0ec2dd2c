"""The step loop: host syncs every runtime.log_every steps, every step's stats still delivered."""

import numpy as np
import pytest
import tensorflow as tf

from audiostyle.networks.encoder import build_network
from audiostyle.optimisation.transfer import build_objective, run_transfer

from conftest import SPECTRAL, plain_config


def test_logging_every_few_steps_delivers_each_step_and_snapshot_in_order():
    rng = np.random.default_rng(0)
    content, style = (0.3 * rng.normal(size=(2, 1024))).astype(np.float32)
    runs = {}
    for every in (1, 3):
        cfg = plain_config(
            SPECTRAL,
            {"optim.steps": 5, "snapshots": [0, 2, 5], "runtime.log_every": every},
            {"optim.keep_best": False},  # the output is x_G(5), the last iterate
        )
        events = []
        result = run_transfer(
            cfg,
            build_network(cfg),
            content,
            style,
            on_step=lambda s, e=events: e.append(("step", s.step, s.total)),
            on_snapshot=lambda i, w, e=events: e.append(("snapshot", i, w.copy())),
        )
        runs[every] = (events, result)
    (eager_events, eager), (batched_events, batched) = runs[1], runs[3]
    order = [(kind, i) for kind, i, _ in batched_events]
    assert order == [(kind, i) for kind, i, _ in eager_events]
    assert [i for kind, i in order if kind == "step"] == [0, 1, 2, 3, 4, 5]  # 5: the output
    assert order.index(("snapshot", 2)) < order.index(("step", 2))  # x_G(2) before step 2
    for (_, _, a), (_, _, b) in zip(eager_events, batched_events):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(batched.history["total"], eager.history["total"], rtol=1e-6)
    assert len(batched.history["seconds"]) == 6 and min(batched.history["seconds"]) > 0
    # the last loss is the output's, x_G(5): evaluated, not stepped from
    np.testing.assert_array_equal(  # snapshot 5
        batched_events[-2][2], batched.output, err_msg="x_G(5)'s samples, copied"
    )
    objective = build_objective(cfg, build_network(cfg))
    objective.set_targets(tf.constant(content[None]), tf.constant(style[None]))
    output_loss = float(objective(tf.constant(batched.output[None])).total)
    assert batched.history["total"][-1] == pytest.approx(output_loss, rel=1e-5)
    assert batched.history["total"][-1] != batched.history["total"][-2]


def test_the_outputs_gradient_need_not_be_finite_its_loss_must():
    """x_G(steps) is evaluated, never stepped from: only a step's gradient is checked."""
    from audiostyle.errors import NumericalError
    from audiostyle.losses.objective import LossTerms
    from audiostyle.optimisation.steps import step_outputs
    from audiostyle.optimisation.transfer import StepQueue, TransferResult

    def outputs(total: float, grad_norm: float):
        zero = tf.constant(0.0)
        terms = LossTerms(tf.constant(total), zero, zero, tf.zeros([1]), zero)
        return step_outputs(terms, tf.constant(grad_norm))

    queue = StepQueue(TransferResult(np.zeros(1, np.float32)), None, None, None)
    queue.step(3, outputs(0.5, np.inf), updates=False)
    queue.flush()  # delivered, not refused
    assert queue.result.history["total"] == [0.5]
    for updates in (True, False):  # a step's infinite gradient; the output's NaN
        queue.step(4, outputs(0.5 if updates else np.nan, np.inf), updates=updates)
        with pytest.raises(NumericalError, match="iteration 4"):
            queue.flush()

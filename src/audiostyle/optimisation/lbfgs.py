"""L-BFGS-B on x_G (Ulyanov & Lebedev's optimiser): scipy's minimiser on TensorFlow's gradient.

Adam moves every sample by about its learning rate at each step, whatever the gradient's size,
so its first steps on a waveform overshoot (docs/defaults.md, "The optimiser"). L-BFGS steps
along a quasi-Newton direction and its line search (Moré-Thuente, the Wolfe conditions) accepts
a step only where the loss has fallen enough: every iterate's loss is below the one before, so
the curve cannot climb, and it has no learning rate to choose.

Iteration i's row is x_G(i), the i-th accepted iterate (x_G(0) the start). An iteration costs
one loss-and-gradient evaluation, more when its line search tries several lengths
(`TransferResult.evaluations`). When scipy stops before `optim.steps` (no further decrease that
float32 can resolve), x_G stays where it stopped and its remaining rows repeat its figures.
A point the line search tries whose loss is not finite reads as a very high loss, so the search
steps back; a start whose loss is not finite raises NumericalError, as with Adam.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import tensorflow as tf
from scipy.optimize import minimize

from audiostyle import interrupts
from audiostyle.config.schema import Config
from audiostyle.errors import NumericalError
from audiostyle.losses.chunked import ChunkedObjective
from audiostyle.losses.objective import StyleTransferObjective
from audiostyle.optimisation.domains import Parametrisation
from audiostyle.optimisation.steps import StepOutputs, StepQueue, loss_and_gradient, step_outputs
from audiostyle.phases import PhaseTimes

log = logging.getLogger(__name__)

REFUSED = 1e6  # a trial point whose loss is not finite reads as this many times the start's
MAX_LINE_SEARCH = 20  # loss evaluations an iteration's line search may take (scipy's maxls)


class Evaluator:
    """The compiled loss and gradient at a point of the optimiser's domain, as scipy wants them
    (float64, flat), with this iteration's points kept until the accepted one is recorded."""

    def __init__(
        self,
        objective: StyleTransferObjective,
        chunked: ChunkedObjective | None,
        cfg: Config,
        shape: tuple[int, ...],
        param: Parametrisation,
    ):
        self.objective, self.chunked, self.param = objective, chunked, param
        self.shape = shape
        self.compiled = tf.function(self._value, jit_compile=cfg.runtime.xla, autograph=False)
        self.count = 0
        self.refused_loss = np.inf
        self.recent: dict[bytes, tuple[tf.Tensor, StepOutputs, float, np.ndarray]] = {}

    def _value(self, var: tf.Tensor):
        terms, grad = loss_and_gradient(self.objective, self.chunked, var, self.param)
        return step_outputs(terms, tf.norm(grad)), grad

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        key = x.tobytes()
        if key in self.recent:  # scipy asks for its start twice
            return self.recent[key][2:]
        interrupts.check()  # a Ctrl-C that Python discarded (see interrupts.py)
        var = tf.constant(x.reshape(self.shape), tf.float32)
        outputs, grad = self.compiled(var)
        self.count += 1
        total, g = float(outputs.total), grad.numpy().astype(np.float64).ravel()
        if not (np.isfinite(total) and np.all(np.isfinite(g))):
            return self.refused_loss, np.zeros_like(x)
        self.recent[key] = (var, outputs, total, g)
        return total, g

    def accepted(self, x: np.ndarray) -> tuple[tf.Tensor, StepOutputs]:
        """An accepted iterate's variable and step outputs; forgets the points tried before."""
        if x.tobytes() not in self.recent:  # scipy reports points it has evaluated; if not, ask
            self(x)
        var, outputs, total, g = self.recent[x.tobytes()]
        self.recent = {x.tobytes(): (var, outputs, total, g)}
        return var, outputs


class Iterates:
    """Hands each accepted iterate to the queue; keeps the last and the lowest-loss one."""

    def __init__(self, queue: StepQueue, cfg: Config, param: Parametrisation):
        self.queue, self.param, self.steps = queue, param, cfg.optim.steps
        self.count = 0
        self.last: tuple[tf.Tensor, StepOutputs] | None = None
        self.best: tuple[tf.Tensor, float] | None = None

    def record(self, var: tf.Tensor, outputs: StepOutputs) -> None:
        i = self.count
        self.queue.visit(i, lambda: self.param.waveform(var)[0])
        self.queue.step(i, outputs, updates=i < self.steps)
        try:
            self.queue.flush()  # raises NumericalError at a start whose loss is not finite
        except NumericalError as err:
            err.last_finite = self.param.waveform(var)[0].numpy()
            raise
        self.count += 1
        self.last = (var, outputs)
        if self.best is None or float(outputs.total) < self.best[1]:
            self.best = (var, float(outputs.total))

    def output(self, keep_best: bool) -> np.ndarray:
        var = self.best[0] if keep_best else self.last[0]
        return self.param.waveform(var)[0].numpy()


def run_lbfgs(
    cfg: Config,
    objective: StyleTransferObjective,
    chunked: ChunkedObjective | None,
    x0: np.ndarray,
    queue: StepQueue,
    param: Parametrisation,
    phases: PhaseTimes,
) -> tuple[np.ndarray, int]:
    """Up to `optim.steps` L-BFGS-B iterations from x0; the output waveform (x_G(steps), or the
    lowest-loss iterate with `optim.keep_best`) and the evaluations made."""
    o = cfg.optim
    start = param.initial(x0).numpy().astype(np.float64)
    evaluate = Evaluator(objective, chunked, cfg, start.shape, param)
    iterates = Iterates(queue, cfg, param)
    first = start.ravel()
    with phases.phase("compile", "compiling the loss and gradient (the first evaluation)"):
        loss0, _ = evaluate(first)
    began = time.perf_counter()
    if first.tobytes() not in evaluate.recent:  # not finite: the queue raises, with x_G(0)
        var = tf.constant(start, tf.float32)
        iterates.record(var, evaluate.compiled(var)[0])
    iterates.record(*evaluate.accepted(first))
    evaluate.refused_loss = REFUSED * max(abs(loss0), 1.0)
    found = minimize(
        evaluate,
        first,
        jac=True,
        method="L-BFGS-B",
        callback=lambda xk: iterates.record(*evaluate.accepted(xk)),
        options={
            "maxiter": o.steps,
            "maxcor": o.history,
            "maxfun": o.steps * MAX_LINE_SEARCH,
            "maxls": MAX_LINE_SEARCH,
            "ftol": 0.0,
            "gtol": 0.0,
        },
    )
    if iterates.count <= o.steps:
        log.info(
            "L-BFGS stopped after %d of %d iterations (%s); x_G stays there",
            iterates.count - 1,
            o.steps,
            found.message,
        )
    while iterates.count <= o.steps:  # x_G no longer moves: its figures stand for the rest
        iterates.record(*iterates.last)
    phases.add("steps", time.perf_counter() - began)
    return iterates.output(o.keep_best), evaluate.count

"""What every optimiser of x_G shares: the loss and gradient at its variable, and the queue
that hands each iterate's figures and snapshots to the callbacks, in order.

Knows nothing of Hydra or MLflow; transfer.py (Adam) and lbfgs.py (L-BFGS) drive it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from audiostyle.errors import NumericalError
from audiostyle.losses.chunked import ChunkedObjective
from audiostyle.losses.objective import LossTerms, StyleTransferObjective
from audiostyle.optimisation.domains import Parametrisation


@dataclass(frozen=True)
class StepStats:
    step: int
    total: float
    content: float
    style: float
    per_layer: np.ndarray
    energy: float
    harmonic: float
    noise: float
    grad_norm: float
    seconds: float


@dataclass
class TransferResult:
    output: np.ndarray  # x_G(steps), waveform
    history: dict[str, list[float]] = field(default_factory=dict)
    per_layer: list[np.ndarray] = field(default_factory=list)
    seconds: float = 0.0
    device: str = ""
    chunk_samples: int = 0  # 0: the whole clip at once
    output_step: int = 0  # the iteration whose x_G is the output: steps, or the best one
    evaluations: int = (
        0  # loss-and-gradient evaluations (Adam: steps + 1; L-BFGS: its line search's too)
    )


StepCallback = Callable[[StepStats], None]
SnapshotCallback = Callable[[int, np.ndarray], None]


def loss_and_gradient(
    objective: StyleTransferObjective,
    chunked: ChunkedObjective | None,
    var: tf.Tensor,
    param: Parametrisation,
) -> tuple[LossTerms, tf.Tensor]:
    """The loss terms at the optimiser's variable (x_G as `param` holds it) and their gradient
    there; chunk by chunk when `chunked` is given."""
    with tf.GradientTape() as tape:
        tape.watch(var)
        wave = param.waveform(var)
        if chunked is None:
            terms = objective(wave)
    if chunked is None:
        return terms, tape.gradient(terms.total, var)
    terms, grad_wave = chunked(wave)
    return terms, tape.gradient(wave, var, output_gradients=grad_wave)


class StepOutputs(NamedTuple):
    """What a step hands StepQueue, on the device until a flush reads it: the loss terms (each
    unweighted but the total; 0 for a term that is off) and the gradient's norm."""

    total: tf.Tensor
    content: tf.Tensor
    style: tf.Tensor
    per_layer: tf.Tensor
    energy: tf.Tensor
    harmonic: tf.Tensor
    noise: tf.Tensor
    grad_norm: tf.Tensor


def step_outputs(terms: LossTerms, grad_norm: tf.Tensor) -> StepOutputs:
    """A step's StepOutputs from its loss terms and the gradient's norm."""
    zero = tf.zeros([])
    return StepOutputs(
        total=terms.total,
        content=terms.content,
        style=terms.style,
        per_layer=terms.per_layer,
        energy=terms.energy,
        harmonic=zero if terms.harmonic is None else terms.harmonic,
        noise=zero if terms.noise is None else terms.noise,
        grad_norm=grad_norm,
    )


class StepQueue:
    """Step results and snapshots held on the device until `flush`, then handed out in order.

    The step loop dispatches steps without waiting for their numbers; every `runtime.log_every`
    steps one flush copies them to the host, checks them and calls the callbacks, so a GPU
    keeps working through the queued steps meanwhile. Each step's `seconds` is the flushed
    block's wall time over its steps.
    """

    KEYS = ("total", "content", "style", "energy", "harmonic", "noise", "grad_norm", "seconds")

    def __init__(
        self,
        result: TransferResult,
        on_step: StepCallback | None,
        on_snapshot: SnapshotCallback | None,
        on_probe: SnapshotCallback | None,
        snapshots: set[int] | None = None,
        probe_every: int = 0,
        steps: int = 0,
    ):
        self.result, self.on_step = result, on_step
        self.on_snapshot, self.on_probe = on_snapshot, on_probe
        self.snapshots, self.probe_every, self.last = snapshots or set(), probe_every, steps
        self.result.history = {k: [] for k in self.KEYS}
        self.events: list[tuple] = []
        self.steps = 0
        self.tick = time.perf_counter()

    def visit(self, i: int, wave: Callable[[], tf.Tensor]) -> None:
        """Keep x_G(i) (`wave()`, on the device) if i is a snapshot or a probe iteration."""
        if i in self.snapshots and self.on_snapshot:
            self.snapshot(i, wave())
        every = self.probe_every
        if self.on_probe and every and 0 < i < self.last and i % every == 0:
            self.probe(i, wave())

    def snapshot(self, i: int, wave: tf.Tensor) -> None:
        self.events.append(("snapshot", i, wave))

    def probe(self, i: int, wave: tf.Tensor) -> None:
        self.events.append(("probe", i, wave))

    def step(self, i: int, outputs: StepOutputs, updates: bool = True) -> None:
        """A step's results; `updates=False` for the output x_G(steps), evaluated only: no
        update follows, so its gradient need not be finite."""
        self.events.append(("step" if updates else "output", i, outputs))
        self.steps += 1

    def flush(self) -> None:
        """Raises NumericalError at the first step whose loss or gradient is not finite."""
        events, self.events = self.events, []
        seconds = (time.perf_counter() - self.tick) / max(self.steps, 1)
        for kind, i, value in events:
            if kind == "snapshot":
                self.on_snapshot(i, value.numpy())
            elif kind == "probe":
                self.on_probe(i, value.numpy())
            else:
                self._deliver(i, value, seconds, kind == "step")
        self.steps = 0
        self.tick = time.perf_counter()

    def _deliver(self, i: int, outputs: StepOutputs, seconds: float, updates: bool) -> None:
        stats = StepStats(
            step=i,
            total=float(outputs.total),
            content=float(outputs.content),
            style=float(outputs.style),
            per_layer=outputs.per_layer.numpy(),
            energy=float(outputs.energy),
            harmonic=float(outputs.harmonic),
            noise=float(outputs.noise),
            grad_norm=float(outputs.grad_norm),
            seconds=seconds,
        )
        if not (np.isfinite(stats.total) and (np.isfinite(stats.grad_norm) or not updates)):
            raise NumericalError(
                f"the loss or its gradient is not finite at iteration {i} "
                f"(loss {stats.total}, gradient norm {stats.grad_norm}); "
                "try a smaller optim.lr; the snapshots so far and last_finite.wav are kept",
                iteration=i,
            )
        for k in self.KEYS:
            self.result.history[k].append(getattr(stats, k))
        self.result.per_layer.append(stats.per_layer)
        if self.on_step:
            self.on_step(stats)

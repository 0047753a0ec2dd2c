"""The optimisation: Adam (here) or L-BFGS (lbfgs.py) on x_G, in the configured domain, with the
objective's targets fixed.

Adam's learning rate follows `optim.schedule` (constant, or a linear warm-up then cosine decay:
Adam's first steps on a waveform otherwise overshoot and the loss climbs far above its start),
and with `optim.keep_best` the output is the iterate with the lowest total loss.

Knows nothing of Hydra or MLflow. Progress goes out through two callbacks, so the command line,
a sweep trial, a test and a notebook all call `run_transfer` the same way.
Iteration i evaluates the loss of x_G(i) and then updates it to x_G(i + 1); the result is
x_G(steps), whose loss is evaluated too (the same compiled step with its update off), so the
history has steps + 1 entries, one per x_G(i), and snapshot i is x_G(i).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import tensorflow as tf

from audiostyle import interrupts
from audiostyle.config.schema import (
    Config,
    DeviceChoice,
    Method,
    OptimConfig,
    Schedule,
    snapshot_iterations,
    style_weights,
)
from audiostyle.errors import ConfigError, NumericalError
from audiostyle.losses.chunked import ChunkedObjective, chunk_samples
from audiostyle.losses.objective import StyleTransferObjective
from audiostyle.optimisation.domains import Parametrisation
from audiostyle.optimisation.lbfgs import run_lbfgs
from audiostyle.optimisation.memory import auto_chunk_seconds, budget_bytes
from audiostyle.optimisation.start import initial_waveform, melody_octaves
from audiostyle.optimisation.steps import (
    SnapshotCallback,
    StepCallback,
    StepOutputs,
    StepQueue,
    TransferResult,
    loss_and_gradient,
    step_outputs,
)
from audiostyle.phases import PhaseTimes

log = logging.getLogger(__name__)


def learning_rate(optim: OptimConfig, t: tf.Tensor) -> tf.Tensor:
    """The learning rate of Adam's t-th update (t = 1 .. steps, a float tensor)."""
    if optim.schedule == Schedule.constant:
        return tf.constant(optim.lr, tf.float32)
    warm = float(round(optim.warmup * optim.steps))
    rise = tf.minimum(1.0, t / warm) if warm > 0 else tf.constant(1.0)
    progress = tf.clip_by_value((t - warm) / max(optim.steps - warm, 1.0), 0.0, 1.0)
    cosine = 0.5 * (1.0 + tf.cos(np.pi * progress))
    return optim.lr * rise * (optim.final_lr + (1.0 - optim.final_lr) * cosine)


def pick_device(choice: DeviceChoice) -> str:
    """The TensorFlow device a run uses: the first GPU when there is one, unless told cpu."""
    gpus = tf.config.list_physical_devices("GPU")
    if choice == DeviceChoice.gpu and not gpus:
        raise ConfigError("device=gpu, but TensorFlow sees no GPU; use device=auto or device=cpu")
    return "/GPU:0" if gpus and choice != DeviceChoice.cpu else "/CPU:0"


class AdamStep:
    """One compiled step: loss and gradient at x_G(i), Adam update only if both are finite."""

    def __init__(
        self,
        objective: StyleTransferObjective,
        cfg: Config,
        x0: np.ndarray,
        chunked: ChunkedObjective | None = None,
        param: Parametrisation | None = None,
    ):
        o = cfg.optim
        self.objective = objective
        self.chunked = chunked
        self.param = param or Parametrisation(o.domain)
        # x0: [samples], or [trials, samples] (benchmarks/speed.py --batch)
        start = self.param.initial(x0)
        self.var = tf.Variable(start, name="x_G")
        self.m = tf.Variable(tf.zeros_like(start))
        self.v = tf.Variable(tf.zeros_like(start))
        self.t = tf.Variable(0.0)
        self.update = tf.Variable(True, trainable=False)  # off: evaluate x_G, leave it as it is
        self.optim, self.b1, self.b2, self.eps = o, o.beta1, o.beta2, o.epsilon
        self.best = tf.Variable(start) if o.keep_best else None  # the lowest-loss x_G so far
        self.best_loss = tf.Variable(np.inf, dtype=tf.float32)
        self.step = tf.function(self._step, jit_compile=cfg.runtime.xla, autograph=False)

    def wave_tensor(self) -> tf.Tensor:
        """x_G as a waveform on the device (no host sync)."""
        return self.param.waveform(self.var)[0]

    def waveform(self) -> np.ndarray:
        return self.wave_tensor().numpy()

    def best_waveform(self) -> np.ndarray:
        """The kept lowest-loss x_G (optim.keep_best), else x_G as it stands."""
        held = self.var if self.best is None else self.best
        return self.param.waveform(held)[0].numpy()

    def evaluate(self) -> StepOutputs:
        """The step's outputs at x_G as it stands, without updating it (no second compile)."""
        self.update.assign(False)
        try:
            return self.step()
        finally:
            self.update.assign(True)

    def _step(self) -> StepOutputs:
        terms, grad = loss_and_gradient(self.objective, self.chunked, self.var, self.param)
        grad_norm = tf.norm(grad)
        if self.best is not None:  # x_G(i)'s loss is known now, before its update
            better = tf.math.is_finite(terms.total) & (terms.total < self.best_loss)
            self.best.assign(tf.where(better, self.var, self.best))
            self.best_loss.assign(tf.where(better, terms.total, self.best_loss))
        ok = tf.math.is_finite(terms.total) & tf.math.is_finite(grad_norm) & self.update
        t = self.t + 1.0
        m = self.b1 * self.m + (1.0 - self.b1) * grad
        v = self.b2 * self.v + (1.0 - self.b2) * tf.square(grad)
        m_hat = m / (1.0 - tf.pow(self.b1, t))
        v_hat = v / (1.0 - tf.pow(self.b2, t))
        new = self.var - learning_rate(self.optim, t) * m_hat / (tf.sqrt(v_hat) + self.eps)
        self.m.assign(tf.where(ok, m, self.m))
        self.v.assign(tf.where(ok, v, self.v))
        self.t.assign(tf.where(ok, t, self.t))
        self.var.assign(tf.where(ok, new, self.var))
        return step_outputs(terms, grad_norm)


def build_objective(cfg: Config, network, octaves: int = 0) -> StyleTransferObjective:
    """The run's loss; `octaves` moves the harmonic term's pitch with x_G(0)'s melody."""
    if cfg.alpha == 0:
        log.info(
            "alpha is 0: the content layer %s is not computed (loss/content reads 0)",
            cfg.content_layer.layer,
        )
    return StyleTransferObjective(
        network=network,
        content_layer=cfg.content_layer.layer,
        style_layers=cfg.style_layers.layers,
        style_weights=style_weights(cfg.style_layers),
        loss_type=cfg.loss.type,
        normalize=cfg.loss.normalize,
        alpha=cfg.alpha,
        energy_weight=cfg.loss.energy_weight,
        harmonic_weight=cfg.loss.harmonic_weight,
        sample_rate=cfg.audio.sample_rate,
        mmd_bandwidth=cfg.loss.mmd_bandwidth,
        noise_weight=cfg.loss.noise_weight,
        noise_floor_db=cfg.loss.noise_floor_db,
        harmonic_octaves=octaves,
    )


def build_chunked(
    cfg: Config, objective: StyleTransferObjective, length: int, device: str = "/CPU:0"
) -> ChunkedObjective | None:
    """Chunked evaluation when `runtime.chunk_seconds` asks for chunks shorter than the clip,
    or, when it is null, when the whole clip's step would not fit the memory budget."""
    rate = cfg.audio.sample_rate
    seconds = cfg.runtime.chunk_seconds
    if seconds is None:
        memory_gb = cfg.runtime.memory_gb
        # the free host memory says nothing of a GPU's: there only a stated budget counts
        budget = (
            None if device.startswith("/GPU") and memory_gb is None else budget_bytes(memory_gb)
        )
        names = objective.computed_names
        seconds = auto_chunk_seconds(objective.network, names, length, rate, budget)
        if seconds is None:
            return None
    chunk = chunk_samples(seconds, rate, objective.network, length)
    return ChunkedObjective(objective, chunk) if chunk < length else None


def run_transfer(
    cfg: Config,
    network,
    content: np.ndarray,
    style: np.ndarray,
    on_step: StepCallback | None = None,
    on_snapshot: SnapshotCallback | None = None,
    probe_every: int = 0,
    on_probe: SnapshotCallback | None = None,
    phases: PhaseTimes | None = None,
    x0: np.ndarray | None = None,
    octaves: int | None = None,
) -> TransferResult:
    """Optimise x_G for `cfg.optim.steps` Adam steps or L-BFGS iterations (`optim.method`);
    raises NumericalError on NaN/inf. The output is x_G(steps), or with `optim.keep_best` the
    x_G(i) of lowest total loss.

    `on_step` gets the loss of every x_G(i), i = 0 .. steps (the last is the result's, no step
    follows it); `on_snapshot(i, x_G(i))` runs at the snapshot iterations, `on_probe(i, x_G(i))`
    every `probe_every` steps (a sweep's intermediate values). `phases` gets the seconds of
    `targets` (x_C's and x_S's features and the loss terms' targets), `compile` (the first
    step: tracing and XLA) and `steps` (the rest). `x0` and `octaves`: x_G(0) and its melody's
    octaves when the caller has made them (initial_waveform, melody_octaves), else made here.
    """
    phases = phases or PhaseTimes()
    device = pick_device(cfg.device)
    result = TransferResult(output=np.empty(0, np.float32), device=device)
    start = time.perf_counter()
    with tf.device(device):
        with phases.phase("targets", "computing the targets: x_C's and x_S's features"):
            if octaves is None:
                octaves = melody_octaves(cfg, content, style)
            objective = build_objective(cfg, network, octaves)
            chunked = build_chunked(cfg, objective, len(content), device)
            result.chunk_samples = chunked.chunk if chunked else 0
            (chunked or objective).set_targets(
                tf.constant(content[None, :]), tf.constant(style[None, :])
            )
        snapshots, steps = set(snapshot_iterations(cfg)), cfg.optim.steps
        queue = StepQueue(result, on_step, on_snapshot, on_probe, snapshots, probe_every, steps)
        x0 = initial_waveform(cfg, content, style, octaves) if x0 is None else x0
        param = Parametrisation(cfg.optim.domain, content)
        optimise = run_lbfgs if cfg.optim.method == Method.lbfgs else run_adam
        result.output, result.evaluations = optimise(
            cfg, objective, chunked, x0, queue, param, phases
        )
    totals = result.history["total"]
    result.output_step = int(np.argmin(totals)) if cfg.optim.keep_best else steps
    result.seconds = time.perf_counter() - start
    return result


def run_adam(
    cfg: Config,
    objective: StyleTransferObjective,
    chunked: ChunkedObjective | None,
    x0: np.ndarray,
    queue: StepQueue,
    param: Parametrisation,
    phases: PhaseTimes,
) -> tuple[np.ndarray, int]:
    """`optim.steps` Adam updates from x0; the output waveform and the evaluations made."""
    adam = AdamStep(objective, cfg, x0, chunked, param)
    steps = cfg.optim.steps
    queue.visit(0, adam.wave_tensor)
    with phases.phase("compile", f"compiling the step ({compiler(cfg)})"):
        first = adam.step() if steps else adam.evaluate()
        first.total.numpy()  # the step has run, not only been queued
    start = time.perf_counter()
    for i in range(steps + 1):  # i = steps: x_G(steps), the result, is evaluated only
        interrupts.check()  # a Ctrl-C that Python discarded (see interrupts.py)
        if i > 0:  # x_G(0) was visited before the first step
            queue.visit(i, adam.wave_tensor)
        outputs = first if i == 0 else adam.step() if i < steps else adam.evaluate()
        queue.step(i, outputs, updates=i < steps)
        if queue.steps >= cfg.runtime.log_every or i == steps:
            try:
                queue.flush()
            except NumericalError as err:
                # Every step since the first non-finite one refused its update: x_G(i).
                err.last_finite = adam.waveform()
                raise
    phases.add("steps", time.perf_counter() - start)
    return adam.best_waveform(), steps + 1


def compiler(cfg: Config) -> str:
    return "tracing, then XLA" if cfg.runtime.xla else "tracing"

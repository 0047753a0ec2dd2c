"""The optimisation: Adam on x_G, in the configured domain, with the objective's targets fixed.

The learning rate follows `optim.schedule` (constant, or a linear warm-up then cosine decay:
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
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from audiostyle import interrupts
from audiostyle.config.schema import (
    Config,
    DeviceChoice,
    InitSource,
    OptimConfig,
    Schedule,
    snapshot_iterations,
    style_weights,
)
from audiostyle.errors import ConfigError, NumericalError
from audiostyle.science.chunked import ChunkedObjective, chunk_samples
from audiostyle.science.memory import auto_chunk_seconds, budget_bytes
from audiostyle.science.mulaw import to_domain, to_waveform
from audiostyle.science.objective import StyleTransferObjective

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepStats:
    step: int
    total: float
    content: float
    style: float
    per_layer: np.ndarray
    energy: float
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


def learning_rate(optim: OptimConfig, t: tf.Tensor) -> tf.Tensor:
    """The learning rate of Adam's t-th update (t = 1 .. steps, a float tensor)."""
    if optim.schedule == Schedule.constant:
        return tf.constant(optim.lr, tf.float32)
    warm = float(round(optim.warmup * optim.steps))
    rise = tf.minimum(1.0, t / warm) if warm > 0 else tf.constant(1.0)
    progress = tf.clip_by_value((t - warm) / max(optim.steps - warm, 1.0), 0.0, 1.0)
    cosine = 0.5 * (1.0 + tf.cos(np.pi * progress))
    return optim.lr * rise * (optim.final_lr + (1.0 - optim.final_lr) * cosine)


StepCallback = Callable[[StepStats], None]
SnapshotCallback = Callable[[int, np.ndarray], None]


def pick_device(choice: DeviceChoice) -> str:
    """The TensorFlow device a run uses: the first GPU when there is one, unless told cpu."""
    gpus = tf.config.list_physical_devices("GPU")
    if choice == DeviceChoice.gpu and not gpus:
        raise ConfigError("device=gpu, but TensorFlow sees no GPU; use device=auto or device=cpu")
    return "/GPU:0" if gpus and choice != DeviceChoice.cpu else "/CPU:0"


def initial_waveform(cfg: Config, content: np.ndarray, style: np.ndarray) -> np.ndarray:
    """x_G(0): the chosen source plus U[-scale, scale] noise, seeded by `seed`."""
    base = {
        InitSource.content: content,
        InitSource.style: style,
        InitSource.noise: np.zeros_like(content),
    }[cfg.init.source]
    rng = np.random.default_rng(cfg.seed)
    noise = rng.uniform(-cfg.init.scale, cfg.init.scale, size=base.shape)
    return (base + noise).astype(np.float32)


class AdamStep:
    """One compiled step: loss and gradient at x_G(i), Adam update only if both are finite."""

    def __init__(
        self,
        objective: StyleTransferObjective,
        cfg: Config,
        x0: np.ndarray,
        chunked: ChunkedObjective | None = None,
    ):
        o = cfg.optim
        self.objective = objective
        self.chunked = chunked
        self.domain = o.domain
        # x0: [samples], or [trials, samples] (benchmarks/speed.py --batch)
        start = to_domain(tf.constant(np.atleast_2d(x0)), o.domain)
        self.var = tf.Variable(start, name="x_G")
        self.m = tf.Variable(tf.zeros_like(start))
        self.v = tf.Variable(tf.zeros_like(start))
        self.t = tf.Variable(0.0)
        self.update = tf.Variable(True, trainable=False)  # off: evaluate x_G, leave it as it is
        self.optim, self.b1, self.b2, self.eps = o, o.beta1, o.beta2, o.epsilon
        self.best = tf.Variable(start) if o.keep_best else None  # the lowest-loss x_G so far
        self.best_loss = tf.Variable(np.inf, dtype=tf.float32)
        self.step = tf.function(self._step, jit_compile=cfg.runtime.xla)

    def wave_tensor(self) -> tf.Tensor:
        """x_G as a waveform on the device (no host sync)."""
        return to_waveform(self.var, self.domain)[0]

    def waveform(self) -> np.ndarray:
        return self.wave_tensor().numpy()

    def best_waveform(self) -> np.ndarray:
        """The kept lowest-loss x_G (optim.keep_best), else x_G as it stands."""
        held = self.var if self.best is None else self.best
        return to_waveform(held, self.domain)[0].numpy()

    def evaluate(self):
        """The step's outputs at x_G as it stands, without updating it (no second compile)."""
        self.update.assign(False)
        try:
            return self.step()
        finally:
            self.update.assign(True)

    def _loss_and_grad(self):
        if self.chunked is None:
            with tf.GradientTape() as tape:
                terms = self.objective(to_waveform(self.var, self.domain))
            return terms, tape.gradient(terms.total, self.var)
        with tf.GradientTape() as tape:
            wave = to_waveform(self.var, self.domain)
        terms, grad_wave = self.chunked(wave)
        return terms, tape.gradient(wave, self.var, output_gradients=grad_wave)

    def _step(self):
        terms, grad = self._loss_and_grad()
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
        return terms.total, terms.content, terms.style, terms.per_layer, terms.energy, grad_norm


class StepQueue:
    """Step results and snapshots held on the device until `flush`, then handed out in order.

    The step loop dispatches steps without waiting for their numbers; every `runtime.log_every`
    steps one flush copies them to the host, checks them and calls the callbacks, so a GPU
    keeps working through the queued steps meanwhile. Each step's `seconds` is the flushed
    block's wall time over its steps.
    """

    KEYS = ("total", "content", "style", "energy", "grad_norm", "seconds")

    def __init__(self, result, on_step, on_snapshot, on_probe):
        self.result, self.on_step = result, on_step
        self.on_snapshot, self.on_probe = on_snapshot, on_probe
        self.result.history = {k: [] for k in self.KEYS}
        self.events: list[tuple] = []
        self.steps = 0
        self.tick = time.perf_counter()

    def snapshot(self, i: int, wave: tf.Tensor) -> None:
        self.events.append(("snapshot", i, wave))

    def probe(self, i: int, wave: tf.Tensor) -> None:
        self.events.append(("probe", i, wave))

    def step(self, i: int, outputs, updates: bool = True) -> None:
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

    def _deliver(self, i: int, outputs, seconds: float, updates: bool) -> None:
        total, content_loss, style_loss, per_layer, energy, grad_norm = outputs
        stats = StepStats(
            step=i,
            total=float(total),
            content=float(content_loss),
            style=float(style_loss),
            per_layer=per_layer.numpy(),
            energy=float(energy),
            grad_norm=float(grad_norm),
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


def build_objective(cfg: Config, network) -> StyleTransferObjective:
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
) -> TransferResult:
    """Optimise x_G for `cfg.optim.steps` Adam steps; raises NumericalError on NaN/inf. The
    output is x_G(steps), or with `optim.keep_best` the x_G(i) of lowest total loss.

    `on_step` gets the loss of every x_G(i), i = 0 .. steps (the last is the result's, no step
    follows it); `on_snapshot(i, x_G(i))` runs at the snapshot iterations, `on_probe(i, x_G(i))`
    every `probe_every` steps (a sweep's intermediate values).
    """
    device = pick_device(cfg.device)
    snapshots = set(snapshot_iterations(cfg))
    result = TransferResult(output=np.empty(0, np.float32), device=device)
    start = time.perf_counter()
    with tf.device(device):
        objective = build_objective(cfg, network)
        chunked = build_chunked(cfg, objective, len(content), device)
        result.chunk_samples = chunked.chunk if chunked else 0
        (chunked or objective).set_targets(
            tf.constant(content[None, :]), tf.constant(style[None, :])
        )
        adam = AdamStep(objective, cfg, initial_waveform(cfg, content, style), chunked)
        queue = StepQueue(result, on_step, on_snapshot, on_probe)
        steps = cfg.optim.steps
        for i in range(steps + 1):  # i = steps: x_G(steps), the result, is evaluated only
            interrupts.check()  # a Ctrl-C that Python discarded (see interrupts.py)
            if i in snapshots and on_snapshot:
                queue.snapshot(i, adam.wave_tensor())
            if on_probe and probe_every and 0 < i < steps and i % probe_every == 0:
                queue.probe(i, adam.wave_tensor())
            queue.step(i, adam.step() if i < steps else adam.evaluate(), updates=i < steps)
            if queue.steps >= cfg.runtime.log_every or i == steps:
                try:
                    queue.flush()
                except NumericalError as err:
                    # Every step since the first non-finite one refused its update: x_G(i).
                    err.last_finite = adam.waveform()
                    raise
        result.output = adam.best_waveform()
    totals = result.history["total"]
    result.output_step = int(np.argmin(totals)) if cfg.optim.keep_best else steps
    result.seconds = time.perf_counter() - start
    return result

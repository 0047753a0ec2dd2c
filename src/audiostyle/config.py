"""Typed run settings: the Hydra schema, and the checks that run before any audio is read.

The dataclasses here are registered with Hydra's ConfigStore as the schema of `conf/config.yaml`,
so a wrong type, an unknown key or a bad enum value fails while Hydra composes the config.
`validate` then checks what types cannot express (ranges, layer names, weights vs layers).
The science modules take these plain objects, never a DictConfig.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from audiostyle.errors import ConfigError
from audiostyle.layers import canonical
from audiostyle.networks import check_layer_names


class MuLaw(str, Enum):
    """How a waveform becomes the encoder's input (see `audio.mu_law_encode`)."""

    quantized = "quantized"  # Magenta's exact preprocessing; floor() has no gradient
    continuous = "continuous"  # the same curve without floor(); differentiable
    straight_through = "straight_through"  # quantized forward, continuous gradient
    none = "none"  # the raw waveform


class Domain(str, Enum):
    """What the optimiser holds, and so what one unit of learning rate means."""

    waveform = "waveform"  # samples in [-1, 1]
    mu_law = "mu_law"  # mu-law companded samples in [-1, 1]
    mu_law_units = "mu_law_units"  # Magenta's integer mu-law scale [-128, 128)


class Schedule(str, Enum):
    """How the learning rate moves over the steps."""

    constant = "constant"  # optim.lr throughout
    warmup_cosine = "warmup_cosine"  # linear rise over optim.warmup, cosine decay to optim.final_lr


class LossType(str, Enum):
    gram = "gram"
    l2 = "l2"


class Normalize(str, Enum):
    none = "none"  # the paper: raw mean squared differences
    per_layer = "per_layer"  # ||X - X_target||^2 / ||X_target||^2 for each layer


class Loudness(str, Enum):
    none = "none"
    peak = "peak"  # scale each input clip to a peak of `audio.peak`


class DeviceChoice(str, Enum):
    auto = "auto"
    cpu = "cpu"
    gpu = "gpu"


class Precision(str, Enum):
    """The dtype the feature network computes in; x_G, Adam, Grams and losses stay float32."""

    float32 = "float32"
    bfloat16 = "bfloat16"  # half the bytes, tensor-core speed on GPUs (tolerance: docs/speed.md)


class Weights(str, Enum):
    random = "random"  # seeded, Magenta's initialiser
    magenta = "magenta"  # read from encoder.checkpoint


class Network(str, Enum):
    nsynth = "nsynth"  # the paper's NSynth WaveNet-autoencoder encoder
    spectral = "spectral"  # Ulyanov & Lebedev's random log-spectrogram CNN


class InitSource(str, Enum):
    content = "content"
    style = "style"
    zeros = "zeros"


@dataclass
class AudioConfig:
    content: str = "example:speech"
    style: str = "example:flute"
    sample_rate: int = 16000
    duration: float = 3.0  # seconds; rounded down to a multiple of 512 samples
    mu_law: MuLaw = MuLaw.continuous
    loudness: Loudness = Loudness.peak
    peak: float = 0.9


@dataclass
class ContentLayerConfig:
    layer: str = "conv"


@dataclass
class StyleLayersConfig:
    layers: list[str] = field(default_factory=lambda: ["conv"])
    weights: list[float] | None = None  # None: equal weights 1/len(layers)


@dataclass
class LossConfig:
    type: LossType = LossType.gram
    normalize: Normalize = Normalize.per_layer
    energy_weight: float = 0.0  # weight of the energy-contour term (0: off, as in the paper)


@dataclass
class InitConfig:
    source: InitSource = InitSource.content
    scale: float = 1e-6  # half-width of the uniform noise added, in waveform units


@dataclass
class OptimConfig:
    lr: float = 0.01
    steps: int = 300
    domain: Domain = Domain.waveform
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    schedule: Schedule = Schedule.constant
    warmup: float = 0.1  # share of the steps over which the learning rate rises to optim.lr
    final_lr: float = 0.1  # the learning rate at the last step, as a share of optim.lr
    keep_best: bool = False  # the output is the iterate with the lowest total loss


@dataclass
class SpectralConfig:
    n_fft: int = 1024
    hop: int = 256
    filters: int = 4096
    width: int = 11  # frames each filter spans


@dataclass
class EncoderConfig:
    network: Network = Network.spectral
    weights: Weights = Weights.random
    checkpoint: str | None = None  # a Magenta checkpoint prefix or folder (weights=magenta)
    seed: int = 0
    use_ema: bool = False
    spectral: SpectralConfig = field(default_factory=SpectralConfig)


@dataclass
class DataConfig:
    """Where `nsynth:NOTE_STR` clips come from (see clipspec.py, nsynth_data.py)."""

    nsynth_root: str | None = None  # a folder with examples.json + audio/, or a .tfrecord file


@dataclass
class MeasureConfig:
    """Optional measurements (measure.py; speech needs the `eval` extra) that apply to a run."""

    pitch: bool = False  # pyin f0 of x_G, x_C, x_S and how often x_G is within 50 cents
    speech: bool = False  # word error rate of x_G and x_C (offline recogniser)
    transcript: str | None = None  # x_C's words; None: the recogniser's reading of x_C


@dataclass
class RuntimeConfig:
    xla: bool = True  # compile the Adam step with XLA
    log_every: int = 1  # steps between progress/metric updates (and host syncs)
    chunk_seconds: float | None = None  # None: whole clip if it fits memory_gb, else chunks
    memory_gb: float | None = None  # a step's budget; None: half the free memory (CPU only)
    precision: Precision = Precision.float32  # the feature network's dtype (mixed precision)
    verbose: bool = False  # show TensorFlow's start-up lines (oneDNN, CUDA probing); quiet.py


@dataclass
class TrackingConfig:
    enabled: bool = True
    uri: str | None = None  # None: the embedded store runs/mlflow.db
    experiment: str = "audiostyle"
    system_metrics_seconds: float = (
        5.0  # CPU, memory, GPU sampled this often while a run runs; 0: off
    )


@dataclass
class SweepConfig:
    """An Optuna search run by `python run.py -m sweep=NAME` (see sweeps/README.md)."""

    study_name: str = "audiostyle"
    storage: str | None = None  # None: sqlite:///<runs_dir>/optuna.db; any Optuna storage URL
    n_trials: int = 20  # total over every run of the command and every worker
    n_jobs: int = 1  # trials handed to the Hydra launcher at once
    params: dict[str, str] = field(default_factory=dict)  # key: Hydra sweep syntax
    objectives: list[str] = field(default_factory=lambda: ["eval/transfer_score"])
    directions: list[str] = field(default_factory=lambda: ["minimize"])
    sampler: str = "tpe"  # tpe | random | nsga2
    seed: int = 0
    pruner: str = "median"  # median | none (single objective only)
    pruner_startup_trials: int = 3
    pruner_warmup_steps: int = 20
    report_every: int = 10  # steps between intermediate values
    heartbeat_seconds: int = 30  # a worker silent this long x2 has died: its trial is retried
    max_retry: int = 1
    trial_id: int | None = None  # set by the sweeper for each trial, never by hand
    parent_run_id: str | None = None  # set by the sweeper: the sweep's MLflow run


@dataclass
class Config:
    audio: AudioConfig = field(default_factory=AudioConfig)
    content_layer: ContentLayerConfig = field(default_factory=ContentLayerConfig)
    style_layers: StyleLayersConfig = field(default_factory=StyleLayersConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    init: InitConfig = field(default_factory=InitConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    data: DataConfig = field(default_factory=DataConfig)
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    alpha: float = 0.1
    snapshots: list[int] | None = None  # None: the first, middle and last (snapshot_iterations)
    seed: int = 0
    device: DeviceChoice = DeviceChoice.auto
    runs_dir: str = "runs"


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.audiostyle_sweeper.optuna_asktell.OptunaAskTellSweeper"


def register_configs() -> None:
    """Make the schema known to Hydra as `schema`, and our Optuna sweeper as a hydra/sweeper."""
    store = ConfigStore.instance()
    store.store(name="schema", node=Config)
    store.store(group="hydra/sweeper", name="optuna_asktell", node=OptunaSweeperConf)


def to_config(cfg: DictConfig | Config) -> Config:
    """Turn a composed DictConfig into the plain typed object the science modules take."""
    if isinstance(cfg, Config):
        return cfg
    schema = OmegaConf.structured(Config)
    check_known_keys(cfg, schema)
    try:
        merged = OmegaConf.merge(schema, cfg)
        missing = sorted(OmegaConf.missing_keys(merged))
    except InterpolationResolutionError as err:
        raise unresolved(err) from None
    if missing:
        raise ConfigError(f"{missing[0]} must be set (for example {missing[0]}=...)")
    obj = resolved(merged)
    assert isinstance(obj, Config)
    return obj


def check_known_keys(cfg: DictConfig, schema: DictConfig, prefix: str = "") -> None:
    """`+key=value` slips past Hydra's schema check; an unknown setting is a typo, so refuse it."""
    for key in cfg:
        if key == "hydra" and not prefix:
            continue
        name = f"{prefix}{key}"
        if key not in schema:
            raise ConfigError(f"{name} is not a setting; `python run.py --cfg job` lists them")
        ref = schema._get_node(key)
        value = cfg._get_node(key)
        if (
            isinstance(ref, DictConfig)
            and isinstance(value, DictConfig)
            and OmegaConf.get_type(ref) is not dict
        ):
            check_known_keys(value, ref, f"{name}.")


def resolved(node: DictConfig, prefix: str = "") -> Any:
    """The node as plain objects; an interpolation that cannot be resolved (an environment
    variable not set, as `tracking=server` and `cluster=shared` need) is a ConfigError."""
    try:
        return OmegaConf.to_object(node)
    except InterpolationResolutionError as err:
        raise unresolved(err, prefix) from None


def unresolved(err: InterpolationResolutionError, prefix: str = "") -> ConfigError:
    return ConfigError(f"{prefix}{err.full_key}: {str(err).splitlines()[0]}")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def validate(cfg: Config) -> None:
    """Check every value types cannot: ranges, layer names, weights. Raises ConfigError."""
    a, o = cfg.audio, cfg.optim
    _require(math.isfinite(o.lr) and o.lr > 0, f"optim.lr must be a positive number, got {o.lr}")
    _require(o.steps > 0, f"optim.steps must be a positive integer, got {o.steps}")
    _require(0 <= o.beta1 < 1 and 0 <= o.beta2 < 1, "optim.beta1 and optim.beta2 must be in [0, 1)")
    _require(
        math.isfinite(o.epsilon) and o.epsilon > 0,
        f"optim.epsilon must be a positive number, got {o.epsilon}",
    )
    _require(
        0 <= o.warmup < 1, f"optim.warmup must be a share of the steps in [0, 1), got {o.warmup}"
    )
    _require(
        0 <= o.final_lr <= 1,
        f"optim.final_lr must be a share of optim.lr in [0, 1], got {o.final_lr}",
    )
    for key, seed in (("seed", cfg.seed), ("encoder.seed", cfg.encoder.seed)):
        _require(seed >= 0, f"{key} must be an integer >= 0 (numpy's seeds are), got {seed}")
    _require(
        math.isfinite(cfg.loss.energy_weight) and cfg.loss.energy_weight >= 0,
        f"loss.energy_weight must be a finite number >= 0, got {cfg.loss.energy_weight}",
    )
    _require(
        math.isfinite(cfg.alpha) and cfg.alpha >= 0,
        f"alpha must be a finite number >= 0, got {cfg.alpha}",
    )
    _require(
        8000 <= a.sample_rate <= 192000,
        f"audio.sample_rate must be between 8000 and 192000 Hz, got {a.sample_rate}",
    )
    _require(
        a.sample_rate == 16000 or cfg.encoder.network != Network.nsynth,
        f"audio.sample_rate must be 16000 for the NSynth encoder (trained at 16 kHz), got {a.sample_rate}",
    )
    min_duration = 1024 / a.sample_rate
    _require(
        min_duration <= a.duration <= 600,
        f"audio.duration must be between {min_duration:.3f} s (1024 samples: two 512-sample hops, "
        f"one frame of the evaluation metrics) and 600 s, got {a.duration}",
    )
    _require(0 < a.peak <= 1, f"audio.peak must be in (0, 1], got {a.peak}")
    every = cfg.tracking.system_metrics_seconds
    _require(
        math.isfinite(every) and every >= 0,
        f"tracking.system_metrics_seconds must be a number >= 0 (0: off), got {every}",
    )
    _require(
        a.mu_law != MuLaw.quantized,
        "audio.mu_law=quantized has no gradient (floor); use one of continuous, straight_through, none",
    )
    _require(
        0 <= cfg.init.scale <= 1 and math.isfinite(cfg.init.scale),
        f"init.scale must be in [0, 1], got {cfg.init.scale}",
    )
    network = cfg.encoder.network.value
    check_layer_names([cfg.content_layer.layer], "content_layer.layer", network)
    layers = cfg.style_layers.layers
    _require(len(layers) > 0, "style_layers.layers must name at least one layer")
    check_layer_names(layers, "style_layers.layers", network)
    taps = [canonical(n) for n in layers]  # final_relu is B_30: counting it twice is a typo
    _require(len(set(taps)) == len(taps), f"style_layers.layers has a layer twice: {layers}")
    weights = cfg.style_layers.weights
    if weights is not None:
        _require(
            len(weights) == len(layers),
            f"style_layers.weights has {len(weights)} values for {len(layers)} layers; give one per layer or null",
        )
        _require(
            all(math.isfinite(w) and w >= 0 for w in weights) and sum(weights) > 0,
            f"style_layers.weights must be finite, >= 0 and not all 0, got {weights}",
        )
    bad = [s for s in cfg.snapshots or [] if not 0 <= s <= o.steps]
    _require(
        not bad,
        f"snapshots must be iterations between 0 and optim.steps={o.steps}, got {bad} "
        "(snapshots=null keeps the first, middle and last)",
    )
    _require(cfg.runtime.log_every > 0, "runtime.log_every must be a positive integer")
    chunk = cfg.runtime.chunk_seconds
    _require(
        chunk is None or (math.isfinite(chunk) and chunk > 0),
        f"runtime.chunk_seconds must be a positive number of seconds or null, got {chunk}",
    )
    budget = cfg.runtime.memory_gb
    _require(
        budget is None or (math.isfinite(budget) and budget > 0),
        f"runtime.memory_gb must be a positive number of GB or null, got {budget}",
    )
    validate_sweep(cfg.sweep)
    e = cfg.encoder
    sp = e.spectral
    _require(
        sp.n_fft >= 16 and sp.hop > 0 and sp.filters > 0 and sp.width > 0,
        "encoder.spectral needs n_fft >= 16 and positive hop, filters and width",
    )
    if e.weights == Weights.magenta:
        _require(
            bool(e.checkpoint),
            "encoder=magenta needs encoder.checkpoint=/path/to/wavenet-ckpt/model.ckpt-200000",
        )
        from audiostyle.checkpoint import checkpoint_prefix

        checkpoint_prefix(e.checkpoint)  # there, before TensorFlow loads (read later)
    else:
        _require(
            e.checkpoint is None and not e.use_ema,
            "encoder.checkpoint and encoder.use_ema only apply to encoder=magenta",
        )
    validate_clips(cfg)  # last: an NSynth TFRecord's notes take a scan of the file


def validate_clips(cfg: Config) -> None:
    """Clip specs well formed; NSynth root and notes present (reads metadata, never audio)."""
    from audiostyle.clipspec import check

    for key, spec in (("audio.content", cfg.audio.content), ("audio.style", cfg.audio.style)):
        check(spec, key, cfg.data.nsynth_root, cfg.audio.sample_rate)


def validate_sweep(s: SweepConfig) -> None:
    _require(s.n_trials > 0, f"sweep.n_trials must be a positive integer, got {s.n_trials}")
    _require(s.n_jobs > 0, f"sweep.n_jobs must be a positive integer, got {s.n_jobs}")
    _require(
        len(s.objectives) == len(s.directions) > 0,
        "sweep.objectives and sweep.directions need one direction per objective",
    )
    bad = [d for d in s.directions if d not in ("minimize", "maximize")]
    _require(not bad, f"sweep.directions must be minimize or maximize, got {bad}")
    _require(
        s.sampler in ("tpe", "random", "nsga2"),
        f"sweep.sampler must be tpe, random or nsga2, got {s.sampler!r}",
    )
    _require(
        s.pruner in ("median", "none"), f"sweep.pruner must be median or none, got {s.pruner!r}"
    )
    _require(s.report_every > 0, "sweep.report_every must be a positive integer")


def snapshot_iterations(cfg: Config) -> list[int]:
    """The iterations whose x_G is kept: `snapshots` as given, or, when it is null, the first,
    the middle and the last of `optim.steps`, so that a default fits a run of any length."""
    if cfg.snapshots is not None:
        return sorted(set(cfg.snapshots))
    steps = cfg.optim.steps
    return sorted({0, steps // 2, steps})


def style_weights(cfg: StyleLayersConfig) -> list[float]:
    """The weight w_s of each style layer; equal weights summing to 1 when none are given."""
    if cfg.weights is None:
        return [1.0 / len(cfg.layers)] * len(cfg.layers)
    return list(cfg.weights)

"""The typed run settings as plain dataclasses and enums: no Hydra, no OmegaConf.

The science and the clips take these objects. `config.from_hydra` registers them as the schema
of `conf/config.yaml` and turns Hydra's composed DictConfig into them; `config.validation`
checks what types cannot express.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


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
    stft_gain = "stft_gain"  # log-gains on x_C's STFT: x_C's phase, so its pitch (domains.py)


class Schedule(str, Enum):
    """How the learning rate moves over the steps."""

    constant = "constant"  # optim.lr throughout
    warmup_cosine = "warmup_cosine"  # linear rise over optim.warmup, cosine decay to optim.final_lr


class Method(str, Enum):
    """Which optimiser moves x_G."""

    adam = "adam"  # Adam at optim.lr with optim.schedule (the paper's)
    lbfgs = "lbfgs"  # L-BFGS-B with a line search (Ulyanov & Lebedev's): no learning rate


class LossType(str, Enum):
    gram = "gram"
    l2 = "l2"
    histogram = "histogram"  # each channel's distribution over time (losses/histogram.py)
    mmd = "mmd"  # the frames' distribution under a Gaussian kernel (losses/mmd.py)


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
    musicnn = "musicnn"  # one of musicnn's pretrained taggers (encoder.musicnn_model)


class InitSource(str, Enum):
    content = "content"
    style = "style"
    noise = "noise"  # nothing of either clip: x_G(0) is the noise alone
    world = "world"  # WORLD cross-synthesis: x_C's f0 and loudness, x_S's envelope (clips.cross_synthesis)
    vocoder = (
        "vocoder"  # channel vocoder: x_S carrying x_C's band envelopes (clips.cross_synthesis)
    )


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
    harmonic_weight: float = 0.0  # x_S's harmonic profile at x_C's pitch (0: off; harmonic_loss)
    mmd_bandwidth: float = 1.0  # loss=mmd: the kernel's s^2 over x_S's mean squared frame distance
    noise_weight: float = 0.0  # x_G's spectral flatness held at x_C's (0: off; noise_loss)
    noise_floor_db: float = 80.0  # the noise term ignores power this far below x_C's peak bin


@dataclass
class InitConfig:
    source: InitSource = InitSource.content
    scale: float = 1e-6  # half-width of the uniform noise added, in waveform units
    # source=world: the whole octaves x_C's f0 moves; null: into x_S's register (nearest median)
    octaves: int | None = 0
    content_envelope: float = 0.0  # source=world: x_C's envelope blended in (0: x_S's, 1: x_C's)
    semitones: bool = False  # source=world: x_C's melody on equal-tempered notes, as played


@dataclass
class OptimConfig:
    method: Method = Method.adam
    lr: float = 0.01  # Adam's; L-BFGS has none (its line search sets each step's length)
    steps: int = 300  # Adam updates, or L-BFGS iterations
    domain: Domain = Domain.waveform
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    schedule: Schedule = Schedule.constant
    warmup: float = 0.1  # share of the steps over which the learning rate rises to optim.lr
    final_lr: float = 0.1  # the learning rate at the last step, as a share of optim.lr
    keep_best: bool = False  # the output is the iterate with the lowest total loss
    history: int = 10  # L-BFGS: the correction pairs it keeps (scipy's maxcor)


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
    # encoder=musicnn: MTT_musicnn | MTT_vgg | MSD_musicnn | MSD_vgg; None: the one the layers
    # name (networks.layers.musicnn_model: MSD_musicnn, or MTT_vgg for vgg's pools)
    musicnn_model: str | None = None


@dataclass
class DataConfig:
    """Where `nsynth:NOTE_STR` clips come from (see specs.py, nsynth_data.py)."""

    nsynth_root: str | None = None  # a folder with examples.json + audio/, or a .tfrecord file


@dataclass
class MeasureConfig:
    """Optional measurements (measures/extras.py) that apply to a run."""

    pitch: bool = False  # pyin f0 of x_G, x_C, x_S and how often x_G is within 50 cents


@dataclass
class JudgeConfig:
    """The judges (audiostyle.judges) every run asks, unless told not to: no loss optimises
    them. A run whose loss uses a judge's network leaves that judge out and says so."""

    tagger: bool = True  # musicnn's MTT_musicnn tagger: voice, x_S's instrument, its embedding
    speech: bool = True  # pocketsphinx: x_G's word error rate against x_C's words
    transcript: str | None = None  # x_C's words; None: pocketsphinx's reading of x_C


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
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    alpha: float = 0.1
    snapshots: list[int] | None = None  # None: the first, middle and last (snapshot_iterations)
    seed: int = 0
    device: DeviceChoice = DeviceChoice.auto
    runs_dir: str = "runs"


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

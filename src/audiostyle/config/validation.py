"""The checks that run before any audio is read: ranges, layer names, weights vs
layers, clip specs, sweep settings. Each failure is one ConfigError line.
"""

from __future__ import annotations

import importlib.util
import math

from audiostyle.config.networks import NETWORKS, check_layer_names
from audiostyle.config.schema import (
    Config,
    Domain,
    InitSource,
    MuLaw,
    Network,
    SweepConfig,
    Weights,
)
from audiostyle.errors import CheckpointError, ConfigError
from audiostyle.networks.layers import MUSICNN_MODELS, canonical, musicnn_checkpoint


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def validate(cfg: Config) -> None:
    """Check every value types cannot: ranges, layer names, weights. Raises ConfigError."""
    a, o = cfg.audio, cfg.optim
    _require(math.isfinite(o.lr) and o.lr > 0, f"optim.lr must be a positive number, got {o.lr}")
    _require(
        o.steps >= 0,
        f"optim.steps must be 0 (x_G(0) itself, judged) or a positive integer, got {o.steps}",
    )
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
    _require(o.history > 0, f"optim.history must be a positive integer, got {o.history}")
    _require(
        o.domain != Domain.stft_gain or cfg.init.source == InitSource.content,
        "optim.domain=stft_gain scales x_C's STFT, so x_G(0) is x_C: it takes init=content_noise, "
        f"not init.source={cfg.init.source.value}",
    )
    for key, seed in (("seed", cfg.seed), ("encoder.seed", cfg.encoder.seed)):
        _require(seed >= 0, f"{key} must be an integer >= 0 (numpy's seeds are), got {seed}")
    _require(
        math.isfinite(cfg.loss.energy_weight) and cfg.loss.energy_weight >= 0,
        f"loss.energy_weight must be a finite number >= 0, got {cfg.loss.energy_weight}",
    )
    _require(
        math.isfinite(cfg.loss.harmonic_weight) and cfg.loss.harmonic_weight >= 0,
        f"loss.harmonic_weight must be a finite number >= 0, got {cfg.loss.harmonic_weight}",
    )
    _require(
        math.isfinite(cfg.loss.noise_weight) and cfg.loss.noise_weight >= 0,
        f"loss.noise_weight must be a finite number >= 0, got {cfg.loss.noise_weight}",
    )
    _require(
        math.isfinite(cfg.loss.noise_floor_db) and cfg.loss.noise_floor_db > 0,
        f"loss.noise_floor_db must be a finite number of dB > 0, got {cfg.loss.noise_floor_db}",
    )
    _require(
        math.isfinite(cfg.loss.mmd_bandwidth) and cfg.loss.mmd_bandwidth > 0,
        f"loss.mmd_bandwidth must be a finite number > 0, got {cfg.loss.mmd_bandwidth}",
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
        a.sample_rate == 16000 or cfg.encoder.network == Network.spectral,
        f"audio.sample_rate must be 16000 for {NETWORKS[cfg.encoder.network.value].label} "
        f"(trained at 16 kHz), got {a.sample_rate}",
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
    _require(
        0 <= cfg.init.content_envelope <= 1,
        f"init.content_envelope must be in [0, 1], got {cfg.init.content_envelope}",
    )
    _require(
        cfg.init.octaves is None or abs(cfg.init.octaves) <= 4,
        f"init.octaves must be null (x_S's register) or within -4..4, got {cfg.init.octaves}",
    )
    network = cfg.encoder.network.value
    layers = cfg.style_layers.layers
    _require(len(layers) > 0, "style_layers.layers must name at least one layer")
    model = validate_musicnn(cfg) if cfg.encoder.network == Network.musicnn else None
    check_layer_names([cfg.content_layer.layer], "content_layer.layer", network, model)
    check_layer_names(layers, "style_layers.layers", network, model)
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
        from audiostyle.networks.checkpoint import checkpoint_prefix

        checkpoint_prefix(e.checkpoint)  # there, before TensorFlow loads (read later)
    else:
        _require(
            e.checkpoint is None and not e.use_ema,
            "encoder.checkpoint and encoder.use_ema only apply to encoder=magenta",
        )
    validate_judges(cfg)
    if cfg.judge.tagger:  # its checkpoint, there before any audio is read
        from audiostyle.networks.layers import TAGGER_NETWORK
        from audiostyle.networks.musicnn_weights import checkpoint_prefix as musicnn_prefix

        try:
            musicnn_prefix(TAGGER_NETWORK)
        except CheckpointError as err:
            raise CheckpointError(f"{err}; or run without the tagger: judge.tagger=false") from None
    validate_clips(cfg)  # last: an NSynth TFRecord's notes take a scan of the file


def validate_musicnn(cfg: Config) -> str:
    """encoder=musicnn's own settings; the checkpoint its layers use (MSD_musicnn, MTT_vgg...)."""
    from audiostyle.networks.layers import MUSICNN_PATCH_LAYERS

    chosen = cfg.encoder.musicnn_model
    _require(
        chosen is None or chosen in MUSICNN_MODELS,
        f"encoder.musicnn_model must be one of {', '.join(MUSICNN_MODELS)} or null, got {chosen!r}",
    )
    _require(
        cfg.alpha == 0 or cfg.content_layer.layer not in MUSICNN_PATCH_LAYERS,
        f"content_layer.layer={cfg.content_layer.layer} has one step per 3 s patch: it keeps none "
        "of x_C's timing; choose a frame-rate layer (logmel, timbral, temporal, cnn1..cnn3, "
        "pool1..pool5)",
    )
    _require(
        cfg.runtime.precision.value == "float32",
        "runtime.precision=bfloat16 is not offered for encoder=musicnn (its port computes in "
        "float32); use runtime.precision=float32",
    )
    model = musicnn_checkpoint(cfg)
    from audiostyle.networks.musicnn_weights import checkpoint_prefix as musicnn_prefix

    musicnn_prefix(model)  # its checkpoint, there before any audio is read
    return model


def validate_clips(cfg: Config) -> None:
    """Clip specs well formed; NSynth root and notes present (reads metadata, never audio)."""
    from audiostyle.clips.specs import check

    for key, spec in (("audio.content", cfg.audio.content), ("audio.style", cfg.audio.style)):
        check(spec, key, cfg.data.nsynth_root, cfg.audio.sample_rate)


def validate_judges(cfg: Config) -> None:
    """The judges a run asks for can run, and a sweep on their figures gets them."""
    from audiostyle.networks.layers import TAGGER_NETWORK, loss_networks

    judged = [o for o in cfg.sweep.objectives if o.startswith("eval/judge/")]
    _require(
        not judged or (cfg.judge.tagger and cfg.judge.speech),
        f"sweep.objectives {judged} are the judges' figures: they need judge.tagger=true and "
        "judge.speech=true",
    )
    _require(
        not judged or TAGGER_NETWORK not in loss_networks(cfg),
        f"sweep.objectives {judged} need the tagger, and this run's loss uses its network "
        f"{TAGGER_NETWORK}: choose another encoder.musicnn_model",
    )
    _require(
        not cfg.judge.speech or importlib.util.find_spec("pocketsphinx") is not None,
        "judge.speech needs pocketsphinx: pip install 'pocketsphinx>=5,<6' (or judge.speech=false)",
    )


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

"""One run, end to end: validated config -> clips -> encoder -> transfer -> files and sinks.

The run folder gets the processed inputs, each snapshot, the final x_G, the loss history and a
summary; tracking (MLflow) listens through the same callbacks. Returns the final figures so a
sweep trial can use them.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from omegaconf import OmegaConf
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from audiostyle.clips.audio import write_wav
from audiostyle.clips.inputs import Inputs, load_inputs, mix_of
from audiostyle.config.schema import Config, snapshot_iterations
from audiostyle.config.validation import validate
from audiostyle.errors import NumericalError
from audiostyle.files import check_writable, storage_errors
from audiostyle.networks.layers import loss_networks
from audiostyle.optimisation.start import (
    CROSS_SYNTHESES,
    initial_waveform,
    melody_octaves,
    start_early,
)
from audiostyle.phases import PhaseTimes
from audiostyle.run.context import RunContext, TrialReporting
from audiostyle.run.outputs import (
    keep_last_finite,
    snapshot_path,
    write_history,
    write_json,
    write_pictures,
)
from audiostyle.run.playback import limit_peak
from audiostyle.run.quiet import compile_quietly
from audiostyle.run.redact import redact, redact_files
from audiostyle.run.tracked import (
    ended_run,
    log_clip_inputs,
    open_tracker,
    run_params,
    start_tracked_run,
)

if TYPE_CHECKING:  # metrics, plots and MLflow load only once the inputs are good (seconds)
    from audiostyle.run.tracking import MlflowTracker


log = logging.getLogger(__name__)


def run(cfg: Config, ctx: RunContext) -> dict[str, float]:
    """Run one transfer; every setting is checked before any audio is read."""
    validate(cfg)
    log.info("network %s, chosen by %s", cfg.encoder.network.value, ctx.network)
    phases = PhaseTimes(around={"compile": lambda: compile_quietly(cfg.runtime.verbose)})
    with phases.phase("load", "reading the clips"):
        inputs = load_inputs(cfg)
    check_writable(ctx.run_dir, "the run's outputs")
    if cfg.tracking.enabled and not cfg.tracking.uri:
        check_writable(Path(cfg.runs_dir), "the MLflow store and its artifacts")
    with storage_errors():
        redact_files(ctx.run_dir / ".hydra")
        config_yaml = redact(OmegaConf.to_yaml(OmegaConf.structured(cfg)))
        (ctx.run_dir / "config.yaml").write_text(config_yaml)
    reporter = ctx.reporter
    with (
        phases.phase("tracking", "opening the MLflow run")
        if cfg.tracking.enabled
        else nullcontext()
    ):
        tracker = open_tracker(cfg)
    with ended_run(tracker, ctx.run_dir):  # from its start: an interrupt after ends it KILLED
        if tracker is not None:
            with phases.phase("tracking", "recording the parameters"):
                start_tracked_run(tracker, cfg, ctx, reporter)
        try:
            with storage_errors():
                summary = transfer_and_write(cfg, ctx, inputs, tracker, phases, reporter)
                if reporter is not None:  # for optuna-dashboard: the trial's sound and picture
                    reporter.attach(
                        [ctx.run_dir / "generated.wav", ctx.run_dir / "spectrograms.png"]
                    )
        except NumericalError as err:
            keep_last_finite(ctx.run_dir, err, cfg.audio.sample_rate, inputs.paths)
            raise
    say_where(ctx.run_dir, tracker)
    return summary


def say_where(run_dir: Path, tracker: MlflowTracker | None) -> None:
    """The run's last lines: what to play, what to read, where to compare."""
    log.info("listen: %s", (run_dir / "generated.wav").resolve())
    log.info("report: %s", (run_dir / "report.html").resolve())
    if tracker is None or tracker.experiment_id is None:
        return
    from audiostyle.run.mlflow_conventions import runs_table_url, ui_command

    command = ui_command(tracker.uri)
    if command:
        log.info(
            "compare runs: %s, then open %s",
            redact(command),
            runs_table_url(tracker.uri, tracker.experiment_id),
        )
    else:
        log.info("compare runs: %s", redact(runs_table_url(tracker.uri, tracker.experiment_id)))


def transfer_and_write(
    cfg: Config,
    ctx: RunContext,
    inputs: Inputs,
    tracker: MlflowTracker | None,
    phases: PhaseTimes,
    reporter: TrialReporting | None = None,
) -> dict[str, float]:
    run_dir = ctx.run_dir
    rate = cfg.audio.sample_rate
    write_wav(run_dir / "inputs" / "content.wav", inputs.content, rate, inputs.paths)
    write_wav(run_dir / "inputs" / "style.wav", inputs.style, rate, inputs.paths)
    write_wav(
        run_dir / "inputs" / "mix.wav", mix_of(inputs.content, inputs.style), rate, inputs.paths
    )
    if tracker:
        with phases.phase("tracking", "recording the clips as the run's inputs"):
            log_clip_inputs(tracker, cfg, inputs, run_dir)

    with phases.phase(
        "pitch", "tracking the pitch of x_C, x_S and their mix (pyin; numba compiles it once)"
    ):
        keep_caches(Path(cfg.runs_dir) / "cache")
        track_pitch(inputs, rate)
    # x_G(0) made while TensorFlow starts (init.octaves=null reads the tracks just made)
    early = start_early(cfg, inputs.content, inputs.style)
    with phases.phase("tensorflow", "starting TensorFlow and building the network"):
        from audiostyle.run.quiet import keep_xla_compilations, start_tensorflow

        if cfg.runtime.xla:  # the first run of a process names the folder: flags are read once
            keep_xla_compilations(Path(cfg.runs_dir) / "cache" / "xla")
        start_tensorflow(cfg.runtime.verbose)  # TensorFlow loads only once inputs are good
        from audiostyle.judges.verdict import INSTRUMENT, judge
        from audiostyle.measures.extras import measure
        from audiostyle.measures.metrics import evaluate
        from audiostyle.networks.encoder import build_network
        from audiostyle.optimisation.transfer import run_transfer
        from audiostyle.run.report import write_run_report

        network = build_network(cfg)
    steps = cfg.optim.steps
    bar: tqdm | None = None  # made at the first step's figures: its clock starts after compiling
    layers = cfg.style_layers.layers

    def on_step(stats) -> None:  # steps 0 .. steps - 1, then x_G(steps)'s loss (no update)
        nonlocal bar
        done = min(stats.step + 1, steps)
        if bar is None:
            bar = tqdm(total=steps, initial=done, desc="transfer", unit="step", dynamic_ncols=True)
        elif stats.step < steps:
            bar.update(1)
        if stats.step % cfg.runtime.log_every == 0 or stats.step >= cfg.optim.steps - 1:
            bar.set_postfix(
                loss=f"{stats.total:.4g}",
                content=f"{stats.content:.4g}",
                style=f"{stats.style:.4g}",
            )
            if tracker:
                metrics = {
                    "loss/total": stats.total,
                    "loss/content": stats.content,
                    "loss/style": stats.style,
                    "loss/energy": stats.energy,
                    "loss/harmonic": stats.harmonic,
                    "loss/noise": stats.noise,
                    "grad_norm": stats.grad_norm,
                    "time/step_seconds": stats.seconds,
                }
                metrics.update(
                    {f"style_layer/{n}": float(v) for n, v in zip(layers, stats.per_layer)}
                )
                tracker.log_metrics(metrics, step=stats.step)

    snapshots: dict[int, np.ndarray] = {}  # kept for the pictures: a few clips, not re-read
    snapshot_gains: dict[str, float] = {}

    def on_snapshot(iteration: int, wave: np.ndarray) -> None:
        playable, snapshot_gains[str(iteration)] = limit_peak(wave, cfg.audio.peak)
        write_wav(snapshot_path(run_dir, iteration), playable, rate, inputs.paths)
        snapshots[iteration] = wave

    making = f"cross-synthesising x_G(0) (init={cfg.init.source.value})"
    crossed = cfg.init.source in CROSS_SYNTHESES  # seconds, not instant
    with phases.phase("init", making) if crossed else nullcontext():
        if early is not None:
            x0, octaves = early.result()
        else:
            octaves = melody_octaves(cfg, inputs.content, inputs.style)
            x0 = initial_waveform(cfg, inputs.content, inputs.style, octaves)
        if octaves:
            log.info("x_G(0) plays x_C's melody %+d octaves from x_C's pitch", octaves)

    def on_probe(iteration: int, wave: np.ndarray) -> None:
        metrics = evaluate(wave, inputs.content, inputs.style, x0, rate)
        objectives = cfg.sweep.objectives
        if len(objectives) == 1 and objectives[0].startswith("eval/judge/"):
            # the median rule reads it (a study of two objectives prunes nothing)
            judged = judge(cfg.judge, wave, inputs.content, inputs.style, rate, loss_networks(cfg))
            metrics.update(judged.metrics)
        reporter.report(iteration, metrics)

    probe_every = cfg.sweep.report_every if reporter else 0
    try:
        with logging_redirect_tqdm():  # log lines print above the bar, not through it
            result = run_transfer(
                cfg,
                network,
                inputs.content,
                inputs.style,
                on_step,
                on_snapshot,
                probe_every,
                on_probe,
                phases,
                x0,
                octaves,
            )
    finally:
        if bar is not None:
            bar.close()
    playable, gain_db = limit_peak(result.output, cfg.audio.peak)  # metrics: unscaled x_G
    out = write_wav(run_dir / "generated.wav", playable, rate, inputs.paths)
    write_history(run_dir / "losses.csv", result.history, layers, result.per_layer)
    h, best = result.history, result.output_step
    summary = {
        "loss/total": h["total"][best],  # the output's: x_G(steps), or the best (keep_best)
        "loss/content": h["content"][best],
        "loss/style": h["style"][best],
        "loss/total_initial": h["total"][0],
        "loss/style_initial": h["style"][0],
        "loss/total_max": max(h["total"]),
        "optim/output_step": best,
        "optim/evaluations": result.evaluations,  # loss-and-gradient evaluations (L-BFGS: > steps)
        "time/seconds": result.seconds,  # the transfer: targets, compile and steps
        "time/seconds_per_step": float(np.median(h["seconds"])),
        "runtime/chunk_seconds": result.chunk_samples / rate,  # 0: the whole clip at once
        "output/gain_db": gain_db,  # applied to generated.wav (playback.py); 0: as computed
    }
    with phases.phase("measures", "measuring x_G against x_C, x_S and their mix"):
        summary.update(evaluate(result.output, inputs.content, inputs.style, x0, rate))
        summary.update(
            measure(cfg.measure, result.output, inputs.content, inputs.style, rate, h["total"])
        )
    with phases.phase("judges", "asking the judges (musicnn's tagger, pocketsphinx)"):
        verdict = judge(
            cfg.judge, result.output, inputs.content, inputs.style, rate, loss_networks(cfg)
        )
    summary.update(verdict.metrics)
    kept = snapshot_iterations(cfg)
    about = {"device": result.device, "output": str(out), "snapshots": kept}
    about["snapshot_gain_db"] = snapshot_gains
    about["network"] = {"name": cfg.encoder.network.value, "chosen_by": ctx.network}
    about["judge_notes"] = verdict.notes
    write_json(run_dir / "summary.json", {**summary, **about})
    with phases.phase("pictures", "drawing the spectrograms and writing the report"):
        write_pictures(run_dir, inputs, result, rate, snapshots)
        params = run_params(cfg)
        summary.update(phases.metrics())  # the report's and summary's times: all but theirs
        title = f"audiostyle run {run_dir.name}"
        write_run_report(run_dir, title, ctx.choices, params, summary, kept, verdict.notes)
    if tracker:
        import tensorflow as tf

        with phases.phase("tracking", "logging the results to MLflow"):
            # loss/* per step are already logged, x_G(steps)'s at step `steps`; the phases' times
            # once, below, with this phase's own
            phase_keys = phases.metrics().keys()
            final = {
                k: v
                for k, v in summary.items()
                if not k.startswith("loss/") and k not in phase_keys
            }
            tracker.log_metrics(final, step=steps)
            tracker.set_tags({"device": result.device, "tensorflow_version": tf.__version__})
            if INSTRUMENT in verdict.notes:
                tracker.set_tags({"judge_instrument": verdict.notes[INSTRUMENT]})
    summary.update(phases.metrics())
    write_json(run_dir / "summary.json", {**summary, **about})  # again, with every phase's time
    if tracker:
        tracker.log_metrics(phases.metrics(), step=steps)  # with the last phases' times
    log.info("wrote %s (%.1f s on %s)", out, result.seconds, result.device)
    log.info("phases: %s", ", ".join(f"{k} {v:.1f} s" for k, v in phases.seconds.items()))
    return summary


def keep_caches(cache: Path) -> None:
    """Pitch tracks, speech readings and the tagger's hearing kept under `cache` by the clip's
    digest, for later runs on the same clips (a sweep's trials in one process share the folder
    of the run that set it last: each run sets its own)."""
    from audiostyle.judges import speech, tagger
    from audiostyle.measures import timbre

    timbre.use_disk_cache(cache / "pitch")
    speech.use_disk_cache(cache / "speech")
    tagger.use_disk_cache(cache / "tagger")


def track_pitch(inputs: Inputs, rate: int) -> None:
    """x_C's, x_S's and their mix's pyin tracks, once: the harmonic term and the measures read
    them from measures.timbre's cache, and later runs on the same clips from its disk copy."""
    from audiostyle.measures import timbre

    for clip in (inputs.content, inputs.style, mix_of(inputs.content, inputs.style)):
        timbre.write_track(clip, rate)  # tracks it first if neither memory nor disk has it

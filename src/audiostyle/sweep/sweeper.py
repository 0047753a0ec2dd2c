"""Optuna sweeps as a Hydra sweeper on Optuna's ask/tell API: `python run.py -m sweep=NAME`.

Each trial is an ordinary run launched by Hydra's launcher with the sampled overrides plus
`sweep.trial_id`, so the run reports intermediate values to the same study and can be pruned
(`TrialReporter`). The study lives in a shared storage (SQLite under runs/ by default, any
Optuna URL otherwise), so running the command again resumes it up to `sweep.n_trials`, and
several processes started with the same command work on one study. A trial that raises is
FAIL with its reason and the sweep goes on; a worker that dies stops sending heartbeats and
its RUNNING trial is failed and retried by the next worker that looks (a journal file has no
heartbeats: there a worker with nothing left to ask stops rather than wait on a trial that may
never end). Ctrl-C or SIGTERM stops the sweep: the running trial is FAIL with reason
"interrupted" and does not count toward `sweep.n_trials`, so the same command resumes the study.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import (
    BaseDistribution,
)

from audiostyle import interrupts
from audiostyle.config.from_hydra import resolved, to_config
from audiostyle.config.schema import Method, SweepConfig, TrackingConfig
from audiostyle.config.validation import validate
from audiostyle.errors import ConfigError
from audiostyle.interrupts import held
from audiostyle.run.redact import redact
from audiostyle.sweep.outcomes import abandon, end_dead_runs, standing, tell
from audiostyle.sweep.parent_run import finish_parent_run, open_parent_run, open_tracker
from audiostyle.sweep.sampling import distribution
from audiostyle.sweep.settings import check_study_settings, fixed_settings
from audiostyle.sweep.storage import (
    Heartbeat,
    counted_trials,
    describe_running,
    fail_stale_trials,
    file_of,
    has_heartbeats,
    load_study,
    storage_url,
    study_lock,
)

if TYPE_CHECKING:  # MLflow loads only when tracking is on
    from audiostyle.run.tracking import MlflowTracker

log = logging.getLogger(__name__)


class OptunaSweeper:
    """Drives Optuna's ask/tell for Hydra (through the shim in hydra_plugins); settings come
    from the `sweep` config node."""

    def __init__(self) -> None:
        self.config: DictConfig | None = None
        self.launcher = None
        self.hydra_context: HydraContext | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def _settings(self) -> tuple[SweepConfig, str, TrackingConfig]:
        assert self.config is not None
        sweep = resolved(
            OmegaConf.merge(OmegaConf.structured(SweepConfig), self.config.sweep), "sweep."
        )
        tracking = resolved(
            OmegaConf.merge(OmegaConf.structured(TrackingConfig), self.config.tracking),
            "tracking.",
        )
        return sweep, str(self.config.runs_dir), tracking

    def _validate_fixed(self, fixed: list[str], searched: list[str]) -> dict[str, object]:
        """Check the settings every trial shares (the command line and sweep.params' plain
        values, composed as a trial composes them), and read its clips, once before the first
        trial: a mistake there would fail every trial and use up sweep.n_trials. Searched keys
        are checked at their config values; a sampled value is checked by its trial.
        Returns the fixed settings that the study's digest records (settings.py)."""
        from audiostyle.clips.inputs import load_inputs

        assert self.config is not None and self.hydra_context is not None
        composed = self.hydra_context.config_loader.load_sweep_config(self.config, fixed)
        job = OmegaConf.masked_copy(composed, [k for k in composed if k != "hydra"])
        config = to_config(job)
        validate(config)
        if config.optim.method == Method.lbfgs and "optim.lr" in searched:
            raise ConfigError(
                "the sweep searches optim.lr, which optim=lbfgs does not use (its line search "
                "sets each step): fix it (optim.lr=0.01) to search the rest, or sweep Adam"
            )
        inputs = load_inputs(config)  # a missing or unreadable file: types and ranges cannot tell
        return fixed_settings(config, searched, (inputs.content, inputs.style))

    def _split(
        self, arguments: list[str], cfg: SweepConfig
    ) -> tuple[list[str], dict[str, BaseDistribution], list[str]]:
        """(fixed overrides, search space, the searched config keys). A key given a plain value on the command line is
        fixed, not searched, even where sweep.params searches it (the command line wins, as
        everywhere in Hydra; the sampled value used to replace it silently)."""
        assert self.hydra_context is not None and self.config is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        lines = [f"{k}={v}" for k, v in cfg.params.items()] + list(arguments)
        fixed: list[str] = []
        given: dict[str, str] = {}  # key -> its fixed value on the command line
        space: dict[str, BaseDistribution] = {}
        searched: dict[str, str] = {}  # key -> its name in the search space
        for i, override in enumerate(parser.parse_overrides(lines)):
            key = override.key_or_group
            if override.is_sweep_override():
                current = OmegaConf.select(self.config, key, default=None)
                space[override.get_key_element()] = distribution(override, current)
                searched[key] = override.get_key_element()
            else:
                fixed.append(override.input_line)
                if i >= len(cfg.params):
                    given[key] = override.input_line
        for key, line in given.items():
            if key in searched:
                del space[searched.pop(key)]
                log.info("%s on the command line: fixed, not searched", line)
        if not space:
            raise ConfigError(
                "the sweep has no search space: set sweep.params or give key=interval(...)"
            )
        return fixed, space, sorted(searched)

    def sweep(self, arguments: list[str]) -> Any:
        cfg, runs_dir, tracking = self._settings()
        fixed, space, searched = self._split(arguments, cfg)
        settings = self._validate_fixed(fixed, searched)
        study = load_study(cfg, runs_dir)
        url = storage_url(cfg, runs_dir)
        log.info("study %r in %s: %d trials requested", cfg.study_name, redact(url), cfg.n_trials)
        if not has_heartbeats(study._storage):
            log.warning(
                "%s has no heartbeats: a worker that dies leaves its trial RUNNING, and a "
                "worker with nothing left to ask stops instead of waiting for other workers",
                redact(url),
            )
        tracker = open_tracker(tracking, runs_dir)  # the sweep's own run and dead workers' runs
        with held(), study_lock(study, url):  # one parent run, however many workers start
            check_study_settings(study, settings)
            open_parent_run(study, cfg, tracker)
        parent = tracker.run_id if tracker else None  # every trial's run is its child
        asked: list[optuna.Trial] = []  # this worker's trials not yet told
        ran = 0
        awaited, said_at = "", 0.0  # the RUNNING trials last reported waited for, and when
        try:
            while True:
                interrupts.check()  # a Ctrl-C that Python discarded during the last trial
                state, batch = self._next_batch(study, cfg, space, url, asked, tracker)
                if state in ("done", "leave"):
                    break
                if state == "run":
                    self._run_batch(study, cfg, fixed, batch, parent)
                    ran += len(batch)
                    asked.clear()
                    continue
                # others still run trials; one whose worker died comes back to be retried
                running = describe_running(study)
                if running != awaited or time.monotonic() - said_at > 600:
                    log.info(
                        "waiting for other workers: %s; a trial whose worker died is failed "
                        "and retried %d s after its last heartbeat",
                        running,
                        2 * cfg.heartbeat_seconds,
                    )
                    awaited, said_at = running, time.monotonic()
                time.sleep(cfg.heartbeat_seconds)
            if state == "done":
                if not ran:
                    log.warning("nothing to run: %s", standing(study, cfg))
                finish_parent_run(study, cfg, tracker, runs_dir)
            # "leave": other workers' trials run on; the last worker to finish ends the
            # parent run (it stays RUNNING until then)
        except BaseException as err:  # Ctrl-C, SIGTERM, a launcher error: the study stays sound
            with held():  # a second Ctrl-C must not cut this clean-up short
                abandon(study, asked, tracker, err)
            raise
        return study

    def _next_batch(
        self,
        study: optuna.Study,
        cfg: SweepConfig,
        space: dict[str, BaseDistribution],
        url: str,
        asked: list[optuna.Trial],
        tracker: MlflowTracker | None,
    ) -> tuple[str, list[optuna.Trial]]:
        """("run", new trials for this worker, also appended to `asked` the moment they exist),
        ("wait", []) for other workers' trials, ("done", []) when the study is done, or
        ("leave", []) when only other workers' trials run and none can be told dead (no
        heartbeats): this worker stops and leaves the parent run to them."""
        with held(), study_lock(study, url):
            dead = fail_stale_trials(study)
            counted, waiting, running = counted_trials(study)
            free = max(cfg.n_trials - counted, 0) + waiting
            batch = [study.ask(space) for _ in range(min(cfg.n_jobs, free))]
            asked.extend(batch)
            for trial in batch:  # which machine and process ran it, for whoever reads the study
                if has_heartbeats(study._storage):  # from now on, a dead worker's trial shows
                    study._storage.record_heartbeat(trial._trial_id)
                trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        if dead and tracker is not None:
            end_dead_runs(tracker, cfg.study_name, dead)
        if batch:
            return "run", batch
        if not running:
            return "done", []
        if has_heartbeats(study._storage):
            return "wait", []
        path = file_of(url)
        log.warning(
            "nothing left to ask, and not waiting for %s: %s has no heartbeats, so a dead "
            "worker's trial cannot be told from a running one. If its worker died, fail it by "
            "hand (it then counts toward sweep.n_trials): optuna tell --storage %s "
            "--study-name %s --trial-number N --state fail",
            describe_running(study),
            redact(url),
            path if path is not None else redact(url),
            cfg.study_name,
        )
        return "leave", []

    def _run_batch(
        self,
        study: optuna.Study,
        cfg: SweepConfig,
        fixed: list[str],
        batch: list[optuna.Trial],
        parent: str | None,
    ) -> None:
        jobs = []
        for trial in batch:
            sampled = [f"{k}={v}" for k, v in trial.params.items()]
            extra = [f"sweep.trial_id={trial._trial_id}"]
            if parent:
                extra.append(f"sweep.parent_run_id={parent}")
            jobs.append(fixed + sampled + extra)
        with Heartbeat(study._storage, [t._trial_id for t in batch], cfg.heartbeat_seconds):
            returns: Sequence[JobReturn] = self.launcher.launch(
                jobs, initial_job_idx=batch[0].number
            )
        for trial, ret in zip(batch, returns, strict=True):
            tell(study, cfg, trial, ret)

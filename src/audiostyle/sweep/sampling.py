"""What a sweep samples: Hydra sweep syntax as Optuna distributions, the sampler
(seeded per trial, so a trial's parameters do not depend on which worker asked) and the pruner.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import optuna
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from audiostyle.config.schema import SweepConfig
from audiostyle.errors import ConfigError


def make_pruner(cfg: SweepConfig) -> optuna.pruners.BasePruner:
    if cfg.pruner == "none" or len(cfg.objectives) > 1:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(
        n_startup_trials=cfg.pruner_startup_trials, n_warmup_steps=cfg.pruner_warmup_steps
    )


def make_sampler(cfg: SweepConfig, seed: int) -> optuna.samplers.BaseSampler:
    if cfg.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if cfg.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    # constant_liar: parallel workers do not all sample next to the same promising point
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)


def trial_seed(seed: int, number: int) -> int:
    return zlib.crc32(f"{seed}:{number}".encode())


class TrialSeededSampler(optuna.samplers.BaseSampler):
    """The configured sampler, seeded afresh for each trial from (sweep.seed, trial number).
    A sweep run from scratch is reproducible, yet a resumed sweep or a second worker, which
    start from the same sweep.seed, do not repeat the random points already asked (TPE's
    start-up trials, `random`, NSGA-II's first population)."""

    def __init__(self, cfg: SweepConfig):
        self.cfg = cfg
        self.inner = make_sampler(cfg, cfg.seed)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.inner = make_sampler(self.cfg, trial_seed(self.cfg.seed, trial.number))
        self.inner.before_trial(study, trial)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self.inner.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self.inner.sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self.inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self.inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()


def distribution(override: Override, current: object = None) -> BaseDistribution:
    """Hydra's sweep grammar -> an Optuna distribution. Hydra reads interval() ends as floats,
    so an interval is over integers when the key's value in the composed config (`current`)
    is an int, as the schema makes optim.steps."""
    value = override.value()
    if isinstance(value, ChoiceSweep):
        return CategoricalDistribution(list(override.sweep_iterator(transformer=lambda x: x)))
    if isinstance(value, RangeSweep):
        return CategoricalDistribution(list(override.sweep_iterator(transformer=lambda x: x)))
    if isinstance(value, IntervalSweep):
        log_scale = "log" in value.tags
        if isinstance(current, int) and not isinstance(current, bool):
            if not (float(value.start).is_integer() and float(value.end).is_integer()):
                raise ConfigError(
                    f"{override.input_line}: {override.key_or_group} is an integer setting, "
                    "so interval() needs integer ends"
                )
            return IntDistribution(int(value.start), int(value.end), log=log_scale)
        return FloatDistribution(float(value.start), float(value.end), log=log_scale)
    raise ConfigError(
        f"{override.input_line}: a sweep needs choice(...), range(...) or interval(...)"
    )

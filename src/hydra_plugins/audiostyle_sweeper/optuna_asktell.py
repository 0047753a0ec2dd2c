"""Hydra finds sweepers only inside the `hydra_plugins` namespace: this is audiostyle's, a thin
shim over `audiostyle.sweep.sweeper.OptunaSweeper` that imports Optuna only when a sweep starts."""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class OptunaAskTellSweeper(Sweeper):
    def __init__(self) -> None:
        self._impl = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        from audiostyle.sweep.sweeper import OptunaSweeper

        self._impl = OptunaSweeper()
        self._impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        from audiostyle.errors import AudiostyleError, fail

        assert self._impl is not None, "setup() runs before sweep()"
        try:
            return self._impl.sweep(arguments)
        except AudiostyleError as err:  # bad sweep settings: one line, exit 2, as for a run
            fail(err)

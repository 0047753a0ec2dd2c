"""What a run is told besides its config: where it writes, what Hydra chose, and, for a sweep
trial, its link to the study (injected by the command line, so the run never imports the sweep).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class TrialReporting(Protocol):
    """A sweep trial's link to its study (`audiostyle.sweep.reporter.TrialReporter`): the run
    reports intermediate values through it and never imports the sweep."""

    @property
    def number(self) -> int: ...

    def report(self, step: int, metrics: dict[str, float]) -> None: ...

    def attach(self, files: list[Path]) -> None: ...


@dataclass
class RunContext:
    """Where a run writes, and what Hydra knows about it (for tags)."""

    run_dir: Path
    choices: dict[str, str] = field(default_factory=dict)
    command: str = ""
    network: str = "default"  # what chose encoder.network (cli.why_this_network)
    reporter: TrialReporting | None = None  # set for a trial of an Optuna sweep

"""A trial's side of a sweep: intermediate values reported to the study, from inside
the run that Hydra's launcher started, so the median rule can prune it.
"""

from __future__ import annotations

from pathlib import Path

import optuna

from audiostyle.config.schema import SweepConfig
from audiostyle.interrupts import held
from audiostyle.sweep.storage import load_study


class TrialReporter:
    """Used inside a trial's run: reports intermediate objective values and asks to prune."""

    def __init__(self, cfg: SweepConfig, runs_dir: str):
        assert cfg.trial_id is not None
        self.cfg = cfg
        self.study = load_study(cfg, runs_dir)
        self.trial = optuna.Trial(self.study, cfg.trial_id)
        self.single = len(cfg.objectives) == 1
        self.artifacts = artifact_store(runs_dir)

    @property
    def number(self) -> int:
        return self.trial.number

    def report(self, step: int, metrics: dict[str, float]) -> None:
        if not self.single:
            return  # Optuna does not prune multi-objective studies
        with held():
            self.trial.report(metrics[self.cfg.objectives[0]], step)
            prune = self.trial.should_prune()
        if prune:
            raise optuna.TrialPruned(f"pruned at step {step}")

    def attach(self, files: list[Path]) -> None:
        """The trial's files as Optuna artifacts, so optuna-dashboard plays and shows them."""
        for path in files:
            with held():
                optuna.artifacts.upload_artifact(
                    artifact_store=self.artifacts, file_path=str(path), study_or_trial=self.trial
                )


def artifact_store(runs_dir: str) -> optuna.artifacts.FileSystemArtifactStore:
    """Beside the study under runs_dir (for a shared database too: one folder per machine,
    `optuna-dashboard --artifact-dir` shows one machine's)."""
    folder = Path(runs_dir) / "optuna-artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return optuna.artifacts.FileSystemArtifactStore(str(folder))

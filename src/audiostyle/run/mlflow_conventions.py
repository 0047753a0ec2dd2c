"""MLflow's own conventions, so that its UI shows a run as it shows any other.

- The experiment's `mlflow.experimentKind` is `custom_model_development` ("Machine learning"
  in the UI's kind selector): runs, not GenAI traces. MLflow 3.17's UI picks its view from a
  global "GenAI / Model training" switch (the `workflowType` URL parameter, remembered in the
  browser) and starts a fresh browser on GenAI, so the URL printed after a run names the runs
  table and `workflowType=machine_learning` (tests/test_mlflow_ui.py opens it in Chromium).
- Each run: `mlflow.source.name` (the script), `mlflow.source.git.commit` (in a git checkout),
  `mlflow.note.content` (the command line: the UI's description).
- x_C and x_S as the run's dataset inputs, each with a digest of the processed clip (samples and
  rate), so that `datasets.digest = '...'` finds every run on the same clip.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
from mlflow.entities import DatasetInput, InputTag
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

import audiostyle
from audiostyle.clips.inputs import clip_digest

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
LOCAL_UI = "http://127.0.0.1:5000"  # where `mlflow ui` listens by default


def git_commit(folder: Path) -> str | None:
    """The checked-out commit of the repository holding `folder`; None outside one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def source_name() -> str:
    """The script that started the run (run.py), else the package."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.suffix == ".py" and script.is_file():
        return str(script.resolve())
    return "audiostyle"


def note(command: str) -> str:
    """The command line as the run's description (Markdown: a code block)."""
    if command.split(" ", 1)[0].endswith(".py"):
        command = f"python {command}"
    return f"```\n{command}\n```"


def run_tags(command: str) -> dict[str, str]:
    tags = {"mlflow.source.name": source_name(), "mlflow.source.type": "LOCAL"}
    commit = git_commit(Path(audiostyle.__file__).parent)  # the code that ran, not the cwd
    if commit:
        tags["mlflow.source.git.commit"] = commit
    if command:
        tags["mlflow.note.content"] = note(command)
    return tags


def clip_input(spec: str, role: str, wave: np.ndarray, rate: int, path: Path) -> DatasetInput:
    """One processed clip as a dataset input: named by its spec, context `content` or `style`,
    its source the processed WAV in the run folder."""
    import mlflow.data

    with warnings.catch_warnings():  # MLflow registers file paths' source twice and says so
        warnings.filterwarnings("ignore", "The specified dataset source can be interpreted")
        dataset = mlflow.data.from_numpy(
            wave, source=path.resolve().as_uri(), name=spec, digest=clip_digest(wave, rate)
        )
    tags = [InputTag(MLFLOW_DATASET_CONTEXT, role), InputTag("sample_rate", str(rate))]
    return DatasetInput(dataset=dataset._to_mlflow_entity(), tags=tags)


def runs_table_url(uri: str, experiment_id: str) -> str:
    """The experiment's runs table: on the server itself, or on `mlflow ui` for a local store."""
    base = uri.rstrip("/") if uri.startswith(("http://", "https://")) else LOCAL_UI
    return f"{base}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def ui_command(uri: str) -> str | None:
    """The command that serves a local store; None for a tracking server (already serving)."""
    if uri.startswith(("http://", "https://")):
        return None
    return f"mlflow ui --backend-store-uri {uri}"

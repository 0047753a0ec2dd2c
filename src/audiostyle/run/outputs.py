"""A run's files: the loss history, summary.json, the pictures, the snapshots' names, and
x_G kept as `last_finite.wav` when the optimisation stops being finite.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from audiostyle.clips.audio import write_wav
from audiostyle.clips.inputs import Inputs
from audiostyle.errors import AudioError, NumericalError, StorageError
from audiostyle.files import atomic_path, storage_errors

if TYPE_CHECKING:  # metrics, plots and MLflow load only once the inputs are good (seconds)
    pass


log = logging.getLogger(__name__)


def write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))


def write_history(
    path: Path, history: dict[str, list[float]], layers: list[str], per_layer
) -> None:
    keys = list(history)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", *keys, *(f"style/{n}" for n in layers)])
        for i in range(len(history[keys[0]])):
            w.writerow([i, *(history[k][i] for k in keys), *per_layer[i].tolist()])


def snapshot_path(run_dir: Path, iteration: int) -> Path:
    return run_dir / "snapshots" / f"iter_{iteration:04d}.wav"


def write_pictures(
    run_dir: Path, inputs: Inputs, result, rate: int, snapshots: dict[int, np.ndarray]
) -> None:
    from audiostyle.run.plots import save_loss_curves, save_spectrograms

    spec = run_dir / "spectrograms"
    clips = {"content": inputs.content, "style": inputs.style, "generated": result.output}
    for name, x in clips.items():
        save_spectrograms({name: x}, rate, spec / f"{name}.png")
    for i, wave in snapshots.items():
        save_spectrograms({f"iteration {i}": wave}, rate, spec / f"iter_{i:04d}.png")
    save_spectrograms(
        {"content x_C": inputs.content, "style x_S": inputs.style, "generated x_G": result.output},
        rate,
        run_dir / "spectrograms.png",
    )
    save_loss_curves(result.history, run_dir / "loss_curves.png")


def keep_last_finite(run_dir: Path, err: NumericalError, rate: int, protected) -> None:
    """Write x_G as it stood when the loss stopped being finite (its samples are finite)."""
    if err.last_finite is None:
        return
    try:
        with storage_errors():
            path = write_wav(run_dir / "last_finite.wav", err.last_finite, rate, protected)
    except (AudioError, StorageError) as why:  # overflowed samples or a full disk: the NaN
        # stays the error reported
        log.warning("could not keep x_G (iteration %d): %s", err.iteration, why)
        return
    log.warning("kept the last finite x_G (iteration %d) in %s", err.iteration, path)

"""Pictures of a run: spectrograms side by side and the loss curves (PNG).

Each picture is its own `matplotlib.figure.Figure` on the Agg canvas, not pyplot's global state,
so a caller may draw them on any thread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy import signal

N_FFT = 512
HOP = 128


def spectrogram_db(x: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frequencies (Hz), times (s) and magnitude in dB relative to full scale."""
    f, t, z = signal.stft(x, fs=rate, nperseg=N_FFT, noverlap=N_FFT - HOP)
    db = 20.0 * np.log10(np.maximum(np.abs(z) * 2.0, 1e-6))
    return f, t, db


def save_spectrograms(clips: dict[str, np.ndarray], rate: int, path: Path) -> Path:
    """One panel per clip (seconds on x, Hz on y) sharing one colour scale and bar."""
    fig = Figure(figsize=(4.2 * len(clips), 3.4))
    axes = fig.subplots(1, len(clips), sharey=True, squeeze=False)
    image = None
    for ax, (title, x) in zip(axes[0], clips.items()):
        f, t, db = spectrogram_db(x, rate)
        image = ax.pcolormesh(t, f, db, vmin=-100, vmax=0, cmap="magma", shading="auto")
        ax.set_title(title)
        ax.set_xlabel("time (s)")
    axes[0][0].set_ylabel("frequency (Hz)")
    fig.colorbar(image, ax=axes[0].tolist(), label="dB re full scale")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")  # keep the axis labels, drop the margins
    return path


def save_loss_curves(history: dict[str, list[float]], path: Path) -> Path:
    """Total, style and content loss (log scale) against the iteration."""
    fig = Figure(figsize=(6.0, 3.6))
    ax = fig.subplots()
    for key in ("total", "style", "content"):
        values = np.asarray(history[key], dtype=float)
        positive = np.where(values > 0, values, np.nan)  # log scale: 0 (alpha 0's content) is off
        # a line through one point is invisible: mark a curve with one point to draw
        marker = "o" if np.count_nonzero(np.isfinite(positive)) == 1 else None
        ax.plot(np.arange(len(values)), positive, marker=marker, label=key)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path

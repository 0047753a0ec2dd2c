"""What a user plays peaks at most at full scale: over-range x_G is scaled down, never boosted."""

import json
import math

import numpy as np
import pytest
import soundfile as sf

from audiostyle.run.context import RunContext
from audiostyle.run.playback import limit_peak
from audiostyle.run.runner import run


def test_over_range_audio_is_scaled_down_to_the_target_peak():
    x = np.array([0.2, -1.08, 0.5], dtype=np.float32)
    y, gain_db = limit_peak(x, 0.9)
    assert np.max(np.abs(y)) == pytest.approx(0.9, abs=1e-6) and y.dtype == np.float32
    assert gain_db == pytest.approx(20 * math.log10(0.9 / 1.08))
    assert y == pytest.approx(x * 0.9 / 1.08, abs=1e-6)  # one gain for every sample


@pytest.mark.parametrize("peak", [0.3, 1.0])
def test_audio_within_full_scale_is_left_alone(peak):
    x = np.array([0.1, -peak, 0.05], dtype=np.float32)
    y, gain_db = limit_peak(x, 0.9)
    assert gain_db == 0.0 and np.array_equal(y, x), "never boosted, even below the target: x itself"


def test_a_target_of_full_scale_never_rounds_above_it():
    x = np.full(1000, 1.0 + 1e-7, dtype=np.float32) * np.linspace(-3, 3, 1000, dtype=np.float32)
    y, _ = limit_peak(x, 1.0)
    assert np.max(np.abs(y)) <= 1.0


def test_over_range_output_plays_as_heard_and_the_gain_is_logged(compose_config, tmp_path):
    """lr 0.5: Adam's first step moves each sample by about 0.5, so x_G(1) peaks near 1.4."""
    cfg = compose_config(
        "tracking=mlflow",
        f"runs_dir={tmp_path}",
        "optim.steps=1",
        "optim.lr=0.5",
        "optim.schedule=constant",  # the full rate from the first step,
        "optim.keep_best=false",  # and its x_G(1) as the output
        "snapshots=[0,1]",
        "tracking.system_metrics_seconds=0",
    )
    summary = run(cfg, RunContext(run_dir=tmp_path / "run"))
    assert summary["output/gain_db"] < -1.0, summary["output/gain_db"]
    # the metrics keep x_G as computed: its peak, scaled to audio.peak, is the gain
    assert summary["eval/peak"] > 1.0
    assert summary["output/gain_db"] == pytest.approx(
        20 * math.log10(cfg.audio.peak / summary["eval/peak"])
    )
    written = tmp_path / "run" / "generated.wav"
    x, _ = sf.read(written)
    assert sf.info(written).subtype == "PCM_16"  # within full scale: an ordinary WAV
    assert np.max(np.abs(x)) == pytest.approx(cfg.audio.peak, abs=2 / 32768)
    snapshot, _ = sf.read(tmp_path / "run" / "snapshots" / "iter_0001.wav")
    assert np.array_equal(snapshot, x), "x_G(1) is the output's samples: scaled and written alike"
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert saved["output/gain_db"] == summary["output/gain_db"]
    assert saved["snapshot_gain_db"] == {"0": 0.0, "1": summary["output/gain_db"]}

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (found,) = client.search_runs([client.get_experiment_by_name("audiostyle").experiment_id])
    assert found.data.metrics["output/gain_db"] == pytest.approx(summary["output/gain_db"])

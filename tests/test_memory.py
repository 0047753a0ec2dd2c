"""runtime.chunk_seconds=null: the whole clip when its step fits the budget, chunks when not."""

import logging

import numpy as np
import pytest

from audiostyle.config.schema import MuLaw
from audiostyle.errors import ConfigError
from audiostyle.losses.chunked import chunk_samples, window_samples
from audiostyle.networks.encoder import NSynthEncoder, NSynthFeatures, build_network
from audiostyle.networks.weights import random_weights
from audiostyle.optimisation.memory import GB, SAFETY, auto_chunk_seconds, budget_bytes, step_bytes
from audiostyle.optimisation.transfer import run_transfer

from conftest import NSYNTH, plain_config

RATE = 16000
NAMES = ["final_relu", *(f"{k}_{i}" for i in range(1, 31) for k in "AB")]  # relu_both


@pytest.fixture(scope="module")
def nsynth():
    return NSynthFeatures(NSynthEncoder(random_weights(0)), MuLaw.continuous)


def test_the_model_reproduces_the_measured_peaks(nsynth):
    """docs/speed.md: whole clip, all 60 ReLU layers, 2.00 GB at 16000 and 4.48 GB at 48000."""
    for samples, measured in ((16000, 2.00), (48000, 4.48)):
        assert step_bytes(nsynth, NAMES, samples, samples) / GB == pytest.approx(measured, rel=0.1)
    first5 = ["final_relu", "A_1", "B_1", "A_2", "B_2", "A_3"]
    for samples, measured in ((32000, 2.05), (128000, 5.41)):
        assert step_bytes(nsynth, first5, samples, samples) / GB == pytest.approx(measured, rel=0.1)


def test_a_clip_that_fits_runs_whole_and_a_long_one_in_the_longest_chunks_that_fit(nsynth):
    assert auto_chunk_seconds(nsynth, NAMES, 48000, RATE, 10 * GB) is None
    minute = 60 * RATE
    budget = 10 * GB
    seconds = auto_chunk_seconds(nsynth, NAMES, minute, RATE, budget)
    assert seconds is not None

    def need(s: float) -> float:
        chunk = chunk_samples(s, RATE, nsynth, minute)
        return SAFETY * step_bytes(nsynth, NAMES, window_samples(nsynth, NAMES, chunk), minute)

    assert need(seconds) <= budget < need(2 * seconds)  # the longest that fits
    assert need(seconds) < SAFETY * step_bytes(nsynth, NAMES, minute, minute) / 10


def test_a_clip_no_chunk_splits_runs_whole_and_says_why(nsynth, caplog):
    """Under 1 s over a tiny budget: chunks of 1 s would hold the whole clip anyway."""
    with caplog.at_level(logging.INFO, logger="audiostyle.optimisation.memory"):
        assert auto_chunk_seconds(nsynth, NAMES, 12000, RATE, 0.1 * GB) is None
    assert "no chunk length (down to 1 s) splits it: it runs whole" in caplog.text
    assert "chunks" not in caplog.text.replace("no chunk length", "")
    with caplog.at_level(
        logging.INFO, logger="audiostyle.optimisation.memory"
    ):  # 1.5 s: 1 s chunks split it
        assert auto_chunk_seconds(nsynth, NAMES, 24000, RATE, 0.1 * GB) == 1.0


def test_no_budget_known_means_the_whole_clip(nsynth):
    assert auto_chunk_seconds(nsynth, NAMES, 60 * RATE, RATE, None) is None
    assert budget_bytes(2.5) == 2.5 * GB
    free = budget_bytes(None)
    assert free is None or 0 < free < 1e15  # half of what /proc/meminfo says is available


def test_a_run_over_budget_is_chunked_and_says_so(caplog):
    """End to end through run_transfer: 2 s on a shallow NSynth, a budget only chunks fit."""
    rng = np.random.default_rng(0)
    content, style = (0.3 * rng.normal(size=(2, 2 * RATE))).astype(np.float32)
    short = {"audio.duration": 2.0, "optim.steps": 1, "snapshots": [0]}
    first5 = {
        "style_layers.layers": ["A_1", "B_1", "A_2", "B_2", "A_3"],
        "style_layers.weights": None,
    }
    shallow = {"content_layer.layer": "A_3", **first5}
    chunks = {}
    for budget in ("1.35", "100"):
        cfg = plain_config(NSYNTH, short, shallow, {"runtime.memory_gb": float(budget)})
        network = build_network(cfg)
        with caplog.at_level(logging.INFO, logger="audiostyle.optimisation.memory"):
            result = run_transfer(cfg, network, content, style)
        chunks[budget] = result.chunk_samples
        assert np.isfinite(result.history["total"][0])
    assert chunks == {"1.35": chunk_samples(1, RATE, network, 2 * RATE), "100": 0}
    assert "computing the same gradients in 1 s chunks" in caplog.text


def test_a_bad_budget_is_a_config_error(compose_config):
    from audiostyle.config.validation import validate

    for bad in ("0", "-1", "nan"):
        with pytest.raises(ConfigError, match="runtime.memory_gb"):
            validate(compose_config(f"runtime.memory_gb={bad}"))

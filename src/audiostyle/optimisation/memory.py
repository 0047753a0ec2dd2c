"""How much memory an Adam step takes, and the chunk length that keeps a long clip inside it.

With `runtime.chunk_seconds=null` a run takes the whole clip at once when its step fits in the
memory budget (`runtime.memory_gb`; by default half the memory free when the run starts) and
otherwise computes the same loss and gradient in chunks (chunked.py), so a clip of any length
runs without the user choosing a chunk. The model is linear in the samples a step holds, fitted
to `benchmarks/speed.py`'s peak-RSS measurements of the NSynth encoder (docs/speed.md).
"""

from __future__ import annotations

import logging
import os

from audiostyle.losses.chunked import chunk_samples, window_samples

log = logging.getLogger(__name__)

GB = 1e9
BASE_BYTES = 0.9 * GB  # TensorFlow, the weights and Python, at zero samples (0.76-0.93 measured)
SAFETY = 1.25  # the fit under-estimated a chunked 60 s run by 12%: keep a margin
CLIP_BUFFER_BYTES = 5 * 4  # per clip sample in chunked runs: x_G, Adam's m and v, gradient sums
CHUNK_CHOICES = (32.0, 16.0, 8.0, 4.0, 2.0, 1.0)  # seconds, largest first: least overlap work


def budget_bytes(memory_gb: float | None) -> float | None:
    """The step's budget: `memory_gb`, else half the memory available now (None if unknown)."""
    if memory_gb is not None:
        return memory_gb * GB
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        return 0.5 * int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        try:
            return 0.5 * os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, AttributeError):
            return None


def step_bytes(network, names: list[str], window: int, length: int) -> float | None:
    """Peak bytes of one step over windows of `window` samples of a `length`-sample clip
    (window == length: the whole clip at once); None for a network without a memory model."""
    per_sample = getattr(network, "step_bytes_per_sample", None)
    if per_sample is None:
        return None
    chunked = window < length
    clip = length * (CLIP_BUFFER_BYTES + network.target_bytes_per_sample(names)) if chunked else 0
    return BASE_BYTES + window * per_sample(names) + clip


def auto_chunk_seconds(
    network, names: list[str], length: int, rate: int, budget: float | None
) -> float | None:
    """None when the whole clip fits in `budget` bytes, nothing is known, or no chunk length
    would split the clip (said in a warning); otherwise the longest chunk, in seconds, whose
    step fits (1 s when even that is over)."""
    whole = step_bytes(network, names, length, length)
    if whole is None or budget is None or SAFETY * whole <= budget:
        return None
    chunks = [(s, chunk_samples(s, rate, network, length)) for s in CHUNK_CHOICES]
    shorter = [(s, chunk) for s, chunk in chunks if chunk < length]
    if not shorter:  # a clip of about 1 s or less: chunks would not split it
        log.warning(
            "the whole %.1f s clip needs about %.1f GB a step, over the %.1f GB budget "
            "(runtime.memory_gb), but no chunk length (down to 1 s) splits it: it runs whole",
            length / rate,
            SAFETY * whole / GB,
            budget / GB,
        )
        return None
    needs = [
        (s, step_bytes(network, names, window_samples(network, names, c), length))
        for s, c in shorter
    ]
    fitting = [s for s, need in needs if SAFETY * need <= budget]
    if fitting:
        seconds = fitting[0]
    else:
        seconds, need = needs[-1]
        log.warning("even %g s chunks need about %.1f GB a step", seconds, SAFETY * need / GB)
    log.info(
        "the whole %.1f s clip needs about %.1f GB a step, over the %.1f GB budget "
        "(runtime.memory_gb): computing the same gradients in %g s chunks",
        length / rate,
        SAFETY * whole / GB,
        budget / GB,
        seconds,
    )
    return seconds

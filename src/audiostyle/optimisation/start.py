"""x_G(0): where the optimisation starts (the `init` group), free of TensorFlow.

A cross-synthesis start (init=world|vocoder) costs about a second of WORLD analysis on 2 cores.
pyworld releases the GIL, so `start_early` makes it on a thread while TensorFlow imports, and a
sweep's trials in one process take it from memory: the trials change alpha and the rate, not
the clips.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

import numpy as np

from audiostyle.clips import cross_synthesis
from audiostyle.config.schema import Config, InitSource
from audiostyle.digests import DigestCache, digest
from audiostyle.measures import timbre

CROSS_SYNTHESES = (InitSource.world, InitSource.vocoder)
_crossed: DigestCache[np.ndarray] = DigestCache(".npy", np.save, np.load, size=4)  # memory only


def melody_octaves(cfg: Config, content: np.ndarray, style: np.ndarray) -> int:
    """The whole octaves x_G(0) moves x_C's melody (init=world): `init.octaves`, or with null
    those that bring x_C's median pyin pitch nearest x_S's (its register). The harmonic term
    then asks for x_S's profile at the moved pitch. 0 for every other init."""
    if cfg.init.source != InitSource.world:
        return 0
    if cfg.init.octaves is not None:
        return cfg.init.octaves
    rate = cfg.audio.sample_rate
    c, s = (timbre.f0_track(x, rate) for x in (content, style))
    return cross_synthesis.register_octaves(np.where(c[1], c[0], 0.0), np.where(s[1], s[0], 0.0))


def initial_waveform(
    cfg: Config, content: np.ndarray, style: np.ndarray, octaves: int = 0
) -> np.ndarray:
    """x_G(0): the chosen source plus U[-scale, scale] noise, seeded by `seed`; `octaves`
    moves the melody of init=world (melody_octaves)."""
    source = cfg.init.source
    if source in CROSS_SYNTHESES:
        base = cross_synthesised(cfg, content, style, octaves)
    else:
        base = {
            InitSource.content: content,
            InitSource.style: style,
            InitSource.noise: np.zeros_like(content),
        }[source]
    rng = np.random.default_rng(cfg.seed)
    noise = rng.uniform(-cfg.init.scale, cfg.init.scale, size=base.shape)
    return (base + noise).astype(np.float32)


def cross_synthesised(
    cfg: Config, content: np.ndarray, style: np.ndarray, octaves: int
) -> np.ndarray:
    """init=world's or init=vocoder's clip, made once per process for the same clips and settings."""
    rate, init = cfg.audio.sample_rate, cfg.init
    if init.source == InitSource.vocoder:
        settings = f"vocoder {rate}"
        make = partial(cross_synthesis.channel_vocoder, content, style, rate)
    else:
        settings = f"world {rate} {init.content_envelope} {octaves} {init.semitones}"
        make = partial(
            cross_synthesis.world_cross,
            content,
            style,
            rate,
            init.content_envelope,
            octaves,
            init.semitones,
        )
    key = digest(np.concatenate([content, style]), f"{settings} {len(content)}")
    return _crossed.get(key, make)


def start_early(cfg: Config, content: np.ndarray, style: np.ndarray) -> Future | None:
    """x_G(0) and its octaves made on a thread for a cross-synthesis (its octaves chosen here:
    with init.octaves=null from the pitch tracks, which the caller has made); None for another
    init (instant: the caller makes it when it needs it)."""
    if cfg.init.source not in CROSS_SYNTHESES:
        return None
    octaves = melody_octaves(cfg, content, style)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="x_G(0)")
    made = pool.submit(lambda: (initial_waveform(cfg, content, style, octaves), octaves))
    pool.shutdown(wait=False)  # the thread ends when x_G(0) is made
    return made

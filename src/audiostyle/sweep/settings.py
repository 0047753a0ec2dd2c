"""What a study searches, and on what: the fixed settings of a sweep, as a digest kept in the
study's user attributes. A study run again with other clips, another network or other fixed
settings would count the old trials toward sweep.n_trials, let TPE learn from points measured on
other audio, and report the old best; so a mismatch is refused with the keys that differ.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterable

import numpy as np
import optuna

from audiostyle.clips.inputs import clip_digest
from audiostyle.config.schema import Config
from audiostyle.errors import ConfigError

log = logging.getLogger(__name__)
DIGEST_ATTR = "fixed_settings_digest"
SETTINGS_ATTR = "fixed_settings"
# Where and how a sweep runs, not what it measures: these never split a study.
NOT_SETTINGS = ("sweep.", "tracking.", "runs_dir", "device", "runtime.log_every")
NOT_SETTINGS += ("runtime.xla", "runtime.verbose", "runtime.memory_gb", "runtime.chunk_seconds")
SEARCH_BOOKKEEPING = ("sweep.objectives", "sweep.directions")  # these do split it


def flat(node: object, prefix: str = "") -> dict[str, object]:
    if isinstance(node, dict):
        out: dict[str, object] = {}
        for key, value in node.items():
            out |= flat(value, f"{prefix}{key}.")
        return out
    return {prefix[:-1]: node.value if hasattr(node, "value") else node}


def fixed_settings(
    config: Config, searched: Iterable[str], clips: tuple[np.ndarray, np.ndarray]
) -> dict[str, object]:
    """Every setting a trial does not sample, with the processed clips' digests and the search
    space's names: what makes two trials' values comparable."""
    settings = flat(dataclasses.asdict(config))
    searched = set(searched)
    kept = {
        k: v
        for k, v in settings.items()
        if k in SEARCH_BOOKKEEPING
        or (k not in searched and not k.startswith(NOT_SETTINGS) and k not in NOT_SETTINGS)
    }
    rate = config.audio.sample_rate  # the digests MLflow's dataset inputs carry
    kept["clips.content"], kept["clips.style"] = (clip_digest(c, rate) for c in clips)
    plain = {
        k: v if isinstance(v, str | int | float | bool | None) else str(v) for k, v in kept.items()
    }
    return plain | {"searched": sorted(searched)}


def digest(settings: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def differences(old: dict[str, object], new: dict[str, object], most: int = 3) -> str:
    keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    shown = ", ".join(f"{k}={old.get(k)!r} -> {new.get(k)!r}" for k in keys[:most])
    return shown + (f" and {len(keys) - most} more" if len(keys) > most else "")


def check_study_settings(study: optuna.Study, settings: dict[str, object]) -> None:
    """Record the settings in a new study; refuse a study started with other ones. Call under
    the study lock (two first workers agree) and interrupts held (the two writes stay whole)."""
    new = digest(settings)
    attrs = study.user_attrs
    old = attrs.get(DIGEST_ATTR)
    if old is None:
        study.set_user_attr(DIGEST_ATTR, new)
        study.set_user_attr(SETTINGS_ATTR, settings)
        if study.trials:
            log.info("study %r had no settings digest; it now holds %s", study.study_name, new)
        return
    if old != new:
        changed = differences(attrs.get(SETTINGS_ATTR, {}), settings)
        raise ConfigError(
            f"study {study.study_name!r} holds trials of other fixed settings (digest {old}) than "
            f"this command's ({new}): {changed}; resume it with its settings, or start a new "
            "study with sweep.study_name=NEW_NAME"
        )

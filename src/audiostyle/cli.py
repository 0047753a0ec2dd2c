"""The bridge from Hydra to a run: typed config, one-line errors, exit codes."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from audiostyle.config import to_config
from audiostyle.errors import AudiostyleError

log = logging.getLogger("audiostyle")


def fail(err: AudiostyleError) -> None:
    """Report a user-facing error as one line and exit with its code."""
    print(f"audiostyle: error: {err}", file=sys.stderr)
    sys.exit(err.exit_code)


def raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_from_hydra(cfg: DictConfig) -> dict[str, float] | None:
    from audiostyle.runner import RunContext, run

    signal.signal(signal.SIGTERM, raise_interrupt)  # SIGTERM ends a run like Ctrl-C: KILLED
    try:
        config = to_config(cfg)
        hc = HydraConfig.get()
        ctx = RunContext(
            run_dir=Path(hc.runtime.output_dir),
            choices={k: str(v) for k, v in hc.runtime.choices.items() if not k.startswith("hydra")},
            command=" ".join(sys.argv),
        )
        summary = run(config, ctx)
    except AudiostyleError as err:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # a sweep marks the trial FAIL with this reason and goes on
        fail(err)
    except KeyboardInterrupt:
        print("audiostyle: interrupted; the snapshots written so far are kept", file=sys.stderr)
        sys.exit(130)
    return summary

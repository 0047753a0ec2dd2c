"""The bridge from Hydra to a run: typed config, one-line errors, exit codes."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from audiostyle import interrupts
from audiostyle.config import to_config
from audiostyle.errors import AudiostyleError, ConfigError, fail
from audiostyle.files import storage_errors

log = logging.getLogger("audiostyle")


def one_line(err: BaseException) -> str:
    """Hydra's and OmegaConf's multi-line messages (and their cause) as one line."""
    parts = [str(err)]
    if err.__cause__ is not None and str(err.__cause__) not in parts[0]:
        parts.append(str(err.__cause__))
    lines = [line.strip() for part in parts for line in part.splitlines()]
    noise = ("provider=", "Config search", "full_key:", "reference_type=", "object_type=")
    keep = [line for line in lines if line and not line.startswith(noise)]
    return "; ".join(keep).replace(":; ", ": ").replace(".; ", "; ")


def misused_hydra_flags(err: ValueError) -> bool:
    """Hydra reports misused flags (`--cfg` with `-m`, `--resolve` without `--cfg`) as a
    ValueError from the function that reads them, before any of our code runs."""
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and frames[-1].name == "_run_hydra" and "hydra" in frames[-1].filename


def main(hydra_main: Callable[[], object]) -> None:
    """Call a @hydra.main function; a config that does not compose (unknown option, bad
    override syntax, wrong type) is one line and exit 2. HYDRA_FULL_ERROR=1 shows Hydra's own
    report instead."""
    interrupts.install()  # SIGTERM ends a run or sweep like Ctrl-C
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        hydra_main()
        return
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra then re-raises instead of printing
    try:
        with storage_errors():  # Hydra creates the run folder before our code runs
            hydra_main()
    except (HydraException, OmegaConfBaseException) as err:
        fail(ConfigError(one_line(err)))
    except ValueError as err:
        if not misused_hydra_flags(err):
            raise
        fail(ConfigError(f"{one_line(err)} (see python run.py --help)"))
    except AudiostyleError as err:  # a folder Hydra cannot make; a plain multirun's failed job
        fail(err)
    except KeyboardInterrupt:  # outside a run: while Hydra starts, or between sweep trials
        print("audiostyle: interrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        os.environ.pop("HYDRA_FULL_ERROR", None)


def run_from_hydra(cfg: DictConfig) -> dict[str, float] | None:
    interrupts.install()  # again in a launcher's worker process: SIGTERM ends a run KILLED
    try:
        config = to_config(cfg)
        from audiostyle.runner import RunContext, run  # light: run() validates before TF loads

        hc = HydraConfig.get()
        ctx = RunContext(
            run_dir=Path(hc.runtime.output_dir),
            choices={k: str(v) for k, v in hc.runtime.choices.items() if not k.startswith("hydra")},
            command=" ".join(sys.argv),
        )
        summary = run(config, ctx)
    except AudiostyleError as err:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            # Optuna's sweeper (sweep.py) marks the trial FAIL with this reason and goes on;
            # Hydra's basic sweeper runs the other jobs, then re-raises it for main() to report
            raise
        fail(err)
    except KeyboardInterrupt:
        print("audiostyle: interrupted; the snapshots written so far are kept", file=sys.stderr)
        sys.exit(130)
    return summary

"""The bridge from Hydra to a run: typed config, one-line errors, exit codes."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from hydra._internal.utils import get_args_parser
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from audiostyle import interrupts
from audiostyle.config import networks
from audiostyle.config.from_hydra import to_config
from audiostyle.config.schema import Config
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


def override_values(overrides: list[str]) -> list[tuple[str, list[str]]]:
    """(key, values) of each override, as Hydra parses it: a list's items, a sweep's choices.
    Raises Hydra's OverrideParseException for bad syntax."""
    pairs = []
    for override in OverridesParser.create().parse_overrides(overrides):
        if override.is_delete():
            continue
        if not override.is_sweep_override():
            value = override.value()
            values = value if isinstance(value, list) else [value]
        elif override.value_type is not None and override.value_type.name.endswith("CHOICE_SWEEP"):
            values = list(override.sweep_string_iterator())
        else:  # a range or interval: numbers, never a network's option
            values = []
        pairs.append((override.key_or_group, [str(v) for v in values]))
    return pairs


def network_choice(overrides: list[str]) -> networks.NetworkChoice:
    """The network a list of overrides names (networks.choose: ConfigError on a contradiction)."""
    return networks.choose(override_values(overrides))


def with_network_settings(overrides: list[str]) -> list[str]:
    """The overrides, plus `experiment=NETWORK` when they choose a network's option but no
    experiment: `style_layers=relu_first` then runs NSynth with its measured settings."""
    added = networks.overlay_to_add(network_choice(overrides))
    return [*overrides, added] if added else overrides


def choose_network(argv: list[str]) -> list[str]:
    """sys.argv with the chosen network's settings added (see with_network_settings) right
    after the last override: argparse takes the overrides as one run of words, so neither the
    end (`... --cfg job`) nor the front (`-m ...`) would do. A command line Hydra cannot parse
    is left as it is, for Hydra to report."""
    try:
        overrides = get_args_parser().parse_args(argv[1:]).overrides
        added = with_network_settings(overrides)[len(overrides) :]
    except (SystemExit, HydraException):  # --help's exit; syntax errors: Hydra reports them
        return argv
    if not added:
        return argv
    end = len(argv) - argv[::-1].index(overrides[-1])  # a choice is made by an override
    return [*argv[:end], *added, *argv[end:]]


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
        sys.argv = choose_network(sys.argv)
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
        from audiostyle.run.context import RunContext
        from audiostyle.run.runner import run  # light: run() validates before TF loads

        hc = HydraConfig.get()
        ctx = RunContext(
            run_dir=Path(hc.runtime.output_dir),
            choices={k: str(v) for k, v in hc.runtime.choices.items() if not k.startswith("hydra")},
            command=" ".join(sys.argv),
            network=why_this_network(config, list(hc.overrides.task)),
            reporter=trial_reporter(config),
        )
        summary = run(config, ctx)
    except AudiostyleError as err:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            # Optuna's sweeper (audiostyle.sweep) marks the trial FAIL with this reason and goes on;
            # Hydra's basic sweeper runs the other jobs, then re-raises it for main() to report
            raise
        fail(err)
    except KeyboardInterrupt:
        print("audiostyle: interrupted; the snapshots written so far are kept", file=sys.stderr)
        sys.exit(130)
    return summary


def trial_reporter(config: Config):
    """The study link of an Optuna sweep's trial (the sweeper sets sweep.trial_id), else None."""
    if config.sweep.trial_id is None:
        return None
    from audiostyle.sweep.reporter import TrialReporter

    return TrialReporter(config.sweep, config.runs_dir)


def why_this_network(config: Config, overrides: list[str]) -> str:
    """What chose the composed config's network; ConfigError when an option the user chose
    belongs to another one (e.g. an Optuna trial's sampled layer set)."""
    choice = network_choice(overrides)
    network = config.encoder.network.value
    if choice.network not in (None, network):
        raise ConfigError(
            f"{choice.reasons[0]} chooses {networks.NETWORKS[choice.network].label} but this "
            f"run's encoder.network is {network}; choose one network"
        )
    return choice.reason()

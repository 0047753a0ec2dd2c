"""`audiostyle` (and `python run.py` in a checkout): one style transfer, or a sweep with -m.

The configs are the package's own (`audiostyle.conf`, the top-level conf/ mapped into it), so an
installed command composes exactly what a checkout does, from any folder.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from audiostyle.commands import cli
from audiostyle.config.from_hydra import register_configs


@hydra.main(version_base="1.3", config_path="pkg://audiostyle.conf", config_name="config")
def run_job(cfg: DictConfig) -> dict[str, float] | None:
    return cli.run_from_hydra(cfg)


def main() -> None:
    register_configs()
    cli.main(run_job)


if __name__ == "__main__":
    main()

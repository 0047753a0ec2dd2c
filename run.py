"""Entry point: `python run.py [group=option ...] [key=value ...]` runs one style transfer."""

import hydra
from omegaconf import DictConfig

from audiostyle.cli import main as report_errors
from audiostyle.cli import run_from_hydra
from audiostyle.config import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> dict[str, float] | None:
    return run_from_hydra(cfg)


if __name__ == "__main__":
    report_errors(main)

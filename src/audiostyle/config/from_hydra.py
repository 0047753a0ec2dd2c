"""The Hydra glue: the schema registered with Hydra's ConfigStore, so a wrong type, an
unknown key or a bad enum value fails while Hydra composes, and `to_config`, which turns the
composed DictConfig into the plain `Config` the rest of the package takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from audiostyle.config.schema import Config
from audiostyle.errors import ConfigError


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.audiostyle_sweeper.optuna_asktell.OptunaAskTellSweeper"


def register_configs() -> None:
    """Make the schema known to Hydra as `schema`, and our Optuna sweeper as a hydra/sweeper."""
    store = ConfigStore.instance()
    store.store(name="schema", node=Config)
    store.store(group="hydra/sweeper", name="optuna_asktell", node=OptunaSweeperConf)


def to_config(cfg: DictConfig | Config) -> Config:
    """Turn a composed DictConfig into the plain typed object the science modules take."""
    if isinstance(cfg, Config):
        return cfg
    schema = OmegaConf.structured(Config)
    check_known_keys(cfg, schema)
    try:
        merged = OmegaConf.merge(schema, cfg)
        missing = sorted(OmegaConf.missing_keys(merged))
    except InterpolationResolutionError as err:
        raise unresolved(err) from None
    if missing:
        raise ConfigError(f"{missing[0]} must be set (for example {missing[0]}=...)")
    obj = resolved(merged)
    assert isinstance(obj, Config)
    return obj


def check_known_keys(cfg: DictConfig, schema: DictConfig, prefix: str = "") -> None:
    """`+key=value` slips past Hydra's schema check; an unknown setting is a typo, so refuse it."""
    for key in cfg:
        if key == "hydra" and not prefix:
            continue
        name = f"{prefix}{key}"
        if key not in schema:
            raise ConfigError(f"{name} is not a setting; `python run.py --cfg job` lists them")
        ref = schema._get_node(key)
        value = cfg._get_node(key)
        if (
            isinstance(ref, DictConfig)
            and isinstance(value, DictConfig)
            and OmegaConf.get_type(ref) is not dict
        ):
            check_known_keys(value, ref, f"{name}.")


def resolved(node: DictConfig, prefix: str = "") -> Any:
    """The node as plain objects; an interpolation that cannot be resolved (an environment
    variable not set, as `tracking=server` and `cluster=shared` need) is a ConfigError."""
    try:
        return OmegaConf.to_object(node)
    except InterpolationResolutionError as err:
        raise unresolved(err, prefix) from None


def unresolved(err: InterpolationResolutionError, prefix: str = "") -> ConfigError:
    return ConfigError(f"{prefix}{err.full_key}: {str(err).splitlines()[0]}")

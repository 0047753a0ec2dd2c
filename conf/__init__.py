"""The Hydra configs (the top-level conf/, installed as this package: see pyproject.toml)."""

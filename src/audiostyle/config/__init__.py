"""The run's settings: `schema` (plain dataclasses), `validation` (checks before any audio is
read), `networks` (which options belong to which network) and `from_hydra` (the Hydra glue).
"""

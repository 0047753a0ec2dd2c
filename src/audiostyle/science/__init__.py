"""The science: feature networks, the objective, the optimisation and the measurements.

Imports neither Hydra, OmegaConf, MLflow nor Optuna: it takes the plain `Config` of
`audiostyle.config.schema` and reports through callbacks.
"""

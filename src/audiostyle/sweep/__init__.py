"""Optuna sweeps behind a Hydra sweeper: storage, sampling, the trial's reporter, the
sweeper's loop, trial outcomes and the sweep's parent MLflow run.
"""

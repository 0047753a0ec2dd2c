"""Clips in and out: a spec (a file, example:, nsynth:, tone:, tones:, chord:) becomes a
source, then mono, resampled, cropped and peak-scaled audio (`inputs.load_inputs`).

Imports neither Hydra, OmegaConf, MLflow nor Optuna.
"""

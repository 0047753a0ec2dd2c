"""audiostyle: neural audio style transfer with the NSynth encoder, run from Hydra configs."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing, XLA banners) buries the progress bar.
# What the user set is kept: quiet.py shows the start-up lines when it is 0.
TF_LOG_LEVEL_FROM_USER = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

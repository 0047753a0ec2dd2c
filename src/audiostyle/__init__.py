"""audiostyle: neural audio style transfer with the NSynth encoder, run from Hydra configs."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing, XLA banners) buries the progress bar.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

"""musicnn's pretrained checkpoints (Pons & Serra, the `musicnn` 0.1.0 wheel, ISC licence).

The wheel holds four TF1 checkpoints, each the prefix `<package>/<model>/` (files `.index`,
`.data-00000-of-00001`). It is installed with `pip install --no-deps musicnn==0.1.0` (its
declared numpy<1.17 cannot install on Python 3.11) and only its folder is located here: its
modules import TF1 graph code and librosa when imported, so none is ever imported. Layer names
are the ones `tf.compat.v1.layers` gave in musicnn's `models.py`, in the order it built them.
Besides these, each checkpoint holds Adam's slots and `beta1_power`/`beta2_power`, which
inference does not read.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from audiostyle.errors import CheckpointError

MUSICNN_MODELS = ("MTT_musicnn", "MTT_vgg", "MSD_musicnn", "MSD_vgg")
INSTALL = "musicnn's checkpoints are not installed: pip install --no-deps musicnn==0.1.0"

# musicnn's configuration.py: the order of the 50 sigmoid outputs of each training set
MTT_LABELS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice",
    "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice",
    "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip
MSD_LABELS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill",
    "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock",
    "60s", "rnb", "indie pop", "sad", "House", "happy",
)  # fmt: skip

N_MELS = 96
TIMBRAL = ((7, 38), (7, 67))  # [time, int(0.4 * 96)] and [time, int(0.7 * 96)], 204 filters each
TEMPORAL = (128, 64, 32)  # [time, 1] kernels over every mel band, 51 filters each
TIMBRAL_FILTERS, TEMPORAL_FILTERS, MIDEND, BACKEND, VGG_FILTERS = 204, 51, 64, 200, 128
FRONTEND = len(TIMBRAL) * TIMBRAL_FILTERS + len(TEMPORAL) * TEMPORAL_FILTERS  # 561
POOLED = 2 * (FRONTEND + 3 * MIDEND)  # max and mean of 753 channels: 1506


def architecture(model: str) -> str:
    if model not in MUSICNN_MODELS:
        raise CheckpointError(f"unknown musicnn model {model!r}; choose one of {MUSICNN_MODELS}")
    return model.split("_")[1]


def labels(model: str) -> tuple[str, ...]:
    return MTT_LABELS if model.startswith("MTT") else MSD_LABELS


def _bn(shapes: dict, name: str, channels: int) -> None:
    for part in ("beta", "gamma", "moving_mean", "moving_variance"):
        shapes[f"{name}/{part}"] = (channels,)


def _layer(shapes: dict, name: str, kernel: tuple[int, ...]) -> None:
    shapes[f"{name}/kernel"] = kernel
    shapes[f"{name}/bias"] = (kernel[-1],)


def bn_name(i: int) -> str:
    return "batch_normalization" + (f"_{i}" if i else "")


def musicnn_shapes() -> dict[str, tuple[int, ...]]:
    """Every tensor the musicnn architecture reads, by its checkpoint name."""
    shapes: dict[str, tuple[int, ...]] = {}
    _bn(shapes, bn_name(0), 1)
    kernels = [(t, f, 1, TIMBRAL_FILTERS) for t, f in TIMBRAL]
    kernels += [(t, 1, 1, TEMPORAL_FILTERS) for t in TEMPORAL]
    kernels += [(7, FRONTEND, 1, MIDEND), (7, MIDEND, 1, MIDEND), (7, MIDEND, 1, MIDEND)]
    for i, kernel in enumerate(kernels):
        _layer(shapes, "conv2d" + (f"_{i}" if i else ""), kernel)
        _bn(shapes, bn_name(i + 1), kernel[-1])
    _bn(shapes, bn_name(len(kernels) + 1), POOLED)
    _layer(shapes, "dense", (POOLED, BACKEND))
    _bn(shapes, bn_name(len(kernels) + 2), BACKEND)
    _layer(shapes, "dense_1", (BACKEND, 50))
    return shapes


def vgg_shapes() -> dict[str, tuple[int, ...]]:
    """Every tensor the vgg architecture reads: five 3x3 convs of 128 filters, one dense."""
    shapes: dict[str, tuple[int, ...]] = {}
    _bn(shapes, bn_name(0), 1)
    for i in range(1, 6):
        _layer(shapes, f"{i}CNN", (3, 3, 1 if i == 1 else VGG_FILTERS, VGG_FILTERS))
        _bn(shapes, bn_name(i), VGG_FILTERS)
    _layer(shapes, "dense", (2 * VGG_FILTERS, 50))  # pool5 is 2 frames x 1 band x 128
    return shapes


def expected_shapes(model: str) -> dict[str, tuple[int, ...]]:
    return musicnn_shapes() if architecture(model) == "musicnn" else vgg_shapes()


def is_training_state(name: str) -> bool:
    """Adam's slots and its power accumulators: saved with the model, unused at inference."""
    return name.endswith(("/Adam", "/Adam_1")) or name in ("beta1_power", "beta2_power")


def musicnn_folder() -> Path:
    """The installed wheel's folder, found without importing it."""
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(INSTALL)
    return Path(spec.submodule_search_locations[0])


def checkpoint_prefix(model: str) -> str:
    architecture(model)
    prefix = str(musicnn_folder() / model) + "/"
    if not Path(prefix + ".index").is_file():
        raise CheckpointError(f"{prefix}.index is missing; {INSTALL}")
    return prefix


def stored_shapes(model: str) -> dict[str, tuple[int, ...]]:
    """Every tensor in the checkpoint, optimiser state included."""
    return {k: tuple(v) for k, v in _reader(model).get_variable_to_shape_map().items()}


def _reader(model: str):
    import tensorflow as tf

    prefix = checkpoint_prefix(model)
    try:
        return tf.compat.v1.train.NewCheckpointReader(prefix)
    except Exception as err:  # TF raises several types for a corrupt file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{prefix}: not a readable TensorFlow checkpoint ({first})") from None


def read_weights(model: str) -> dict[str, np.ndarray]:
    """The model's tensors, each checked for presence and shape before any is returned."""
    reader = _reader(model)
    stored = reader.get_variable_to_shape_map()
    tensors: dict[str, np.ndarray] = {}
    for name, shape in expected_shapes(model).items():
        if name not in stored:
            raise CheckpointError(f"{model}: tensor {name!r} is missing (expected {list(shape)})")
        if tuple(stored[name]) != shape:
            raise CheckpointError(
                f"{model}: tensor {name!r} has shape {list(stored[name])}, expected {list(shape)}"
            )
        tensors[name] = np.asarray(reader.get_tensor(name), dtype=np.float32)
    return tensors


@functools.lru_cache(maxsize=len(MUSICNN_MODELS))
def load_weights(model: str) -> dict[str, np.ndarray]:
    """`read_weights`, once per process per model."""
    return read_weights(model)

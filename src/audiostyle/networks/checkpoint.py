"""Read the NSynth encoder's weights from Magenta's released TF1 checkpoint.

`wavenet-ckpt/model.ckpt-200000` is a name-based TF1 checkpoint holding the encoder
(`ae_*`), the decoder, `global_step`, Adam slots and ExponentialMovingAverage shadows.
TensorFlow's own reader opens it without building Magenta's graph. Raw weights are the
default, as in Magenta's `fastgen.encode`; `use_ema=True` takes the EMA shadows. Everything is
checked before anything is returned, so nothing loads half. Weights are cached per process:
a sweep reads the 1 GB file once.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import numpy as np

from audiostyle.errors import CheckpointError
from audiostyle.networks.layers import NUM_BLOCKS
from audiostyle.networks.weights import BOTTLENECK, CHANNELS, FILTER_LENGTH, EncoderWeights

EMA_SUFFIX = "/ExponentialMovingAverage"


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """Every encoder tensor Magenta's checkpoint holds, with its stored shape."""
    shapes: dict[str, tuple[int, ...]] = {
        "ae_startconv/W": (1, FILTER_LENGTH, 1, CHANNELS),
        "ae_startconv/biases": (CHANNELS,),
        "ae_bottleneck/W": (1, 1, CHANNELS, BOTTLENECK),
        "ae_bottleneck/biases": (BOTTLENECK,),
    }
    for i in range(1, NUM_BLOCKS + 1):
        shapes[f"ae_dilatedconv_{i}/W"] = (1, FILTER_LENGTH, CHANNELS, CHANNELS)
        shapes[f"ae_dilatedconv_{i}/biases"] = (CHANNELS,)
        shapes[f"ae_res_{i}/W"] = (1, 1, CHANNELS, CHANNELS)
        shapes[f"ae_res_{i}/biases"] = (CHANNELS,)
    return shapes


DATA_FILE = re.compile(r"\.data-\d{5}-of-\d{5}$")
STATE_ENTRY = re.compile(r'^model_checkpoint_path:\s*"(.+)"\s*$', re.MULTILINE)


def checkpoint_prefix(path: str) -> Path:
    """The checkpoint a user's path names, as the prefix TensorFlow reads (`<prefix>.index`
    must exist): the prefix itself, its `.index` or `.data-*` file (what tab completion gives),
    or a folder: the checkpoint its `checkpoint` state file names, else its only one.
    No TensorFlow: config validation calls this."""
    given = Path(path).expanduser()
    if given.is_dir():
        prefix = _folder_checkpoint(given, path)
    else:
        prefix = given.with_name(DATA_FILE.sub("", given.name).removesuffix(".index"))
    if not Path(f"{prefix}.index").is_file():
        raise CheckpointError(
            f"{path}: no checkpoint here (expected {prefix}.index and its data files)"
        )
    return prefix


def _folder_checkpoint(folder: Path, path: str) -> Path:
    state = folder / "checkpoint"
    named = STATE_ENTRY.search(state.read_text(errors="replace")) if state.is_file() else None
    if named:  # relative as TensorFlow writes it, or absolute from the machine it was saved on
        for prefix in (folder / named.group(1), folder / Path(named.group(1)).name):
            if Path(f"{prefix}.index").is_file():
                return prefix
        raise CheckpointError(
            f"{path}: its `checkpoint` file names {named.group(1)}, which is not in the folder; "
            "name the checkpoint prefix to read"
        )
    found = sorted(p.with_suffix("") for p in folder.glob("*.index"))
    if len(found) != 1:
        what = "no TensorFlow checkpoint" if not found else f"{len(found)} checkpoints"
        raise CheckpointError(f"{path}: a folder with {what} in it; name one checkpoint prefix")
    return found[0]


def _open_reader(path: str):
    import tensorflow as tf

    prefix = checkpoint_prefix(path)
    try:
        return tf.train.load_checkpoint(str(prefix))
    except Exception as err:  # TF raises several types for a corrupt or foreign file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: not a readable TensorFlow checkpoint ({first})") from None


def read_encoder_tensors(path: str, use_ema: bool = False) -> dict[str, np.ndarray]:
    """The 124 encoder tensors by their raw names, checked for presence, shape and dtype."""
    reader = _open_reader(path)
    stored = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    suffix = EMA_SUFFIX if use_ema else ""
    tensors: dict[str, np.ndarray] = {}
    for name, shape in expected_shapes().items():
        key = name + suffix
        if key not in stored:
            raise CheckpointError(
                f"{path}: encoder tensor {key!r} is missing (expected shape {list(shape)})"
            )
        if tuple(stored[key]) != shape:
            raise CheckpointError(
                f"{path}: encoder tensor {key!r} has shape {list(stored[key])}, expected {list(shape)}"
            )
        if not dtypes[key].is_floating:
            raise CheckpointError(
                f"{path}: encoder tensor {key!r} has dtype {dtypes[key].name}, expected float32"
            )
        tensors[name] = np.asarray(reader.get_tensor(key), dtype=np.float32)
    return tensors


def weights_from_tensors(t: dict[str, np.ndarray]) -> EncoderWeights:
    """Map Magenta's [1, k, in, out] kernels to [k, in, out]."""
    blocks = range(1, NUM_BLOCKS + 1)
    return EncoderWeights(
        start_w=t["ae_startconv/W"][0],
        start_b=t["ae_startconv/biases"],
        dilated_w=tuple(t[f"ae_dilatedconv_{i}/W"][0] for i in blocks),
        dilated_b=tuple(t[f"ae_dilatedconv_{i}/biases"] for i in blocks),
        res_w=tuple(t[f"ae_res_{i}/W"][0] for i in blocks),
        res_b=tuple(t[f"ae_res_{i}/biases"] for i in blocks),
        bottleneck_w=t["ae_bottleneck/W"][0],
        bottleneck_b=t["ae_bottleneck/biases"],
    )


@functools.lru_cache(maxsize=4)
def _cached(realpath: str, mtime_ns: int, use_ema: bool) -> EncoderWeights:
    # mtime_ns is part of the key so a rewritten checkpoint is read again
    return weights_from_tensors(read_encoder_tensors(realpath, use_ema))


def load_magenta_weights(path: str, use_ema: bool = False) -> EncoderWeights:
    """The encoder weights of a Magenta checkpoint (prefix or folder), read once per process."""
    prefix = checkpoint_prefix(path)
    mtime = Path(f"{prefix}.index").stat().st_mtime_ns
    return _cached(os.path.realpath(prefix), mtime, use_ema)

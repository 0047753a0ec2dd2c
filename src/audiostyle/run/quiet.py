"""A quiet start: TensorFlow's native start-up lines are hidden unless asked for.

TensorFlow 2.20 writes some of them (the oneDNN notice, the CUDA stub's "Could not find cuda
drivers", absl's "All log messages before absl::InitializeLog()") from C++ before its logging
reads TF_CPP_MIN_LOG_LEVEL, so no environment variable hides them (measured: they print at
level 3). They are written to file descriptor 2 while TensorFlow loads and probes its devices;
that descriptor is captured for that moment, the known start-up lines are dropped and every
other line is written back, so a real warning or error still shows.

Shown when `runtime.verbose=true`, or when TF_CPP_MIN_LOG_LEVEL=0 was set before audiostyle
was imported (audiostyle/__init__.py sets 2 when it is unset).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import audiostyle

# absl/glog lines: severity, MMDD, time, thread id, file:line]. INFO and WARNING ones while
# TensorFlow starts are start-up chatter; the ERROR ones listed are a machine without a GPU.
NATIVE_INFO = re.compile(r"^[IW]\d{4} [\d:.]+\s+\d+ \S+:\d+\] ")
STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|failed call to cuInit"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|TF-TRT Warning: Could not find TensorRT"
    r"|^To enable the following instructions: .* rebuild TensorFlow"
    # a step loaded from XLA's persistent cache (runs_dir/cache/xla): TensorFlow 2.21 first
    # parses the entry as text, then its AOT loader names CPU features it does not know
    r"|Error parsing text-format tensorflow\.XlaSerializedCacheEntry"
    r"|Loading XLA:CPU AOT result\. Target machine feature"
)


def asked_for_startup_lines(verbose: bool) -> bool:
    """runtime.verbose, or TF_CPP_MIN_LOG_LEVEL=0 set by the user (not by audiostyle)."""
    return verbose or audiostyle.TF_LOG_LEVEL_FROM_USER == "0"


def startup_noise(line: str) -> bool:
    return bool(NATIVE_INFO.match(line) or STARTUP_NOISE.search(line))


def without_startup_noise(text: str) -> str:
    return "".join(line for line in text.splitlines(True) if not startup_noise(line))


@contextlib.contextmanager
def native_stderr_filtered() -> Iterator[None]:
    """Capture fd 2 for the block; write back what is not start-up noise when it ends. Only
    for short blocks with no progress bar: everything written to stderr waits until the end."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (a closed descriptor): nothing to keep quiet
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = without_startup_noise(capture.read().decode(errors="replace"))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def start_tensorflow(verbose: bool) -> None:
    """Import TensorFlow and let it probe its devices, quietly unless asked for. TensorFlow
    prints its start-up lines once per process, so later imports and probes are quiet anyway."""
    if asked_for_startup_lines(verbose):
        if audiostyle.TF_LOG_LEVEL_FROM_USER is None and "tensorflow" not in sys.modules:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"  # read once, when TensorFlow loads
        probe_devices()
        return
    with native_stderr_filtered():
        probe_devices()


def compile_quietly(verbose: bool) -> contextlib.AbstractContextManager:
    """The compile phase's wrapper: a step loaded from XLA's cache logs native errors that are
    not errors (STARTUP_NOISE); hidden like the start-up lines, shown when asked for."""
    if asked_for_startup_lines(verbose):
        return contextlib.nullcontext()
    return native_stderr_filtered()


def keep_xla_compilations(folder: Path) -> None:
    """XLA's compiled steps kept in `folder` across processes (TensorFlow's persistent cache):
    a rerun, or a sweep's next worker, on the same shapes loads the step instead of compiling
    it. Read when TensorFlow first compiles, so set before it loads; a flag the user set wins."""
    flags = os.environ.get("TF_XLA_FLAGS", "")
    if "tensorflow" in sys.modules or "tf_xla_persistent_cache_directory" in flags:
        return
    option = f"--tf_xla_persistent_cache_directory={folder.resolve()}"
    os.environ["TF_XLA_FLAGS"] = f"{flags} {option}".strip()


# what TensorFlow's __init__ imports eagerly, for SavedModel's registry
KERAS_EAGER = "keras.src.optimizers"


def import_tensorflow() -> None:
    """Import TensorFlow without the Keras optimisers its __init__ loads eagerly (b/196254385:
    a SavedModel registry no run uses; about 1.7 s of the 4.8 s import on 2 cores). TensorFlow
    catches the ImportError; Keras still loads in full when something asks for tf.keras."""
    if "tensorflow" in sys.modules or KERAS_EAGER in sys.modules:
        return
    sys.modules[KERAS_EAGER] = None  # type: ignore[assignment]  # import_module raises at once
    try:
        import tensorflow  # noqa: F401
    finally:
        sys.modules.pop(KERAS_EAGER, None)


def probe_devices() -> None:
    import_tensorflow()
    import tensorflow as tf

    tf.config.list_physical_devices("GPU")  # CUDA's probe (cuInit) happens here, not mid-run

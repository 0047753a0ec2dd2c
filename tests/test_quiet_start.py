"""A quiet terminal: TensorFlow's start-up lines only when asked for; the last lines say where
the outputs are."""

import os
import re
import subprocess
import sys

from audiostyle.run.quiet import native_stderr_filtered, without_startup_noise

from conftest import ROOT

TINY_RUN = [
    "run.py",
    "optim.steps=1",
    "audio.duration=0.064",
    "runtime.xla=false",
    "tracking=none",
]
# Lines TensorFlow 2.20 prints at start-up on a CPU machine (and absl's banner before them).
NATIVE_LINE = re.compile(r"^[IWE]\d{4} ", re.MULTILINE)
STARTUP = ("oneDNN custom operations", "Could not find cuda drivers", "absl::InitializeLog")


def run_py(tmp_path, *overrides: str, env: dict[str, str] | None = None):
    """python run.py as a user starts it: no TF_CPP_MIN_LOG_LEVEL unless `env` sets one."""
    base = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, *TINY_RUN, f"runs_dir={tmp_path}", *overrides],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**base, **(env or {})},
    )


def test_a_run_starts_quietly_and_ends_saying_where_its_files_are(tmp_path):
    done = run_py(tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    for line in STARTUP:
        assert line not in done.stderr, done.stderr[-3000:]
    assert not NATIVE_LINE.search(done.stderr), done.stderr[-3000:]
    assert "transfer: 100%" in done.stderr  # the progress bar is still there
    last = done.stdout.strip().splitlines()[-2:]
    (generated,) = tmp_path.glob("*/*/generated.wav")
    (report,) = tmp_path.glob("*/*/report.html")
    assert last[0].endswith(f"listen: {generated.resolve()}"), last
    assert last[1].endswith(f"report: {report.resolve()}"), last


def test_the_start_up_lines_show_when_asked_for(tmp_path):
    for asked in (
        run_py(tmp_path, "runtime.verbose=true"),
        run_py(tmp_path, env={"TF_CPP_MIN_LOG_LEVEL": "0"}),
    ):
        assert asked.returncode == 0, asked.stderr[-3000:]
        assert NATIVE_LINE.search(asked.stderr), asked.stderr[-3000:]
        assert "absl::InitializeLog" in asked.stderr
        # and the filter that hides them knows each of them
        assert not NATIVE_LINE.search(without_startup_noise(asked.stderr))


def test_other_native_output_during_the_start_still_shows(capfd):
    with native_stderr_filtered():
        os.write(2, b"I0000 00:00:1796395919.310522    9387 port.cc:153] oneDNN custom\n")
        os.write(2, b"E0000 00:00:1796395919.3 9387 disk.cc:1] a real error\n")
        print("a Python warning", file=sys.stderr)
    err = capfd.readouterr().err
    assert "oneDNN" not in err
    assert "a real error" in err and "a Python warning" in err


def test_tensorflow_starts_without_keras_and_tf_keras_still_works():
    """import_tensorflow skips the Keras optimisers TensorFlow's __init__ imports eagerly (no run
    uses them); TensorFlow works, and tf.keras loads in full when asked for."""
    code = (
        "import sys\n"
        "from audiostyle.run.quiet import import_tensorflow\n"
        "import_tensorflow()\n"
        "import tensorflow as tf\n"
        "assert 'tensorflow' in sys.modules and 'keras' not in sys.modules, sorted(\n"
        "    m for m in sys.modules if m.startswith('keras'))[:5]\n"
        "assert float(tf.reduce_sum(tf.ones(3))) == 3.0\n"
        "layer = tf.keras.layers.Dense(2)\n"
        "print(layer(tf.ones((1, 4))).shape, 'keras.src.optimizers' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["(1,", "2)", "True"], done.stdout


def test_the_phases_before_tensorflow_do_not_import_it(tmp_path):
    """The pitch phase and the caches it opens run before TensorFlow's phase, which must import
    it first: XLA's cache folder and the quiet start are set as it loads."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from audiostyle.run import runner\n"
        f"runner.keep_caches(Path({str(tmp_path)!r}))\n"
        "import audiostyle.optimisation.start\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_step_loaded_from_xlas_cache_compiles_quietly(tmp_path):
    """The second run on the same shapes loads its step from XLA's persistent cache, whose
    loader logs native errors that are not errors: hidden like the start-up lines."""
    for _ in range(2):
        done = run_py(tmp_path, "runtime.xla=true")
        assert done.returncode == 0, done.stderr[-3000:]
        assert not NATIVE_LINE.search(done.stderr), done.stderr[-3000:]
    assert list((tmp_path / "cache" / "xla").iterdir()), "the first run kept its compiled step"

"""Bad input, faults and interruptions through the real command line: one clear line, the right
exit code, nothing lost, no input changed."""

import hashlib
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from mlflow.tracking import MlflowClient

from audiostyle.errors import NumericalError, StorageError
from audiostyle.files import check_writable
from audiostyle.run.context import RunContext
from audiostyle.run.runner import run

from conftest import ROOT, TINY, run_cli

RATE = 16000


def make_inputs(folder: Path) -> dict[str, Path]:
    """One file of each kind a user might pass, good and bad."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    files = {
        "good": folder / "good.wav",
        "folder": folder / "a_folder",
        "empty": folder / "empty.wav",
        "text": folder / "notes.wav",
        "silent": folder / "silent.wav",
        "nan": folder / "nan.wav",
        "noframes": folder / "noframes.wav",
    }
    sf.write(files["good"], 0.3 * rng.uniform(-1, 1, 4000), RATE)
    files["folder"].mkdir()
    files["empty"].write_bytes(b"")
    files["text"].write_text("these are not samples\n" * 40)
    sf.write(files["silent"], np.zeros(4000), RATE, subtype="PCM_16")
    sf.write(files["nan"], np.array([0.1, np.nan, -0.2] * 500), RATE, subtype="FLOAT")
    sf.write(files["noframes"], np.zeros((0, 2)), RATE)
    return files


def tree_hash(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("audiostyle: error: ")]
    assert len(lines) == 1, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-2000:]
    return lines[0]


def fast(overrides: list[str], code: int, words: list[str]):
    return pytest.param(overrides, code, words, id=" ".join(overrides))


def slow(overrides: list[str], code: int, words: list[str]):
    """Each case is a process of a few seconds: the default suite runs a sample of them."""
    return pytest.param(overrides, code, words, marks=pytest.mark.slow, id=" ".join(overrides))


# (overrides, exit code, words the error line must contain); {name} is an input file's path
BAD_INPUTS = [
    fast(["loss=nope"], 2, ["Could not find 'loss/nope'", "gram", "l2"]),
    fast(["optim.lr=["], 2, ["no viable alternative"]),
    fast(["optim.steps=1.5"], 2, ["optim.steps", "could not be converted to Integer"]),
    slow(["device=tpu"], 2, ["Invalid value 'tpu'", "auto, cpu, gpu"]),
    fast(["+optim.momentum=0.9"], 2, ["optim.momentum is not a setting"]),
    slow(["optim.lr=0"], 2, ["optim.lr must be a positive number"]),
    slow(["optim.steps=-1"], 2, ["optim.steps must be 0 (x_G(0) itself, judged) or a positive"]),
    slow(["alpha=-0.5"], 2, ["alpha must be a finite number >= 0"]),
    fast(
        ["snapshots=[0,3]"], 2, ["snapshots must be iterations between 0 and optim.steps=2", "[3]"]
    ),
    fast(["style_layers.weights=[1,2]"], 2, ["style_layers.weights has 2 values for 1 layers"]),
    slow(["style_layers.layers=[conv,C_30]"], 2, ["C_30"]),
    slow(["audio.sample_rate=100"], 2, ["audio.sample_rate must be between 8000 and 192000"]),
    slow(["audio.duration=0.01"], 2, ["audio.duration must be between 0.064 s"]),
    fast(["audio.content={dir}/missing.wav"], 2, ["{dir}/missing.wav: no such file"]),
    fast(["audio.style={folder}"], 2, ["{folder}: is a directory"]),
    slow(["audio.content={empty}"], 2, ["{empty}: not a readable audio file"]),
    fast(["audio.content={text}"], 2, ["{text}: not a readable audio file"]),
    slow(["audio.style={noframes}"], 2, ["{noframes}: contains no samples"]),
    fast(["audio.content={silent}"], 2, ["{silent}: is silent"]),
    fast(["audio.style={nan}"], 2, ["{nan}: contains NaN or infinite samples"]),
    fast(["runs_dir={good}/runs"], 1, ["cannot write output", "Not a directory"]),
    slow(  # MLflow's import alone takes seconds
        ["tracking=mlflow", "tracking.uri=http://user:hunter2@127.0.0.1:9"],
        1,
        ["tracking server http://user:***@127.0.0.1:9 is not reachable"],
    ),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad") / "inputs"
    return folder, make_inputs(folder)


@pytest.mark.parametrize("overrides, code, words", BAD_INPUTS)
def test_bad_input_is_one_clear_line_and_changes_nothing(inputs, tmp_path, overrides, code, words):
    folder, files = inputs
    names = {"dir": str(folder), **{k: str(v) for k, v in files.items()}}
    before = tree_hash(folder)
    args = [o.format(**names) for o in overrides]
    proc = run_cli("run.py", *TINY, "tracking=none", f"runs_dir={tmp_path}", *args, timeout=120)
    assert proc.returncode == code, proc.stderr[-2000:]
    line = one_line(proc.stderr)
    for word in words:
        assert word.format(**names) in line, line
    assert "hunter2" not in proc.stderr + proc.stdout
    assert tree_hash(folder) == before


def test_hydra_full_error_still_shows_hydras_own_report(tmp_path):
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    proc = subprocess.run(
        [sys.executable, "run.py", f"runs_dir={tmp_path}", "loss=nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "hydra.errors.MissingConfigException" in proc.stderr
    assert "audiostyle: error:" not in proc.stderr


def test_an_unwritable_run_folder_fails_before_any_work(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot write the run's outputs"):
        check_writable(blocker / "run", "the run's outputs")
    check_writable(tmp_path / "fine", "the run's outputs")
    assert list((tmp_path / "fine").iterdir()) == []  # the probe is removed


def test_a_nan_loss_stops_keeps_the_last_finite_xg_and_fails_the_run(compose_config, tmp_path):
    # a learning rate of 1e30 moves x_G to ~1e30: its power spectrum overflows float32 at once
    cfg = compose_config(
        "tracking=mlflow", f"runs_dir={tmp_path}", "optim.lr=1e30", "optim.steps=3", "snapshots=[0]"
    )
    run_dir = tmp_path / "nan"
    with pytest.raises(NumericalError, match="not finite at iteration 1") as err:
        run(cfg, RunContext(run_dir=run_dir))
    assert err.value.iteration == 1
    kept, rate = sf.read(run_dir / "last_finite.wav")
    assert rate == RATE and len(kept) == 1024 and np.all(np.isfinite(kept))
    assert (run_dir / "snapshots" / "iter_0000.wav").exists()
    assert not (run_dir / "generated.wav").exists()
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (r,) = client.search_runs([client.get_experiment_by_name("audiostyle").experiment_id])
    assert r.info.status == "FAILED" and "NumericalError" in r.data.tags["error"]
    names = {a.path for a in client.list_artifacts(r.info.run_id)}
    assert "last_finite.wav" in names


def limit_file_size(size: int):
    def apply() -> None:  # every file this process writes is cut at `size` bytes: EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return apply


@pytest.mark.slow
def test_a_full_disk_mid_run_is_one_line_and_keeps_what_was_written(tmp_path):
    """RLIMIT_FSIZE stands in for a full disk (no root or tmpfs needed): the WAVs (2 kB) fit,
    the spectrogram pictures (20 kB and more) do not."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "run.py", *TINY, "tracking=none", f"runs_dir={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        preexec_fn=limit_file_size(8192),
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "cannot write output" in one_line(proc.stderr) and "File too large" in proc.stderr
    (out,) = tmp_path.rglob("generated.wav")
    data, _ = sf.read(out)
    assert len(data) == 1024 and np.all(np.isfinite(data))
    assert not list(tmp_path.rglob("tmp*"))  # no half-written file left behind


@pytest.mark.slow
def test_odd_clips_are_mixed_resampled_cropped_padded_and_no_secret_is_written(tmp_path):
    folder = tmp_path / "inputs"
    folder.mkdir()
    rng = np.random.default_rng(1)
    content = folder / "stereo_44k_int16_long.wav"  # 10 s, far longer than the 0.064 s used
    sf.write(content, 0.3 * rng.uniform(-1, 1, (441000, 2)), 44100, subtype="PCM_16")
    style = folder / "six_channel_8k_double_short.wav"  # 100 frames: shorter than one hop
    sf.write(style, 0.3 * rng.uniform(-1, 1, (100, 6)), 8000, subtype="DOUBLE")
    before = tree_hash(folder)
    proc = run_cli(
        "run.py",
        *TINY,
        f"runs_dir={tmp_path / 'runs'}",
        f"audio.content={content}",
        f"audio.style={style}",
        "sweep.storage=postgresql://bob:hunter2@db.example/optuna",  # a secret to keep
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    written = [p for p in (tmp_path / "runs").rglob("*") if p.is_file()]  # and MLflow's
    assert not [p for p in written if b"hunter2" in p.read_bytes()]
    assert "hunter2" not in proc.stdout + proc.stderr
    for words in (
        f"{content}: mixed 2 channels down to mono",
        f"{content}: resampled from 44100 Hz to 16000 Hz",
        f"{content}: cropped from",
        f"{style}: mixed 6 channels down to mono",
        f"{style}: resampled from 8000 Hz to 16000 Hz",
        f"{style}: zero-padded from 200 to 1024 samples",
    ):
        assert words in proc.stdout, words  # Hydra logs INFO to stdout
    assert tree_hash(folder) == before
    (out,) = [p for p in written if p.name == "generated.wav" and "mlartifacts" not in p.parts]
    assert sf.info(out).frames == 1024


def test_a_nan_loss_stays_the_reported_error_when_the_store_is_locked_at_the_end(
    compose_config, tmp_path, monkeypatch, caplog
):
    """MLflow refusing the buffered metrics at the end must not replace the NumericalError
    with its own traceback, nor leave the run RUNNING."""
    from mlflow.exceptions import MlflowException

    write = MlflowClient.log_batch

    def locked_for_metrics(self, run_id, metrics=(), **kwargs):  # the step metrics' flush
        if metrics:
            raise MlflowException("database is locked")
        return write(self, run_id, metrics=metrics, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_batch", locked_for_metrics)
    cfg = compose_config(
        "tracking=mlflow", f"runs_dir={tmp_path}", "optim.lr=1e30", "optim.steps=3", "snapshots=[0]"
    )
    with pytest.raises(NumericalError, match="not finite at iteration 1"):
        run(cfg, RunContext(run_dir=tmp_path / "nan"))
    monkeypatch.undo()
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (r,) = client.search_runs([client.get_experiment_by_name("audiostyle").experiment_id])
    assert r.info.status == "FAILED" and "NumericalError" in r.data.tags["error"]
    assert "last_finite.wav" in {a.path for a in client.list_artifacts(r.info.run_id)}
    assert "database is locked" in caplog.text


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_outputs_and_their_mlflow_copies_get_the_mode_a_plain_open_gives(tmp_path, umask):
    """Colleagues and an MLflow server running as another user read the outputs; mkstemp's
    0600 would lock them out."""
    from audiostyle.config.schema import TrackingConfig
    from audiostyle.files import atomic_path
    from audiostyle.run.tracking import MlflowTracker

    run_dir = tmp_path / "run"
    previous = os.umask(umask)
    try:
        with atomic_path(run_dir / "summary.json") as tmp:
            tmp.write_text("{}")
        with atomic_path(run_dir / "generated.wav") as tmp:
            sf.write(tmp, np.zeros(16, np.float32), RATE)
        (run_dir / "plain.txt").write_text("what open() gives")
        tracker = MlflowTracker(TrackingConfig(), tmp_path, "exp")
        tracker.start("run", {}, {})
        tracker.log_artifacts(run_dir)
        tracker.end("FINISHED")
    finally:
        os.umask(previous)
    expected = 0o666 & ~umask
    assert stat.S_IMODE((run_dir / "plain.txt").stat().st_mode) == expected
    copies = list((tmp_path / "mlartifacts").rglob("*.*"))
    for path in [run_dir / "summary.json", run_dir / "generated.wav", *copies]:
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
    assert {p.name for p in copies} == {"summary.json", "generated.wav", "plain.txt"}
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "generated.wav",
        "plain.txt",
        "summary.json",
    ]


def test_an_overflowed_x_g_is_not_kept_and_the_nan_stays_the_error(tmp_path, caplog):
    """keep_last_finite runs while a NumericalError is reported: a non-finite x_G is logged,
    not written, and must not replace that error with its own."""
    import numpy as np

    from audiostyle.errors import NumericalError
    from audiostyle.run.outputs import keep_last_finite

    err = NumericalError("nan", iteration=7, last_finite=np.array([0.1, np.inf], np.float32))
    keep_last_finite(tmp_path, err, 16000, ())
    assert not (tmp_path / "last_finite.wav").exists()
    assert "could not keep x_G (iteration 7)" in caplog.text

"""The two commands as a user runs them: `python run.py ...` and `audiostyle-encode`."""

import hashlib
from pathlib import Path

import numpy as np
import soundfile as sf

from audiostyle.clips import specs

from conftest import ROOT, TINY, run_cli


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_run_writes_a_readable_wav_of_the_right_length(tmp_path):
    proc = run_cli("run.py", *TINY, "tracking=none", f"runs_dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    outputs = list(tmp_path.rglob("generated.wav"))
    assert len(outputs) == 1
    data, rate = sf.read(outputs[0])
    assert rate == 16000 and data.shape == (1024,)
    run_dir = outputs[0].parent
    assert (run_dir / "snapshots" / "iter_0000.wav").exists()
    assert (run_dir / "snapshots" / "iter_0002.wav").exists()
    assert (run_dir / "report.html").exists() and (run_dir / ".hydra" / "config.yaml").exists()
    assert "transfer: 100%" in proc.stderr  # the progress bar ran to the end


def test_help_lists_the_groups_and_cfg_job_prints_the_config():
    proc = run_cli("run.py", "--help")
    assert proc.returncode == 0
    for group in (
        "content_layer",
        "style_layers",
        "loss",
        "init",
        "optim",
        "encoder",
        "experiment",
    ):
        assert group in proc.stdout
    assert "relu_first" in proc.stdout and "first5" in proc.stdout
    proc = run_cli("run.py", "--cfg", "job", "loss=l2")
    assert proc.returncode == 0 and "type: l2" in proc.stdout


def one_clear_line(proc, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-1500:])
    lines = [line for line in proc.stderr.splitlines() if line.startswith("audiostyle")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in proc.stderr


def test_misused_hydra_flags_are_one_clear_line():
    one_clear_line(run_cli("run.py", "-m", "--cfg", "job"), "Only one of --run, --multirun")


def test_missing_file_is_one_clear_line(tmp_path):
    missing = tmp_path / "nope.wav"
    proc = run_cli("run.py", "tracking=none", f"runs_dir={tmp_path}", f"audio.content={missing}")
    one_clear_line(proc, str(missing), "no such file")


def test_unknown_layer_is_one_clear_line(tmp_path):
    proc = run_cli(
        "run.py", "tracking=none", f"runs_dir={tmp_path}", "style_layers.layers=[conv,D_4]"
    )
    one_clear_line(proc, "D_4", "valid layers are")


def test_negative_learning_rate_is_one_clear_line(tmp_path):
    proc = run_cli("run.py", "tracking=none", f"runs_dir={tmp_path}", "optim.lr=-0.01")
    one_clear_line(proc, "optim.lr must be a positive number")


def test_encode_writes_the_requested_arrays(tmp_path):
    clip = tmp_path / "clip.wav"
    rng = np.random.default_rng(0)
    sf.write(clip, (0.2 * rng.normal(size=1300)).clip(-1, 1), 16000)  # trimmed to 1024
    before = sha(clip)
    out = tmp_path / "emb.npz"
    proc = run_cli(
        "-m",
        "audiostyle.commands.encode",
        str(clip),
        "--layers",
        "encoding,final_relu,A_1,C_5",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    arrays = np.load(out)
    assert sorted(arrays.files) == ["A_1", "C_5", "encoding", "final_relu"]
    assert arrays["encoding"].shape == (2, 16) and arrays["encoding"].dtype == np.float32
    assert arrays["A_1"].shape == (1024, 128)
    assert sha(clip) == before


def test_encode_takes_the_runs_clip_specs(tmp_path):
    out = tmp_path / "tone.npz"
    proc = run_cli("-m", "audiostyle.commands.encode", "chord:tone:220,tone:330", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert np.load(out)["encoding"].shape == (int(specs.DEFAULT_SECONDS * 16000) // 512, 16)
    proc = run_cli(
        "-m", "audiostyle.commands.encode", "tone:9000", "--out", str(out)
    )  # above Nyquist
    assert proc.returncode == 2 and "Nyquist" in proc.stderr and "Traceback" not in proc.stderr


def test_encode_rejects_an_unknown_layer(tmp_path):
    proc = run_cli(
        "-m",
        "audiostyle.commands.encode",
        "example:speech",
        "--layers",
        "B_99",
        "--out",
        str(tmp_path / "x.npz"),
    )
    assert proc.returncode == 2 and "B_99" in proc.stderr and "Traceback" not in proc.stderr


def test_bundled_examples_are_real_clips():
    examples = ROOT / "src" / "audiostyle" / "clips" / "examples"
    for name in ("speech", "flute"):
        data, rate = sf.read(examples / f"{name}.wav")
        assert rate == 16000 and len(data) > 2.5 * rate and np.max(np.abs(data)) > 0.1
    assert (examples / "README.md").exists()


def test_a_plain_multirun_with_a_bad_value_is_one_clear_line(tmp_path):
    """Hydra's basic sweeper (no Optuna) re-raises the first failed job: one line, exit 2."""
    proc = run_cli("run.py", "-m", "tracking=none", f"runs_dir={tmp_path}", "optim.lr=-1,-2")
    one_clear_line(proc, "optim.lr must be a positive number, got -1.0")


def test_a_runs_dir_the_mlflow_url_cannot_hold_is_one_clear_line(tmp_path):
    proc = run_cli("run.py", *TINY, f"runs_dir={tmp_path / 'q?x'}")
    one_clear_line(proc, "the MLflow store's SQLite URL cannot hold '%' or '?'")

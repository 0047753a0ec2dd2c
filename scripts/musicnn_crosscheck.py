"""Cross-check networks.musicnn against musicnn's own TF1 graph, all four checkpoints.

musicnn 0.1.0's extractor builds its graph with tf.compat.v1.layers, which on TensorFlow 2.16+
needs tf_keras (TF_USE_LEGACY_KERAS=1); it runs unpatched. So this runs in two interpreters:
  python scripts/musicnn_crosscheck.py OUT_DIR [--json tests/data/musicnn_reference.json]
from audiostyle's venv writes the clips, makes OUT_DIR/venv (tensorflow and librosa at our
versions, tf_keras, musicnn --no-deps; its numpy<1.17 pin cannot install on Python 3.11) unless
it exists, runs `musicnn` mode there (musicnn's extractor on each clip and model), then
compares our taps with it and prints the largest differences per model and tap.
"""

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np

MODELS = ("MTT_musicnn", "MTT_vgg", "MSD_musicnn", "MSD_vgg")
EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "audiostyle" / "clips" / "examples"
RATE, QUIET = 16000, 0.1  # peak 0.1: no mel bin reaches musicnn's float16 overflow


def read(name: str) -> np.ndarray:
    import soundfile as sf

    x, rate = sf.read(EXAMPLES / f"{name}.wav", dtype="float32")
    assert rate == RATE
    return x


def quiet_flute() -> np.ndarray:
    """The bundled flute at peak 0.1 (tests/test_musicnn.py builds the same clip)."""
    x = read("flute")
    return x / np.abs(x).max() * np.float32(QUIET)


def write_clips(out: Path) -> list[Path]:
    """Quiet flute (1 patch); quiet speech, a pause, the flute, a pause (2 patches: speech alone
    is 185 frames, under musicnn's 187); the flute at its own level (musicnn overflows)."""
    import soundfile as sf

    speech = read("speech")
    speech = speech / np.abs(speech).max() * np.float32(QUIET)
    pause = np.zeros(1600, np.float32)
    clips = {
        "flute_quiet": quiet_flute(),
        "speech_flute_quiet": np.concatenate([speech, pause, quiet_flute(), pause, pause]),
        "flute_loud": read("flute"),
    }
    (out / "clips").mkdir(parents=True, exist_ok=True)
    for name, x in clips.items():
        sf.write(out / "clips" / f"{name}.wav", x, RATE, subtype="FLOAT")
    return sorted((out / "clips").glob("*.wav"))


def musicnn_side(out: Path) -> None:
    """In the throwaway venv: musicnn's extractor, as its tagger calls it and in one batch."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    from musicnn import configuration, extractor

    for clip in sorted((out / "clips").glob("*.wav")):
        for model in MODELS:
            saved = {}
            configuration.BATCH_SIZE = 1  # its default: the taggram its tagger averages
            saved["taggram"], _, _ = extractor.extractor(str(clip), model=model)
            # all patches in one batch: past the first batch its loop re-appends the first
            # batch's cnn1..cnn3 (it reads cnn1_ for midend1_), so features come from one run
            configuration.BATCH_SIZE = 1 << 20
            _, _, features = extractor.extractor(str(clip), model=model)
            saved |= {f"f_{k}": v for k, v in features.items()}
            _, saved["logmel"] = extractor.batch_data(str(clip), 187, 187)
            np.savez(out / f"{clip.stem}__{model}.npz", **saved)


def make_venv(out: Path) -> Path:
    python = out / "venv" / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(out / "venv")], check=True)
        pins = [
            f"tensorflow=={version('tensorflow')}",
            "tf_keras",
            f"librosa=={version('librosa')}",
        ]
        subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--no-deps", "musicnn==0.1.0"], check=True
        )
    return python


def compare(out: Path, clip: str, model: str) -> dict[str, float]:
    """Max |ours - musicnn| per tap, our taps from the clip's waveform."""
    import soundfile as sf
    import tensorflow as tf

    from audiostyle.networks.musicnn import MusicnnNetwork

    ref = np.load(out / f"{clip}__{model}.npz")
    wave, _ = sf.read(out / "clips" / f"{clip}.wav", dtype="float32")
    ours = MusicnnNetwork(model)(tf.constant(wave[None]))
    logmel = ref["logmel"].astype(np.float32)
    mine = ours["logmel"].numpy()[0]
    finite = np.isfinite(logmel[: len(mine)])
    diffs = {"logmel": float(np.abs(mine - logmel[: len(mine)])[finite].max())}
    diffs["logmel_inf"] = float((~finite).sum())
    diffs["taggram"] = float(np.abs(ours["taggram"].numpy()[0] - ref["taggram"]).max())
    for key in ref.files:
        if key.startswith("f_") and diffs["logmel_inf"] == 0:
            tap = ours[key[2:]].numpy()[0]
            diffs[key[2:]] = float(np.abs(tap - ref[key].reshape(tap.shape)).max())
    return diffs


def reference_json(out: Path) -> dict:
    """The quiet flute's 50 tag probabilities and 8 values of each tap, per model."""
    data = {"clip": f"example:flute scaled to peak {QUIET}", "models": {}}
    for model in MODELS:
        ref = np.load(out / f"flute_quiet__{model}.npz")
        taps = {}
        for key in (k for k in ref.files if k.startswith("f_")):
            flat = ref[key].reshape(-1)
            index = np.linspace(0, flat.size - 1, 8).round().astype(int)
            taps[key[2:]] = {"index": index.tolist(), "value": flat[index].tolist()}
        data["models"][model] = {"taggram": ref["taggram"][0].tolist(), "taps": taps}
    return data


def main(argv: list[str]) -> None:
    if argv[0] == "musicnn":
        return musicnn_side(Path(argv[1]))
    out = Path(argv[0]).resolve()
    clips = write_clips(out)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([str(make_venv(out)), __file__, "musicnn", str(out)], check=True, env=env)
    for clip in (c.stem for c in clips):
        for model in MODELS:
            diffs = compare(out, clip, model)
            print(f"{clip:19s} {model:12s} " + "  ".join(f"{k} {v:.2e}" for k, v in diffs.items()))
    if "--json" in argv:
        path = Path(argv[argv.index("--json") + 1])
        path.write_text(json.dumps(reference_json(out), indent=None, separators=(",", ":")) + "\n")
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1:])

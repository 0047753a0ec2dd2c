"""Cross-check our encoder against Magenta's own `fastgen.encode` on one checkpoint.

Magenta needs an old stack, so this runs in two interpreters (see README "Checkpoints"):
  1. in a separate venv with magenta 2.1.4 (--no-deps), tensorflow-cpu 2.15.1 and its pins:
     python scripts/magenta_crosscheck.py magenta OUT_DIR
     writes a checkpoint in the release format (random weights and biases, plus EMA, Adam and
     decoder entries), a test clip, and Magenta's encoding of it;
  2. in audiostyle's venv:
     python scripts/magenta_crosscheck.py ours OUT_DIR
     encodes the same clip from the same checkpoint and prints the largest differences.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference import random_tensors  # noqa: E402

RATE = 16000


def full_checkpoint(prefix: str) -> str:
    """Magenta's whole autoencoder graph (decoder included), our random encoder values with
    non-zero biases, plus EMA shadows and Adam slots beside them, saved by a TF1 Saver."""
    import tensorflow.compat.v1 as tf
    from magenta.models.nsynth.wavenet import fastgen

    tf.disable_v2_behavior()
    raw, ema = random_tensors(21), random_tensors(22)
    soft = tf.ConfigProto(allow_soft_placement=True)  # Magenta pins its graph to a GPU
    with tf.Graph().as_default(), tf.Session(config=soft) as sess:
        fastgen.load_nsynth(batch_size=1, sample_length=4096)
        graph_vars = {v.op.name: v for v in tf.global_variables()}
        for name, value in raw.items():
            tf.Variable(ema[name], name=f"{name}/ExponentialMovingAverage")
            tf.Variable(np.zeros_like(value), name=f"{name}/Adam")
        tf.Variable(np.int32(200000), name="global_step")
        sess.run(tf.global_variables_initializer())
        for name, value in raw.items():
            graph_vars[name].load(value, sess)
        saved = tf.train.Saver().save(sess, prefix, write_meta_graph=False)
        print("checkpoint holds", len(tf.global_variables()), "tensors")
        return saved


def magenta_side(out: Path) -> None:
    import soundfile as sf
    from magenta.models.nsynth.wavenet import fastgen

    out.mkdir(parents=True, exist_ok=True)
    prefix = full_checkpoint(str(out / "model.ckpt-200000"))
    rng = np.random.default_rng(0)
    t = np.arange(RATE * 2 + 300) / RATE  # not a multiple of 512: checks the trimming rule too
    clip = 0.4 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.normal(size=t.size)
    sf.write(out / "clip.wav", clip.astype(np.float32), RATE, subtype="FLOAT")
    audio = fastgen.utils.load_audio(str(out / "clip.wav"), sample_length=len(clip), sr=RATE)
    encoding = fastgen.encode(audio, prefix, len(audio))
    np.save(out / "magenta_encoding.npy", encoding[0])
    print("magenta encoding", encoding.shape, "checkpoint", prefix)


def our_side(out: Path) -> None:
    from audiostyle.commands.encode import main

    code = main(
        [
            str(out / "clip.wav"),
            "--checkpoint",
            str(out / "model.ckpt-200000"),
            "--out",
            str(out / "ours.npz"),
        ]
    )
    assert code == 0
    ours = np.load(out / "ours.npz")["encoding"]
    theirs = np.load(out / "magenta_encoding.npy")
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    diff = np.abs(ours - theirs)
    print(
        f"shape {ours.shape}; max |ours - magenta| = {diff.max():.3e}; "
        f"max relative = {diff.max() / np.abs(theirs).max():.3e}"
    )


if __name__ == "__main__":
    {"magenta": magenta_side, "ours": our_side}[sys.argv[1]](Path(sys.argv[2]))

"""`audiostyle-encode CLIP --out OUT.npz`: save a clip's encoding and activations.

Like Magenta's save-embeddings tool: the clip is read at 16 kHz, mixed to mono, trimmed to a
multiple of 512 samples (never padded, as `fastgen` does), mu-law quantized exactly as Magenta
does by default, and each requested layer is written as a [time, channels] float32 array keyed
by its name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from audiostyle.clips import specs
from audiostyle.clips.audio import HOP, refuse_inputs
from audiostyle.config.networks import check_layer_names
from audiostyle.config.schema import EncoderConfig, MuLaw, Weights
from audiostyle.errors import AudioError, AudiostyleError, ConfigError
from audiostyle.files import atomic_path, check_output_file, storage_errors
from audiostyle.networks.checkpoint import checkpoint_prefix

RATE = 16000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="audiostyle-encode", description=__doc__.splitlines()[0])
    p.add_argument(
        "clip",
        help="a clip as audio.content takes it: a file soundfile reads, example:NAME, tone:HZ, "
        "tones:HZ,HZ, chord:SPEC,SPEC, nsynth:NOTE_STR (with --nsynth-root)",
    )
    p.add_argument("--nsynth-root", help="the NSynth dataset, for nsynth:NOTE_STR clips")
    p.add_argument("--out", required=True, type=Path, help="output .npz")
    p.add_argument(
        "--checkpoint",
        help="Magenta checkpoint prefix (model.ckpt-200000); default: random weights",
    )
    p.add_argument(
        "--use-ema", action="store_true", help="take the checkpoint's EMA shadow weights"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    p.add_argument(
        "--layers",
        default="encoding",
        help="comma-separated layer names: encoding, final_relu, A_i, B_i, C_i (i = 1..30)",
    )
    p.add_argument(
        "--mu-law",
        default=MuLaw.quantized.value,
        choices=[m.value for m in MuLaw],
        help="input mapping (quantized = Magenta's exact preprocessing)",
    )
    return p.parse_args(argv)


def encode_clip(
    clip: np.ndarray, layers: list[str], encoder_cfg: EncoderConfig, mu_law: MuLaw
) -> dict[str, np.ndarray]:
    """The named activations of one clip (length a multiple of 512) as [time, channels]."""
    import tensorflow as tf

    from audiostyle.networks.encoder import build_encoder
    from audiostyle.networks.mulaw import encoder_input

    encoder = build_encoder(encoder_cfg)
    x = encoder_input(tf.constant(clip[None, :]), mu_law)[..., None]
    taps = encoder.taps(x, layers)
    return {name: taps[name].numpy()[0].astype(np.float32) for name in layers}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        layers = [n.strip() for n in args.layers.split(",") if n.strip()]
        if not layers:
            raise ConfigError("--layers: name at least one layer")
        check_layer_names(layers, "--layers", "nsynth")
        if args.use_ema and not args.checkpoint:
            raise ConfigError("--use-ema needs --checkpoint")
        if args.seed < 0:
            raise ConfigError(f"--seed must be an integer >= 0, got {args.seed}")
        check_output_file(args.out, "--out", ".npz")  # before the encoder runs, not after
        if args.checkpoint:
            checkpoint_prefix(args.checkpoint)  # there, before any audio or TensorFlow work
        specs.check(args.clip, "clip", args.nsynth_root, RATE)
        refuse_inputs(args.out, specs.input_paths(args.clip, args.nsynth_root))
        clip = specs.load(args.clip, RATE, None, None, args.nsynth_root)
        usable = len(clip) // HOP * HOP
        if usable == 0:
            raise AudioError(
                f"{args.clip}: shorter than one 512-sample hop ({len(clip)} samples at 16 kHz)"
            )
        top = float(np.max(np.abs(clip[:usable])))
        if top > 1.0:  # a float WAV or a chord over full scale: encoded as it is, not clipped
            why = "" if args.mu_law == MuLaw.none.value else "; mu-law units leave [-128, 127]"
            print(
                f"audiostyle-encode: warning: {args.clip}: peak {top:.2f} exceeds 1.0{why}",
                file=sys.stderr,
            )
        weights = Weights.magenta if args.checkpoint else Weights.random
        cfg = EncoderConfig(
            weights=weights, checkpoint=args.checkpoint, seed=args.seed, use_ema=args.use_ema
        )
        arrays = encode_clip(clip[:usable], layers, cfg, MuLaw(args.mu_law))
        with storage_errors(), atomic_path(args.out, ".npz") as tmp:
            np.savez(tmp, **arrays)
    except AudiostyleError as err:
        print(f"audiostyle-encode: error: {err}", file=sys.stderr)
        return err.exit_code
    for name, a in arrays.items():
        print(f"{name}: {list(a.shape)}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

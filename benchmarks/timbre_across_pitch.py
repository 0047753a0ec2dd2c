"""Does a feature network's style statistic carry timbre across a change of pitch? (issue #33)

For GM notes of a few instruments at a few pitches (fluidsynth, FluidR3_GM.sf2, dry, as
audiostyle-render-dataset renders them), each network's style statistic of each note: the Gram
matrix G = F^T F / T of each of its default style layers (those of conf/experiment/<network>),
normalised to unit Frobenius norm. The distance of two notes is sqrt(2 - 2 cos) of their Grams,
averaged over the layers (0: the same statistic up to scale; sqrt(2): orthogonal).

- between: two instruments at the same pitch, averaged over the pairs and pitches;
- within: one instrument at two pitches, averaged over the instruments and pitch pairs;
- ratio = between / within: > 1 means the statistic tells instruments apart better than it
  tells pitches apart, i.e. timbre beats pitch;
- nn: the share of notes whose nearest other note is the same instrument at another pitch
  (chance: (pitches - 1) / (notes - 1)).

Usage: python benchmarks/timbre_across_pitch.py [--seconds 1.5] [--nsynth-seconds 0.5]
Needs fluidsynth and fluid-soundfont-gm; musicnn 0.1.0 (--no-deps) for its checkpoints.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import time

import numpy as np

from audiostyle.commands.render_dataset import find_tools, render_note

INSTRUMENTS = {"flute": 73, "violin": 40, "trumpet": 56, "clarinet": 71, "cello": 42}
PITCHES = (60, 67, 74)  # C4, G4, D5: in every one's range
RATE = 16000
NETWORKS = {  # name: (encoder settings, style layers: the network's default set)
    "spectral": ({"network": "spectral"}, ["conv"]),
    "nsynth (random)": ({"network": "nsynth"}, [f"A_{i}" for i in range(1, 31)]),
    "MSD_musicnn": ({"network": "musicnn", "musicnn_model": "MSD_musicnn"}, ["cnn1", "cnn2", "cnn3"]),
    "MTT_musicnn": ({"network": "musicnn", "musicnn_model": "MTT_musicnn"}, ["cnn1", "cnn2", "cnn3"]),
    "MTT_vgg": ({"network": "musicnn", "musicnn_model": "MTT_vgg"}, ["pool1", "pool2"]),
    "MSD_vgg": ({"network": "musicnn", "musicnn_model": "MSD_vgg"}, ["pool1", "pool2"]),
}  # fmt: skip


def notes(seconds: float) -> dict[tuple[str, int], np.ndarray]:
    binary, sf2 = find_tools(None)
    out = {}
    for (name, program), pitch in itertools.product(INSTRUMENTS.items(), PITCHES):
        x = render_note(binary, sf2, program, pitch, 100)[: int(seconds * RATE)]
        out[name, pitch] = (0.9 * x / max(np.abs(x).max(), 1e-9)).astype(np.float32)
    return out


def gram_cosines(feats: list[np.ndarray]) -> np.ndarray:
    """cos of the Gram matrices of every pair of notes' [T, C] features, through T x T
    products (<G_a, G_b> = ||F_a F_b^T||^2 / (T_a T_b)) where T < C, else of the Grams."""
    f = [x.astype(np.float64) / np.sqrt(len(x)) for x in feats]
    if len(f[0]) > f[0].shape[1]:  # more steps than channels (NSynth): the C x C Grams
        g = [x.T @ x for x in f]
        inner = np.array([[np.sum(a * b) for b in g] for a in g])
    else:
        inner = np.array([[np.sum((a @ b.T) ** 2) for b in f] for a in f])
    norm = np.sqrt(np.diag(inner))
    return inner / np.outer(norm, norm)


def distances(network: str, clips: dict, seconds: float) -> np.ndarray:
    import tensorflow as tf

    from audiostyle.config.schema import Config
    from audiostyle.networks.encoder import build_network

    encoder, layers = NETWORKS[network]
    cfg = Config()
    cfg = dataclasses.replace(cfg, encoder=dataclasses.replace(cfg.encoder, **encoder))
    if encoder["network"] == "musicnn":
        cfg = dataclasses.replace(
            cfg, style_layers=dataclasses.replace(cfg.style_layers, layers=layers)
        )
    net = build_network(cfg)
    n = int(seconds * RATE) // 512 * 512
    taps = [net.features(tf.constant(x[None, :n]), layers) for x in clips.values()]
    per_layer = [gram_cosines([t[name][0].numpy() for t in taps]) for name in layers]
    return np.mean([np.sqrt(np.maximum(2 - 2 * c, 0)) for c in per_layer], axis=0)


def summarise(d: np.ndarray, keys: list[tuple[str, int]]) -> dict:
    between, within = [], []
    for (i, (a, p)), (j, (b, q)) in itertools.combinations(enumerate(keys), 2):
        if a != b and p == q:
            between.append(d[i, j])
        elif a == b and p != q:
            within.append(d[i, j])
    masked = d + np.diag(np.full(len(keys), np.inf))
    nearest = [keys[int(np.argmin(row))][0] == keys[i][0] for i, row in enumerate(masked)]
    return {
        "between": float(np.mean(between)),
        "within": float(np.mean(within)),
        "ratio": float(np.mean(between) / np.mean(within)),
        "nn": float(np.mean(nearest)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=1.5)
    p.add_argument("--nsynth-seconds", type=float, default=0.5, help="NSynth is slow")
    p.add_argument("--networks", nargs="+", choices=list(NETWORKS), default=list(NETWORKS))
    args = p.parse_args()
    clips = notes(max(args.seconds, args.nsynth_seconds))
    keys = list(clips)
    chance = (len(PITCHES) - 1) / (len(keys) - 1)
    print(f"{len(INSTRUMENTS)} instruments ({', '.join(INSTRUMENTS)}) x pitches {PITCHES}")
    print(
        f"{'network':16s} {'s':>4s} {'between':>8s} {'within':>8s} {'ratio':>6s} {'nn':>5s}  (nn chance {chance:.2f})"
    )
    for network in args.networks:
        seconds = args.nsynth_seconds if network.startswith("nsynth") else args.seconds
        start = time.time()
        row = summarise(distances(network, clips, seconds), keys)
        print(
            f"{network:16s} {seconds:4.1f} {row['between']:8.3f} {row['within']:8.3f} "
            f"{row['ratio']:6.2f} {row['nn']:5.2f}  ({time.time() - start:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()

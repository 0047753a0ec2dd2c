"""experiment=musicnn's measurement (docs/musicnn.md "Measured settings"): style loss drop and content
distance after STEPS Adam steps on the bundled speech -> flute at 2.976 s (one patch).

Usage: python benchmarks/musicnn_settings.py STEPS LRS ALPHAS N_NETWORKS
  e.g. python benchmarks/musicnn_settings.py 40 0.001,0.003,0.01 1 2
"""

import sys
import time

sys.path.insert(0, "tests")
from audiostyle.clips.inputs import load_inputs
from audiostyle.networks.encoder import build_network
from audiostyle.optimisation.transfer import run_transfer

from conftest import plain_config

BASE = {
    "encoder.network": "musicnn",
    "loss.type": "gram",
    "loss.normalize": "per_layer",
    "optim.schedule": "warmup_cosine",
    "optim.keep_best": True,
    "audio.duration": 2.976,
    "snapshots": [],
    "runtime.xla": True,
    "judge.tagger": False,
    "judge.speech": False,
}
grid = [
    (m, lay, c, lr, a)
    for (m, lay, c) in [
        ("MSD_musicnn", ["cnn1", "cnn2", "cnn3"], "logmel"),
        ("MTT_vgg", ["pool1", "pool2"], "logmel"),
    ][: int(sys.argv[4])]
    for lr in map(float, sys.argv[2].split(","))
    for a in map(float, sys.argv[3].split(","))
]
steps = int(sys.argv[1])
for m, lay, c, lr, a in grid:
    cfg = plain_config(
        BASE,
        {
            "encoder.musicnn_model": m,
            "style_layers.layers": lay,
            "content_layer.layer": c,
            "optim.lr": lr,
            "alpha": a,
            "optim.steps": steps,
        },
    )
    inp = load_inputs(cfg)
    t0 = time.time()
    r = run_transfer(cfg, build_network(cfg), inp.content, inp.style)
    h = r.history
    k = r.output_step
    print(
        f"{m:12s} {'+'.join(lay):14s} lr={lr:g} alpha={a:g} style {h['style'][0]:.4g} -> {h['style'][k]:.4g} ({h['style'][k] / h['style'][0]:.3f}) content {h['content'][k]:.3g} best_step {k} {time.time() - t0:.0f}s",
        flush=True,
    )

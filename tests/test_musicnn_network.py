"""musicnn's checkpoints as the run's feature network (encoder=musicnn): its options choose it,
its layers are checked before any audio, its taps carry the objective whole and in chunks, and
a run whose loss uses MTT_musicnn goes without the tagger judge."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from audiostyle.commands.cli import network_choice
from audiostyle.config.networks import MUSICNN_LAYER_SETS
from audiostyle.config.schema import LossType, Normalize
from audiostyle.config.validation import validate
from audiostyle.errors import ConfigError
from audiostyle.run.context import RunContext
from audiostyle.run.runner import loss_networks, run

from conftest import MUSICNN, plain_config, run_cli

pytest.importorskip("musicnn", reason="pip install --no-deps musicnn==0.1.0")


@pytest.mark.parametrize("option", MUSICNN_LAYER_SETS)
def test_each_layer_set_chooses_musicnn_and_a_checkpoint_that_is_not_the_judge(
    compose_config, option
):
    assert network_choice([f"style_layers={option}"]).network == "musicnn"
    cfg = compose_config(f"style_layers={option}")
    validate(cfg)
    assert cfg.encoder.network.value == "musicnn"
    expected = "MTT_vgg" if option.startswith("vgg") else "MSD_musicnn"
    assert loss_networks(cfg) == {expected}


def test_the_checkpoint_can_be_named_and_the_judges_is_then_in_the_loss(compose_config):
    cfg = compose_config("style_layers=musicnn_timbral", "encoder.musicnn_model=MTT_musicnn")
    validate(cfg)
    assert loss_networks(cfg) == {"MTT_musicnn"}
    cfg = compose_config("style_layers=vgg_high", "encoder.musicnn_model=MSD_vgg")
    assert loss_networks(cfg) == {"MSD_vgg"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["style_layers=vgg_low", "content_layer=musicnn_cnn3"], "'cnn3' is not a layer of musicnn's MTT_vgg"),
        (["style_layers=musicnn_midend", "encoder.musicnn_model=MSD_vgg"], "'cnn1' is not a layer of musicnn's MSD_vgg"),
        (["style_layers.layers=[cnn1,cnn9]"], "unknown layer 'cnn9' for encoder.network=musicnn"),
        (["encoder=musicnn", "encoder.musicnn_model=MTT"], "encoder.musicnn_model must be one of"),
        (["style_layers=musicnn_midend", "content_layer.layer=penultimate"], "one step per 3 s patch"),
        (["style_layers=musicnn_midend", "runtime.precision=bfloat16"], "not offered for encoder=musicnn"),
        (["style_layers=musicnn_midend", "audio.sample_rate=22050"], "must be 16000 for musicnn"),
    ],
)  # fmt: skip
def test_bad_musicnn_settings_are_one_line_before_any_audio(
    compose_config, tmp_path, overrides, message
):
    missing = f"audio.content={tmp_path / 'missing.wav'}"  # never read: the check comes first
    cfg = compose_config(*overrides, missing)
    with pytest.raises(ConfigError, match=message):
        validate(cfg)


def test_a_short_clip_is_one_patch_and_each_tap_keeps_the_clips_own_steps():
    from audiostyle.networks.musicnn_features import MusicnnFeatures

    net = MusicnnFeatures("MTT_vgg")
    wave = np.random.default_rng(0).normal(0, 0.1, (1, 8000)).astype(np.float32)  # 0.5 s
    taps = net.features(wave, ["logmel", "pool1", "pool5"])
    assert taps["logmel"].shape == (1, 32, 96)  # 1 + 8000 // 256 frames
    assert taps["pool1"].shape == (1, 16, 48 * 128) and taps["pool5"].shape == (1, 1, 128)
    assert all(np.all(np.isfinite(t.numpy())) for t in taps.values())
    assert net.steps("cnn1", 96000) == 376 and net.steps("penultimate", 96000) == 3


def objectives(model: str, layers: list[str], content: str, loss: LossType, chunk: int):
    from audiostyle.losses.chunked import ChunkedObjective
    from audiostyle.losses.objective import StyleTransferObjective
    from audiostyle.networks.musicnn_features import MusicnnFeatures

    net = MusicnnFeatures(model)
    weights = [1 / len(layers)] * len(layers)

    def objective():
        args = (net, content, layers, weights, loss, Normalize.per_layer, 0.5)
        return StyleTransferObjective(*args, energy_weight=1.0)

    return objective(), ChunkedObjective(objective(), chunk)


@pytest.mark.parametrize(
    ("model", "layers", "content", "loss"),
    [
        ("MTT_vgg", ["pool1", "pool3", "pool5"], "pool2", LossType.gram),
        ("MTT_vgg", ["pool2", "pool4"], "logmel", LossType.l2),
        ("MTT_vgg", ["pool1", "pool5"], "pool2", LossType.histogram),
        ("MTT_vgg", ["pool3"], "pool2", LossType.mmd),
        ("MSD_musicnn", ["cnn1", "penultimate"], "timbral", LossType.gram),
    ],
)
def test_chunks_of_whole_patches_give_the_whole_clips_loss_and_gradient(
    model, layers, content, loss
):
    import tensorflow as tf

    from audiostyle.networks.musicnn_features import PATCH_SAMPLES

    rng = np.random.default_rng(1)
    c, s, x = (tf.constant(rng.normal(0, 0.1, (1, 60000)).astype(np.float32)) for _ in range(3))
    whole, chunked = objectives(model, layers, content, loss, PATCH_SAMPLES)  # 2 chunks
    whole.set_targets(c, s)
    chunked.set_targets(c, s)
    with tf.GradientTape() as tape:
        tape.watch(x)
        terms = whole(x)
    grad = tape.gradient(terms.total, x).numpy()
    split, split_grad = chunked(x)
    np.testing.assert_allclose(split.per_layer, terms.per_layer, rtol=1e-4)
    np.testing.assert_allclose(
        [split.content, split.total], [terms.content, terms.total], rtol=1e-4
    )
    np.testing.assert_allclose(split_grad, grad, atol=1e-4 * np.abs(grad).max())


def test_a_few_steps_lower_the_style_loss_on_musicnns_taps():
    from audiostyle.clips.inputs import load_inputs
    from audiostyle.networks.encoder import build_network
    from audiostyle.optimisation.transfer import run_transfer

    cfg = plain_config(
        MUSICNN,
        {"alpha": 0.0, "optim.steps": 4},
        {"audio.duration": 0.5, "snapshots": []},
    )
    validate(cfg)
    inputs = load_inputs(cfg)
    result = run_transfer(cfg, build_network(cfg), inputs.content, inputs.style)
    style = result.history["style"]
    assert style[-1] < 0.9 * style[0]


def test_a_run_on_mtt_musicnn_goes_unjudged_by_it_and_says_why(compose_config, tmp_path, caplog):
    """Tracking on (an MLflow store of its own), as a run's default."""
    cfg = compose_config("style_layers=musicnn_timbral", "encoder.musicnn_model=MTT_musicnn")
    store = f"sqlite:///{tmp_path}/mlflow.db"
    cfg = dataclasses.replace(
        cfg, tracking=dataclasses.replace(cfg.tracking, enabled=True, uri=store)
    )
    summary = run(cfg, RunContext(run_dir=tmp_path / "run"))
    speech_only = ("wer", "words_kept")  # the speech judge still reads x_G
    assert not [k for k in summary if k.startswith("eval/judge/") and not k.endswith(speech_only)]
    written = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "eval/judge/voice" not in written
    assert "uses MTT_musicnn, the tagger's own network" in written["judge_notes"]["tagger"]
    assert "judge tagger left out" in caplog.text


def test_python_run_py_with_a_musicnn_layer_set(tmp_path):
    """As a user types it: the layer set chooses musicnn and its settings; the judge stays."""
    proc = run_cli(
        "run.py", "style_layers=musicnn_midend", "optim.steps=2", "audio.duration=0.5",
        "tracking=none", f"runs_dir={tmp_path}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = [p for p in Path(tmp_path).rglob("summary.json")]
    summary = json.loads(path.read_text())
    assert summary["network"] == {"name": "musicnn", "chosen_by": "style_layers=musicnn_midend"}
    header = (path.parent / "losses.csv").read_text().splitlines()[0].split(",")
    assert [h for h in header if h.startswith("style/")] == [
        "style/cnn1",
        "style/cnn2",
        "style/cnn3",
    ]
    assert "eval/judge/voice" in summary  # MSD_musicnn in the loss: MTT_musicnn judges

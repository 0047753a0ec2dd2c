"""The Magenta checkpoint loader against checkpoints written here in the real TF1 format."""

import numpy as np
import pytest
import tensorflow as tf

from audiostyle.config.schema import MuLaw
from audiostyle.errors import CheckpointError
from audiostyle.networks.checkpoint import expected_shapes, load_magenta_weights
from audiostyle.networks.encoder import NSynthEncoder
from audiostyle.networks.mulaw import encoder_input

from reference import encoder_taps, mu_law_quantized, random_tensors, write_tf1_checkpoint

# what the loader returns is what was written: to the bit
READ_BACK = "written to the checkpoint and read back"


@pytest.fixture(scope="module")
def raw():
    return random_tensors(seed=11)


@pytest.fixture(scope="module")
def ema():
    return random_tensors(seed=12)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, raw, ema):
    return write_tf1_checkpoint(
        str(tmp_path_factory.mktemp("ckpt") / "model.ckpt-200000"), raw, ema
    )


def test_expected_shapes_cover_the_124_encoder_tensors():
    shapes = expected_shapes()
    assert len(shapes) == 124
    assert sum(int(np.prod(s)) for s in shapes.values()) == 1_976_336


def test_raw_weights_by_default_and_ema_on_request(ckpt, raw, ema):
    w = load_magenta_weights(ckpt)
    np.testing.assert_array_equal(w.dilated_w[4], raw["ae_dilatedconv_5/W"][0], err_msg=READ_BACK)
    np.testing.assert_array_equal(w.res_b[29], raw["ae_res_30/biases"], err_msg=READ_BACK)
    w_ema = load_magenta_weights(ckpt, use_ema=True)
    np.testing.assert_array_equal(
        w_ema.dilated_w[4], ema["ae_dilatedconv_5/W"][0], err_msg=READ_BACK
    )
    assert not np.allclose(w.start_w, w_ema.start_w)


def test_loaded_encoder_matches_numpy_on_every_tap_family(ckpt, raw):
    rng = np.random.default_rng(5)
    clip = (0.3 * rng.normal(size=1024)).clip(-1, 1).astype(np.float32)
    enc = NSynthEncoder(load_magenta_weights(ckpt))
    names = ["A_1", "B_7", "C_18", "final_relu", "encoding"]
    ours = enc.taps(encoder_input(tf.constant(clip[None]), MuLaw.quantized)[..., None], names)
    ref = encoder_taps(mu_law_quantized(clip.astype(np.float64)), raw)
    for n in names:
        want = ref[n]
        rel = np.max(np.abs(ours[n].numpy()[0] - want)) / (np.max(np.abs(want)) + 1e-6)
        assert rel < 1e-4, n


def test_weights_are_read_once_per_process(ckpt):
    assert load_magenta_weights(ckpt) is load_magenta_weights(ckpt)


def test_folder_resolves_to_its_latest_checkpoint(ckpt, raw):
    folder = ckpt.rsplit("/", 1)[0]
    (tf.io.gfile.GFile(f"{folder}/checkpoint", "w")).write(f'model_checkpoint_path: "{ckpt}"\n')
    w = load_magenta_weights(folder)
    np.testing.assert_array_equal(w.bottleneck_w, raw["ae_bottleneck/W"][0], err_msg=READ_BACK)


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint here"):
        load_magenta_weights(str(tmp_path / "nothing" / "model.ckpt-1"))


def test_non_checkpoint_file_is_a_clear_error(tmp_path):
    fake = tmp_path / "model.ckpt"
    fake.write_text("not a checkpoint")
    (tmp_path / "model.ckpt.index").write_text("garbage index")
    with pytest.raises(CheckpointError, match="not a readable TensorFlow checkpoint"):
        load_magenta_weights(str(fake))


def test_missing_encoder_tensor_is_named(tmp_path, raw):
    partial = {k: v for k, v in raw.items() if k != "ae_res_17/W"}
    prefix = write_tf1_checkpoint(str(tmp_path / "m.ckpt"), partial, None)
    with pytest.raises(
        CheckpointError, match=r"'ae_res_17/W' is missing \(expected shape \[1, 1, 128, 128\]\)"
    ):
        load_magenta_weights(prefix)


def test_misshaped_encoder_tensor_is_named(tmp_path, raw):
    bad = dict(raw, **{"ae_dilatedconv_3/W": np.zeros((1, 2, 128, 128), np.float32)})
    prefix = write_tf1_checkpoint(str(tmp_path / "m.ckpt"), bad, None)
    with pytest.raises(
        CheckpointError,
        match=r"'ae_dilatedconv_3/W' has shape \[1, 2, 128, 128\], expected \[1, 3, 128, 128\]",
    ):
        load_magenta_weights(prefix)


def test_ema_missing_is_named(tmp_path, raw):
    prefix = write_tf1_checkpoint(str(tmp_path / "m.ckpt"), raw, None)
    with pytest.raises(CheckpointError, match="ExponentialMovingAverage' is missing"):
        load_magenta_weights(prefix, use_ema=True)


def test_index_and_data_files_name_their_checkpoint(ckpt, raw):
    """Tab completion gives model.ckpt-200000.index or .data-00000-of-00001: both read it."""
    want = raw["ae_res_3/W"][0]
    for path in (f"{ckpt}.index", f"{ckpt}.data-00000-of-00001"):
        np.testing.assert_array_equal(load_magenta_weights(path).res_w[2], want, err_msg=READ_BACK)


def test_state_file_naming_another_machines_path_still_finds_the_checkpoint(tmp_path, raw):
    """A copied folder's state file may hold the absolute path it was saved under."""
    write_tf1_checkpoint(str(tmp_path / "model.ckpt-200000"), raw, None)
    state = 'model_checkpoint_path: "/home/someone/train/model.ckpt-200000"\n'
    (tmp_path / "checkpoint").write_text(state)
    w = load_magenta_weights(str(tmp_path))
    np.testing.assert_array_equal(w.bottleneck_b, raw["ae_bottleneck/biases"], err_msg=READ_BACK)
    # naming one that is not there (a partial copy) is an error, not some other checkpoint
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-250000"\n')
    with pytest.raises(CheckpointError, match="names model.ckpt-250000, which is not in"):
        load_magenta_weights(str(tmp_path))


def test_folder_without_state_file_reads_its_only_checkpoint(tmp_path, raw):
    """Copied without TensorFlow's `checkpoint` state file (the Saver writes one)."""
    write_tf1_checkpoint(str(tmp_path / "model.ckpt-5"), raw, None)
    (tmp_path / "checkpoint").unlink()
    w = load_magenta_weights(str(tmp_path))
    np.testing.assert_array_equal(w.start_w, raw["ae_startconv/W"][0], err_msg=READ_BACK)
    write_tf1_checkpoint(str(tmp_path / "model.ckpt-6"), raw, None)
    (tmp_path / "checkpoint").unlink()
    with pytest.raises(CheckpointError, match="a folder with 2 checkpoints in it"):
        load_magenta_weights(str(tmp_path))


def test_validate_refuses_a_missing_checkpoint_before_tensorflow_work(compose_config, tmp_path):
    from audiostyle.config.validation import validate

    missing = tmp_path / "wavenet-ckpt" / "model.ckpt-200000"
    with pytest.raises(CheckpointError, match="no checkpoint here"):
        validate(
            compose_config("experiment=nsynth", "encoder=magenta", f"encoder.checkpoint={missing}")
        )

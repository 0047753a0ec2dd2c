"""The tagger judge on the bundled clips: x_C heard as voice, x_S as its instrument, a mix between."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiostyle.clips.audio import resample
from audiostyle.judges import tagger

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "audiostyle" / "clips" / "examples"


@pytest.fixture(scope="module")
def clips() -> dict[str, np.ndarray]:
    flute = sf.read(EXAMPLES / "flute.wav", dtype="float32")[0]
    speech = sf.read(EXAMPLES / "speech.wav", dtype="float32")[0]
    speech = np.pad(speech, (0, len(flute) - len(speech)))
    return {"content": speech, "style": flute, "mix": 0.5 * speech + 0.5 * flute}


@pytest.fixture(scope="module")
def report(clips) -> tagger.TaggerReport:
    return tagger.tagger_report(clips, 16000)


def test_content_is_voice_style_is_its_instrument_the_mix_between(report):
    # measured: voice 0.222 / 0.009 / 0.159, flute 0.010 / 0.443 / 0.079 (content/style/mix)
    m = {k.removeprefix("eval/judge/tagger/"): v for k, v in report.metrics.items()}
    assert report.instrument == "flute"
    assert m["content/voice"] > 10 * m["style/voice"]
    assert m["style/instrument"] > 10 * m["content/instrument"]
    assert m["style/voice"] < m["mix/voice"] < m["content/voice"]
    assert m["content/instrument"] < m["mix/instrument"] < m["style/instrument"]
    assert set(m) == {
        f"{c}/{k}"
        for c in ("content", "style", "mix")
        for k in ("voice", "instrument", "toward_style")
    }


def test_toward_style_puts_the_mix_between_content_and_style(clips, report):
    _, e_c = tagger.listen(clips["content"], 16000, "content")
    _, e_s = tagger.listen(clips["style"], 16000, "style")
    apart = 1.0 - tagger.cosine(e_c, e_s)  # x_S's own toward_style; x_C's is -apart
    toward = report.metrics["eval/judge/tagger/mix/toward_style"]  # measured -0.30 within +-0.78
    assert -apart < toward < apart
    assert report.metrics["eval/judge/tagger/style/toward_style"] == pytest.approx(apart, abs=1e-5)
    assert report.metrics["eval/judge/tagger/content/toward_style"] == pytest.approx(
        -apart, abs=1e-5
    )


def test_top_tags_name_the_flute_and_a_woman(report):
    assert report.top_tags["style"][0][0] == "flute"
    assert {"female", "woman"} & {t for t, _ in report.top_tags["content"][:2]}
    assert all(len(tags) == 5 for tags in report.top_tags.values())


def test_another_rate_is_resampled_to_16k(clips):
    at_16k = tagger.listen(clips["style"], 16000, "style")[0]
    at_22k = tagger.listen(resample(clips["style"], 16000, 22050), 22050, "style")[0]
    np.testing.assert_allclose(at_22k, at_16k, atol=0.02)


def test_level_does_not_change_the_verdict(clips):
    quiet = tagger.listen(0.1 * clips["mix"], 16000, "mix")[0]
    loud = tagger.listen(clips["mix"], 16000, "mix")[0]
    np.testing.assert_allclose(quiet, loud, atol=1e-3)


def test_what_the_tagger_heard_is_kept_by_the_clips_digest(clips, tmp_path):
    """A kept clip's tags and embedding are written once under the cache folder and read back
    as written (a copy: equal to the bit) in a process that has not heard it; a damaged copy is
    heard again; an unkept clip (x_G) leaves no file."""
    x = clips["mix"][:32000]
    tagger.use_disk_cache(tmp_path)
    try:
        heard = tagger.listen(x, 16000, "mix", keep=True)
        (kept,) = tmp_path.glob("*.npz")
        tagger._heard.memory.clear()  # a new process: only the disk copy
        again = tagger.listen(x, 16000, "mix")
        np.testing.assert_array_equal(again[0], heard[0], "copied from disk, not recomputed")
        np.testing.assert_array_equal(again[1], heard[1], "copied from disk, not recomputed")
        kept.write_bytes(b"cut off")
        tagger._heard.memory.clear()
        recomputed = tagger.listen(x, 16000, "mix")
        np.testing.assert_allclose(recomputed[0], heard[0], atol=1e-5)
        tagger.listen(clips["style"][:32000], 16000, "generated")
        assert len(list(tmp_path.glob("*.npz"))) == 1
    finally:
        tagger.use_disk_cache(None)


def test_the_score_needs_both_the_instrument_and_the_words():
    """x_C (no instrument), a copy of x_S (no words) and the mix score 0 or near it; only a clip
    that moves toward x_S and keeps words scores above both shares' floor."""
    from audiostyle.judges.verdict import combined

    ends = {"eval/judge/ref_content/toward_style": -0.8, "eval/judge/ref_style/toward_style": 0.8}

    def score(toward: float, wer: float) -> dict:
        return combined({**ends, "eval/judge/toward_style": toward, "eval/judge/wer": wer}, "")

    x_c, x_s = score(-0.8, 0.0), score(0.8, 1.0)
    assert x_c["eval/judge/instrument_share"] == pytest.approx(0.0)
    assert x_s["eval/judge/instrument_share"] == pytest.approx(1.0)
    assert x_c["eval/judge/score"] == pytest.approx(0.0)
    assert x_s["eval/judge/score"] == pytest.approx(0.0)
    both = score(0.0, 0.5)  # halfway to x_S, half the words
    assert both["eval/judge/score"] == pytest.approx(0.5)
    assert score(0.4, 0.5)["eval/judge/score"] > both["eval/judge/score"]  # more instrument
    assert score(0.0, 2.0)["eval/judge/words_kept"] == 0.0  # more edits than words: none kept
    assert "eval/judge/score" not in combined({"eval/judge/wer": 0.5}, "")  # tagger left out


def test_a_judge_that_fails_is_a_note_and_the_others_still_speak(clips, monkeypatch):
    """A judge is a third-party model: its failure leaves the run's summary and report (and the
    other judge's figures), with the reason, not a lost run."""
    from audiostyle.config.schema import JudgeConfig
    from audiostyle.judges import verdict

    def broken(*args):
        raise RuntimeError("a checkpoint tensor of the wrong shape")

    monkeypatch.setattr(verdict, "_tagger", broken)
    x_c, x_s = clips["content"], clips["style"]
    said = verdict.judge(JudgeConfig(), x_c, x_c, x_s, 16000, {"spectral"})
    assert said.notes["tagger"] == "failed: RuntimeError: a checkpoint tensor of the wrong shape"
    assert said.metrics["eval/judge/wer"] == 0.0  # x_G = x_C: the speech judge still reads it
    assert "eval/judge/voice" not in said.metrics and "eval/judge/score" not in said.metrics


def test_a_sweep_on_the_judges_is_refused_when_the_loss_uses_the_tagger(compose_config):
    from audiostyle.config.validation import validate
    from audiostyle.errors import ConfigError

    judged = ("sweep=alpha_lr", "encoder=musicnn", "style_layers=musicnn_midend")
    validate(compose_config(*judged))  # MSD_musicnn's loss: the tagger judges it
    with pytest.raises(ConfigError, match="loss uses its network MTT_musicnn"):
        validate(compose_config(*judged, "encoder.musicnn_model=MTT_musicnn"))
    with pytest.raises(ConfigError, match="need judge.tagger=true"):
        validate(compose_config("sweep=alpha_lr", "judge.tagger=false"))

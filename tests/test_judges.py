"""The tagger judge on the bundled clips: x_C heard as voice, x_S as its instrument, a mix between."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiostyle.clips.audio import resample
from audiostyle.judges import tagger
from audiostyle.networks.musicnn_weights import INSTALL

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "audiostyle" / "clips" / "examples"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None, reason=INSTALL)


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
        f"{c}/{k}" for c in ("content", "style", "mix") for k in ("voice", "instrument")
    } | {"mix/toward_style"}


def test_toward_style_puts_the_mix_between_content_and_style(clips, report):
    _, e_c = tagger.listen(clips["content"], 16000, "content")
    _, e_s = tagger.listen(clips["style"], 16000, "style")
    apart = 1.0 - tagger.cosine(e_c, e_s)  # x_S's own toward_style; x_C's is -apart
    toward = report.metrics["eval/judge/tagger/mix/toward_style"]  # measured -0.30 within +-0.78
    assert -apart < toward < apart


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

"""The speech judge: pocketsphinx's word error rate of x_G against x_C's words."""

import numpy as np
import pytest

from audiostyle.clips.specs import load
from audiostyle.clips.synth import sine
from audiostyle.judges import speech
from audiostyle.judges.speech import speech_verdict, transcribe, word_error_rate


def test_word_error_rate_counts_edits_against_the_reference():
    ref = "weasels have eaten our phone system"
    assert word_error_rate(ref.upper() + ".", ref) == 0.0
    # we/weasels, still/have, had/eaten substituted, "beaten" inserted: 4 edits, 6 words
    assert word_error_rate("we still had beaten our phone system", ref) == pytest.approx(4 / 6)
    assert word_error_rate("weasels eaten our phone system", ref) == pytest.approx(1 / 6)
    assert word_error_rate("", ref) == 1.0


def test_recogniser_hears_the_bundled_speech_and_not_a_tone():
    speech = load("example:speech", 16000, None, 0.9, None)
    heard = transcribe(speech, 16000)
    assert "phone system" in heard, heard  # pocketsphinx's small model: the tail comes through
    assert word_error_rate(transcribe(sine(300.0, 32000, 16000), 16000), heard) >= 0.8


def test_the_verdict_scores_x_g_and_the_mix_against_x_cs_own_reading(tmp_path, monkeypatch):
    """No transcript: x_C's reading is the reference, so x_C itself is not scored; x_G = x_C
    scores 0 and a tone scores near 1."""
    monkeypatch.setattr(speech._heard, "folder", None)
    speech.use_disk_cache(tmp_path)
    x_c = load("example:speech", 16000, None, 0.9, None)
    tone = sine(300.0, len(x_c), 16000).astype(np.float32)
    same, heard = speech_verdict(x_c, x_c, 0.5 * (x_c + tone), 16000)
    assert same["eval/judge/wer"] == 0.0  # the same clip is read the same: no edit
    assert "eval/judge/ref_content/wer" not in same
    assert heard["reference"] == heard["content"]
    lost, _ = speech_verdict(tone, x_c, 0.5 * (x_c + tone), 16000)
    assert lost["eval/judge/wer"] >= 0.8
    assert lost["eval/judge/ref_mix/wer"] == same["eval/judge/ref_mix/wer"]  # the mix: one reading
    assert len(list(tmp_path.glob("*.json"))) == 2  # x_C's and the mix's readings, kept


def test_a_transcript_is_the_reference_and_scores_x_c_too():
    x_c = load("example:speech", 16000, None, 0.9, None)
    words = "weasels have eaten our phone system"
    rates, heard = speech_verdict(x_c, x_c, x_c, 16000, transcript=words)
    assert heard["reference"] == words
    expected = word_error_rate(heard["content"], words)
    assert rates["eval/judge/ref_content/wer"] == pytest.approx(expected)
    assert 0 < rates["eval/judge/ref_content/wer"] < 1  # pocketsphinx mishears some words

"""The optimiser: the learning-rate schedule against its formula, keep-best's output, and
descent: the default settings end below the loss they start from."""

import dataclasses
import math

import numpy as np
import pytest
import tensorflow as tf

from audiostyle.clips.inputs import load_inputs
from audiostyle.config.schema import OptimConfig, Schedule
from audiostyle.errors import ConfigError
from audiostyle.networks.encoder import build_network
from audiostyle.optimisation.transfer import learning_rate, run_transfer

from conftest import SPECTRAL, plain_config


def schedule_reference(lr: float, steps: int, warmup: float, final: float) -> np.ndarray:
    """Linear warm-up over round(warmup * steps) updates, then cosine from lr to final * lr."""
    warm = round(warmup * steps)
    rates = []
    for t in range(1, steps + 1):
        rise = min(1.0, t / warm) if warm else 1.0
        progress = min(max((t - warm) / max(steps - warm, 1), 0.0), 1.0)
        rates.append(lr * rise * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress))))
    return np.array(rates)


@pytest.mark.parametrize("steps,warmup,final", [(100, 0.1, 0.1), (7, 0.0, 0.0), (300, 0.25, 1.0)])
def test_warmup_cosine_follows_its_formula(steps, warmup, final):
    optim = OptimConfig(lr=0.01, steps=steps, schedule=Schedule.warmup_cosine)
    optim.warmup, optim.final_lr = warmup, final
    rates = np.array(
        [float(learning_rate(optim, tf.constant(float(t)))) for t in range(1, steps + 1)]
    )
    np.testing.assert_allclose(rates, schedule_reference(0.01, steps, warmup, final), rtol=1e-5)
    assert rates.max() <= 0.01 * (1 + 1e-6)
    assert rates[-1] == pytest.approx(0.01 * final, rel=1e-4, abs=1e-9)
    if warmup:  # rising, not at the full rate from the first update; full at the warm-up's end
        assert rates[0] < rates[1] < 0.01
        assert rates[round(warmup * steps) - 1] == pytest.approx(0.01, rel=1e-5)


def test_the_constant_schedule_is_the_learning_rate():
    optim = OptimConfig(lr=0.003, steps=10)
    assert float(learning_rate(optim, tf.constant(5.0))) == pytest.approx(0.003)


def test_keep_best_outputs_the_lowest_loss_iterate():
    """A learning rate far too high makes the loss climb after the start, then dip below it
    at more than one iterate (measured: x_G(4) 0.190 and x_G(5) 0.184 against 0.221 at the
    start, 0.204 at the last): the output is x_G(5), the lowest of all, not the last one
    nor the first below the start. Each iterate's loss is evaluated afresh from its
    snapshot, so neither the history nor output_step is taken on trust."""
    from audiostyle.optimisation.transfer import build_objective

    steps = 6
    cfg = plain_config(
        SPECTRAL,
        {"optim.steps": steps, "optim.lr": 0.5, "optim.keep_best": True},
        {"snapshots": list(range(steps + 1)), "init.source": "content"},
    )
    rng = np.random.default_rng(1)
    content, style = (0.3 * rng.normal(size=(2, 1024))).astype(np.float32)
    network = build_network(cfg)
    waves = {}
    result = run_transfer(
        cfg, network, content, style, on_snapshot=lambda i, w: waves.update({i: w})
    )
    objective = build_objective(cfg, network)
    objective.set_targets(tf.constant(content[None]), tf.constant(style[None]))

    def loss(wave: np.ndarray) -> float:
        return float(objective(tf.constant(wave[None])).total)

    assert sorted(waves) == list(range(steps + 1))
    totals = np.array([loss(waves[i]) for i in range(steps + 1)])
    np.testing.assert_allclose(result.history["total"], totals, rtol=1e-4)
    best = int(np.argmin(totals))
    below = np.flatnonzero(totals < totals[0])
    assert len(below) >= 2 and below[0] != best != steps  # first dip, lowest and last differ
    others = np.delete(totals, best)
    assert totals[best] < 0.99 * others.min()  # the lowest by a margin the checks resolve
    assert result.output_step == best
    assert loss(result.output) == pytest.approx(totals[best], rel=1e-4)
    np.testing.assert_allclose(result.output, waves[best], rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "option,message",
    [("optim.warmup=1", "optim.warmup must be"), ("optim.final_lr=-0.1", "optim.final_lr must be")],
)
def test_schedule_values_out_of_range_are_refused(compose_config, option, message):
    from audiostyle.config.validation import validate

    with pytest.raises(ConfigError, match=message):
        validate(compose_config(option))


@pytest.mark.parametrize(
    "pair",
    [("example:speech", "example:flute"), ("tone:220", "tone:660")],
    ids=["bundled clips", "tone pair"],
)
def test_the_default_optimiser_ends_below_where_it_starts(compose_config, pair):
    """The default network and optimiser, only shorter: the output's loss is below x_G(0)'s,
    and the first tenth of the steps climbs less than at a constant rate (which climbed to 44x
    the start on the bundled clips: docs/defaults.md)."""
    content, style = pair
    runs = {}
    for schedule in ("warmup_cosine", "constant"):
        cfg = compose_config(
            f"audio.content={content}", f"audio.style={style}", "audio.duration=0.5",
            "optim.steps=60", "snapshots=null", f"optim.schedule={schedule}", tiny=False,
        )  # fmt: skip
        inputs = load_inputs(cfg)
        runs[schedule] = run_transfer(cfg, build_network(cfg), inputs.content, inputs.style)
    default = runs["warmup_cosine"]
    totals = default.history["total"]
    assert cfg.optim.keep_best
    assert totals[default.output_step] < totals[0]
    assert max(totals[:7]) <= max(runs["constant"].history["total"][:7])


def lbfgs_config(**settings: object):
    return plain_config(
        SPECTRAL,
        {"optim.method": "lbfgs", "optim.keep_best": True, "runtime.xla": False},
        {"audio.duration": 0.5, "optim.steps": 15, "snapshots": [0, 5, 15], **settings},
    )


def transfer_with_snapshots(cfg, inputs):
    """A run's result and its snapshots' waveforms by iteration."""
    waves = {}
    result = run_transfer(
        cfg,
        build_network(cfg),
        inputs.content,
        inputs.style,
        on_snapshot=lambda i, w: waves.update({i: w}),
    )
    return result, waves


@pytest.mark.parametrize(
    "pair",
    [("example:speech", "example:flute"), ("tone:220", "tone:660")],
    ids=["bundled clips", "tone pair"],
)
def test_lbfgs_never_climbs_and_ends_below_its_start(pair):
    """Its line search accepts only steps that lower the loss: every iterate's loss is at or
    below the one before, the output's below x_G(0)'s; each snapshot is the iterate whose loss
    the history holds."""
    cfg = lbfgs_config(**{"audio.content": pair[0], "audio.style": pair[1]})
    inputs = load_inputs(cfg)
    result, waves = transfer_with_snapshots(cfg, inputs)
    totals = np.array(result.history["total"])
    assert len(totals) == cfg.optim.steps + 1
    assert np.all(np.diff(totals) <= 0)
    assert totals[-1] < totals[0]
    assert result.evaluations >= cfg.optim.steps  # one evaluation an iteration at least
    from audiostyle.optimisation.start import melody_octaves
    from audiostyle.optimisation.transfer import build_objective

    # the run's harmonic term asks for x_S's profile where x_G(0) plays: x_S's register
    octaves = melody_octaves(cfg, inputs.content, inputs.style)
    objective = build_objective(cfg, build_network(cfg), octaves)
    objective.set_targets(tf.constant(inputs.content[None]), tf.constant(inputs.style[None]))
    for i, wave in waves.items():
        assert float(objective(tf.constant(wave[None])).total) == pytest.approx(totals[i], rel=1e-5)
    np.testing.assert_array_equal(result.output, waves[15], err_msg="x_G(15)'s samples, copied")


def test_lbfgs_that_stops_early_holds_x_g_for_the_remaining_rows(monkeypatch):
    """scipy stops after 6 of optim.steps=15 iterations (its iteration limit cut to 6: where it
    stops by itself, at the loss floor, is float32 round-off's choice, after 34 to more than 40
    iterations of x_C as both clips on one CPU as its threads and oneDNN vary); the rows after
    x_G(6) repeat its figures, and x_G(15)'s snapshot and the output are x_G(6)."""
    from scipy.optimize import minimize

    def six_iterations(*args, options, **kwargs):
        return minimize(*args, options={**options, "maxiter": 6}, **kwargs)

    monkeypatch.setattr("audiostyle.optimisation.lbfgs.minimize", six_iterations)
    cfg = lbfgs_config(**{"audio.content": "tone:220", "audio.style": "tone:660"})
    cfg = dataclasses.replace(cfg, snapshots=[0, 6, 15])
    result, waves = transfer_with_snapshots(cfg, load_inputs(cfg))
    totals = result.history["total"]
    assert len(totals) == 16 and totals[6] < totals[5] < totals[0]  # still falling at the stop
    held = "the rows after the stop are x_G(6)'s figures copied, not evaluated again: to the bit"
    for key in ("total", "content", "style", "grad_norm"):
        assert result.history[key][7:] == [result.history[key][6]] * 9, (key, held)
    assert result.output_step == 6
    copied = "x_G(6)'s own samples (the waveform domain's variable), copied: to the bit"
    np.testing.assert_array_equal(waves[15], waves[6], err_msg=copied)
    np.testing.assert_array_equal(result.output, waves[6], err_msg=copied)
    assert not np.array_equal(waves[6], waves[0])


def test_an_unknown_optimiser_is_refused_by_the_schema(compose_config):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="optim.method=sgd"):
        compose_config("optim.method=sgd")

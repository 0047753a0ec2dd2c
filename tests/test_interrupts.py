"""Ctrl-C and SIGTERM are held during database writes and delivered right after."""

import os
import signal
import sys

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from audiostyle import interrupts
from audiostyle.config.schema import TrackingConfig
from audiostyle.interrupts import held, raise_interrupt, uninterrupted


@pytest.fixture(autouse=True)
def ctrl_c_raises():
    """Python's own Ctrl-C handler, as in a terminal (a background job's SIGINT is ignored)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def interrupt_me(signum: int = signal.SIGINT) -> None:
    os.kill(os.getpid(), signum)


def test_a_held_interrupt_lets_the_block_finish_then_raises():
    done = []
    with pytest.raises(KeyboardInterrupt), held():
        interrupt_me()
        done.append("the write after the signal")
    assert done == ["the write after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_sigterm_is_held_too_and_reaches_its_own_handler():
    before = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        done = []
        with pytest.raises(KeyboardInterrupt, match="signal 15"), held():
            interrupt_me(signal.SIGTERM)
            done.append(1)
        assert done == [1]
    finally:
        signal.signal(signal.SIGTERM, before)


def test_nested_blocks_deliver_once_at_the_outermost_end():
    steps = []
    with pytest.raises(KeyboardInterrupt), held():
        with held():
            interrupt_me()
            steps.append("inner")
        steps.append("after inner")  # the inner block's end must not raise
    assert steps == ["inner", "after inner"]


def test_an_ignored_signal_stays_ignored():
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with held():
            interrupt_me()
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.fixture
def discarded_interrupts_kept():
    """interrupts.install(), as run.py calls it, undone afterwards."""
    hook, term = sys.unraisablehook, signal.getsignal(signal.SIGTERM)
    interrupts.install()
    yield
    sys.unraisablehook = hook
    signal.signal(signal.SIGTERM, term)


class InterruptedFinaliser:
    """Ctrl-C while the garbage collector runs a finaliser, as it runs SQLAlchemy's."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)  # its KeyboardInterrupt is raised here, and discarded


def ctrl_c_during_a_finaliser() -> None:
    finaliser = InterruptedFinaliser()
    del finaliser  # Python prints "Exception ignored in ..." and goes on


def test_a_ctrl_c_discarded_in_a_finaliser_is_raised_at_the_next_check(
    discarded_interrupts_kept, capsys, caplog
):
    ctrl_c_during_a_finaliser()  # without install(), this Ctrl-C was lost: the run went on
    with caplog.at_level("INFO"), pytest.raises(KeyboardInterrupt):
        interrupts.check()
    interrupts.check()  # raised once: nothing is left pending
    assert "Exception ignored" not in capsys.readouterr().err  # it was not ignored
    assert "arrived in a finaliser" in caplog.text  # the run's log says why it stopped there


def test_other_discarded_errors_are_still_reported(discarded_interrupts_kept, monkeypatch):
    class Broken:
        def __del__(self):
            raise RuntimeError("a finaliser's own bug")

    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)  # the hook install() finds
    interrupts.install()
    broken = Broken()
    del broken
    ctrl_c_during_a_finaliser()
    assert [str(r.exc_value) for r in reported] == ["a finaliser's own bug"]  # not the Ctrl-C
    with pytest.raises(KeyboardInterrupt):
        interrupts.check()


def test_a_transfer_stops_at_its_first_step_after_a_discarded_ctrl_c(
    discarded_interrupts_kept, compose_config
):
    from audiostyle.networks.encoder import build_network
    from audiostyle.optimisation.transfer import run_transfer

    cfg = compose_config("optim.steps=3", "snapshots=[0]")
    network = build_network(cfg)  # loading and building: where the garbage collector ran
    ctrl_c_during_a_finaliser()
    steps = []
    clip = np.full(1024, 0.1, np.float32)
    with pytest.raises(KeyboardInterrupt):
        run_transfer(cfg, network, clip, clip, on_step=steps.append)
    assert steps == []
    result = run_transfer(cfg, network, clip, clip, on_step=steps.append)  # the next one runs
    assert [s.step for s in steps] == [0, 1, 2, 3] and result.output.shape == clip.shape


def test_without_a_signal_nothing_happens_and_results_pass_through():
    @uninterrupted
    def add(a: int, b: int) -> int:
        return a + b

    assert add(2, 3) == 5
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interrupt_during_a_tracker_write_leaves_a_usable_store(tmp_path):
    """The failure this guards against: Ctrl-C inside MLflow's SQLite transaction locked the
    store, and ending the run KILLED then failed with 'database is locked'."""
    from audiostyle.run.tracking import MlflowTracker

    tracker = MlflowTracker(TrackingConfig(), tmp_path, "exp")
    tracker.start("run", {"p": "1"}, {"t": "x"})
    with pytest.raises(KeyboardInterrupt), held():
        interrupt_me()
        tracker.log_metrics({"loss": 1.0}, step=0)
        tracker.flush()  # a write that a bare Ctrl-C would have cut
    tracker.end("KILLED")
    run = MlflowClient(tracker.uri).get_run(tracker.run_id)
    assert run.info.status == "KILLED"
    assert run.data.metrics["loss"] == 1.0


@pytest.mark.parametrize(
    "signum, status, final",
    [
        (signal.SIGINT, "FINISHED", "KILLED"),
        (signal.SIGTERM, "FINISHED", "KILLED"),
        (signal.SIGTERM, "FAILED", "FAILED"),  # the run had failed already: it says why
    ],
    ids=["SIGINT", "SIGTERM", "SIGTERM-after-failure"],
)
def test_an_interrupt_during_the_final_upload_still_ends_the_run(tmp_path, signum, status, final):
    """Ctrl-C or a scheduler's SIGTERM while the run folder uploads: the run ends, not RUNNING,
    the file being uploaded is complete, and the interrupt then takes effect."""
    from audiostyle.run.tracked import end_tracker
    from audiostyle.run.tracking import MlflowTracker

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (run_dir / name).write_text(name)
    tracker = MlflowTracker(TrackingConfig(), tmp_path, "exp")
    tracker.start("run", {}, {})
    upload = tracker.client.log_artifact

    def upload_while_interrupted(*args, **kwargs):
        interrupt_me(signum)  # arrives while the first file is on its way
        return upload(*args, **kwargs)

    tracker.client.log_artifact = upload_while_interrupted
    before = signal.signal(signal.SIGTERM, raise_interrupt)  # as run.py and reproduce install
    try:
        with pytest.raises(KeyboardInterrupt):
            end_tracker(
                tracker,
                run_dir,
                status,
                "NumericalError: loss is NaN" if final == "FAILED" else None,
            )
    finally:
        signal.signal(signal.SIGTERM, before)
    client = MlflowClient(tracker.uri)
    run = client.get_run(tracker.run_id)
    assert run.info.status == final
    assert [a.path for a in client.list_artifacts(tracker.run_id)] == ["a.txt"]

"""Ctrl-C and SIGTERM: both end a run as KILLED, but never in the middle of a database write.

A KeyboardInterrupt raised inside SQLAlchemy's transaction on a SQLite file (MLflow's store,
Optuna's study) leaves the file locked for the rest of the process: the clean-up that follows
(ending the run KILLED, failing the trial) then waits 20 s and fails with "database is locked",
and the run stays RUNNING for ever. So writes hold the signal and take it right after.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_depth = 0  # nesting of held() blocks in the main thread

P = ParamSpec("P")
R = TypeVar("R")


def raise_interrupt(signum: int, frame: object) -> None:
    """SIGTERM's handler: a scheduler's stop ends a run or sweep exactly like Ctrl-C."""
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the block, then deliver them to their own handlers."""
    global _depth
    if threading.current_thread() is not threading.main_thread() or _depth:
        yield  # only the main thread receives signals; an outer block already holds them
        return
    caught: list[int] = []
    previous = {s: signal.getsignal(s) for s in HELD_SIGNALS}
    previous = {s: h for s, h in previous.items() if h is not None}  # None: set outside Python
    for s in previous:
        signal.signal(s, lambda signum, frame: caught.append(signum))
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        for s, handler in previous.items():
            signal.signal(s, handler)
        for signum in dict.fromkeys(caught):  # each once, in arrival order
            signal.raise_signal(signum)


def uninterrupted(fn: Callable[P, R]) -> Callable[P, R]:
    """Run `fn` with interrupts held (for functions that write to a database)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with held():
            return fn(*args, **kwargs)

    return wrapper

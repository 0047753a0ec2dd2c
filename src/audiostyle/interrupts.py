"""Ctrl-C and SIGTERM: both end a run as KILLED, but never in the middle of a database write.

A KeyboardInterrupt raised inside SQLAlchemy's transaction on a SQLite file (MLflow's store,
Optuna's study) leaves the file locked for the rest of the process: the clean-up that follows
(ending the run KILLED, failing the trial) then waits 20 s and fails with "database is locked",
and the run stays RUNNING for ever. So writes hold the signal and take it right after.

Python also discards an exception raised inside a finaliser or a weakref callback (it prints
"Exception ignored in ..."): a signal handled while the garbage collector ran one of
SQLAlchemy's was lost, and the run went on. `install` keeps such an interrupt, and `check`
raises it at the next safe point: each optimisation step, each round of a sweep.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_depth = 0  # nesting of held() blocks in the main thread
_discarded: list[str] = []  # interrupts Python discarded, not yet raised again by check()
_next_hook = sys.unraisablehook  # the hook install() replaced: it still reports everything

P = ParamSpec("P")
R = TypeVar("R")


def raise_interrupt(signum: int, frame: object) -> None:
    """SIGTERM's handler: a scheduler's stop ends a run or sweep exactly like Ctrl-C."""
    raise KeyboardInterrupt(f"signal {signum}")


def keep_discarded_interrupts(unraisable: sys.UnraisableHookArgs) -> None:
    """sys.unraisablehook: a discarded KeyboardInterrupt is kept for `check` (no "Exception
    ignored" traceback: it is not ignored); anything else is reported as before."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        _discarded.append(str(unraisable.exc_value))
    else:
        _next_hook(unraisable)


def install() -> None:
    """For a command's main thread: SIGTERM ends a run or sweep like Ctrl-C, and an interrupt
    that Python discarded is kept for `check`."""
    global _next_hook
    signal.signal(signal.SIGTERM, raise_interrupt)
    if sys.unraisablehook is not keep_discarded_interrupts:
        _next_hook, sys.unraisablehook = sys.unraisablehook, keep_discarded_interrupts


def check() -> None:
    """Raise again an interrupt that Python discarded (see the module's docstring)."""
    if _discarded:
        message = _discarded[0] or "interrupted while Python ran a finaliser"
        _discarded.clear()
        logging.getLogger("audiostyle").info("taking the interrupt that arrived in a finaliser")
        raise KeyboardInterrupt(message)


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

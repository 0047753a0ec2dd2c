"""A run's phases: a status line as each starts, and its wall time.

Before the first step a run reads its clips, starts TensorFlow, tracks x_C's pitch (pyin, which
numba compiles on first use) and compiles the step: tens of seconds that a progress bar would
otherwise sit through at 0 with no word. Each phase says what it does as it starts, and its
seconds go to summary.json and MLflow as `time/<name>`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext

log = logging.getLogger(__name__)


class PhaseTimes:
    """Wall seconds per phase, summed when a phase is entered more than once. `around` wraps
    the named phases' blocks (the runner's: native log lines filtered while the step compiles),
    so the science that enters a phase needs to know nothing of it."""

    def __init__(
        self, around: Mapping[str, Callable[[], AbstractContextManager]] | None = None
    ) -> None:
        self.seconds: dict[str, float] = {}
        self.around = dict(around or {})

    @contextmanager
    def phase(self, name: str, doing: str) -> Iterator[None]:
        """Log `doing` now; add the block's wall time to `name`, even if it raises."""
        log.info("%s ...", doing)
        start = time.perf_counter()
        try:
            with self.around.get(name, nullcontext)():
                yield
        finally:
            self.add(name, time.perf_counter() - start)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def metrics(self) -> dict[str, float]:
        return {f"time/{name}": seconds for name, seconds in self.seconds.items()}

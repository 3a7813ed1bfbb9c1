"""Progress pacing: a throttle for reports, a meter for photos/s and time left (Qt-free)."""
from __future__ import annotations

import time
from typing import Callable

PROGRESS_INTERVAL_S = 0.1


class Throttle:
    """Lets a progress report through at most every INTERVAL seconds, but always the first
    one of a stage and the last one (done == total), so a bar never sticks short of 100%."""

    def __init__(self, interval: float = PROGRESS_INTERVAL_S, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self.clock = clock
        self._last = -1e9
        self._stage: str | None = None

    def ready(self, done: int, total: int, stage: str) -> bool:
        now = self.clock()
        if stage != self._stage or (total and done >= total) or now - self._last >= self.interval:
            self._stage = stage
            self._last = now
            return True
        return False


class RateMeter:
    """photos/s and seconds left for the current stage, measured since the stage began."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._stage: str | None = None
        self._t0 = 0.0
        self._done0 = 0

    def update(self, done: int, total: int, stage: str) -> tuple[float | None, float | None]:
        now = self.clock()
        if stage != self._stage or done < self._done0:
            self._stage, self._t0, self._done0 = stage, now, done
            return None, None
        elapsed = now - self._t0
        if elapsed < 1.0 or done - self._done0 < 2:  # too early: the first batch includes start-up
            return None, None
        rate = (done - self._done0) / elapsed
        left = (total - done) / rate if total > done else 0.0
        return rate, left

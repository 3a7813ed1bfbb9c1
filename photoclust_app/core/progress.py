"""The progress/cancel contract every long core task follows.

A task takes ``progress(done, total, stage)`` and ``cancel()`` -> bool, calls progress
as often as it likes (callers throttle), and checks cancel between batches, raising
``Cancelled`` after keeping the work done so far.
"""
from __future__ import annotations

from typing import Callable

from photoclust_app.core.errors import Cancelled

ProgressFn = Callable[[int, int, str], None]
CancelFn = Callable[[], bool]


def no_progress(done: int, total: int, stage: str) -> None:
    """Default progress sink."""


def never_cancel() -> bool:
    return False


def check_cancel(cancel: CancelFn | None) -> None:
    if cancel is not None and cancel():
        raise Cancelled("Cancelled; the work done so far is kept.")

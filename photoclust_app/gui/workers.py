"""Run long core tasks off the GUI thread: one QThread per task, throttled progress, cancel.

A job is a plain function ``job(ctx) -> result`` run in the worker thread. It reports through
``ctx.progress(done, total, stage)`` (passed straight to core functions, throttled here to
~10 Hz), checks ``ctx.cancelled()`` (also passed to core functions as their cancel), and may
hand over partial results with ``ctx.partial(kind, payload)``. Results reach the GUI thread
as queued signals. UMAP/HDBSCAN fits cannot be interrupted mid-fit, so a cancel that arrives
during one discards its result instead (the job checks ``ctx.check_cancel()`` afterwards).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from photoclust_app.core.errors import Cancelled, PhotoclustError
from photoclust_app.gui.gui_thread import call_in_gui, deliver_pending

log = logging.getLogger(__name__)

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


class TaskContext:
    """What a job sees in the worker thread."""

    def __init__(self, worker: "_Worker"):
        self._worker = worker
        self._throttle = Throttle()

    def progress(self, done: int, total: int, stage: str) -> None:
        if self._throttle.ready(done, total, stage):
            call_in_gui(self._worker.progress.emit, int(done), int(total), str(stage))

    def cancelled(self) -> bool:
        return self._worker.cancel_event.is_set()

    def check_cancel(self) -> None:
        if self.cancelled():
            raise Cancelled("Cancelled; the work done so far is kept.")

    def partial(self, kind: str, payload: Any = None) -> None:
        call_in_gui(self._worker.partial.emit, kind, payload)


class _Worker(QObject):
    progress = Signal(int, int, str)
    partial = Signal(str, object)
    done = Signal(str, object)  # outcome ("finished" | "cancelled" | "failed"), result or message

    def __init__(self, job: Callable[[TaskContext], Any]):
        super().__init__()
        self.job = job
        self.cancel_event = threading.Event()

    @Slot()
    def run(self) -> None:
        try:
            self._run()
        finally:
            QThread.currentThread().quit()  # so TaskRunner.wait() returns without the GUI loop

    def _run(self) -> None:
        ctx = TaskContext(self)
        try:
            result = self.job(ctx)
        except Cancelled:
            call_in_gui(self.done.emit, "cancelled", None)
        except PhotoclustError as err:
            log.warning("Task failed: %s", err)
            call_in_gui(self.done.emit, "failed", str(err))
        except Exception as err:  # a bug: log it in full, tell the user in a sentence
            log.exception("Task crashed")
            call_in_gui(self.done.emit, "failed", f"Something went wrong ({type(err).__name__}: {err}). Details are in the log.")
        else:
            if self.cancel_event.is_set():  # an uninterruptible step finished after cancel: discard
                call_in_gui(self.done.emit, "cancelled", None)
            else:
                call_in_gui(self.done.emit, "finished", result)


class TaskRunner(QObject):
    """Runs one named job at a time in its own QThread; signals arrive on the GUI thread."""

    started = Signal(str)
    progress = Signal(int, int, str)
    partial = Signal(str, object)
    finished = Signal(str, object)   # task name, result
    cancelled = Signal(str)
    failed = Signal(str, str)        # task name, sentence
    idle = Signal()                  # after any of the three above

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self.name = ""

    def is_running(self) -> bool:
        return self._thread is not None

    @property
    def cancel_requested(self) -> bool:
        return self._worker is not None and self._worker.cancel_event.is_set()

    def start(self, name: str, job: Callable[[TaskContext], Any]) -> bool:
        """Start JOB unless another one is running (returns False then)."""
        if self._thread is not None:
            return False
        self.name = name
        thread = QThread()
        thread.setObjectName(f"photoclust-{name}")
        worker = _Worker(job)
        worker.moveToThread(thread)
        worker.progress.connect(self.progress)
        worker.partial.connect(self._on_partial)
        worker.done.connect(self._on_done)
        thread.started.connect(worker.run)
        self._thread, self._worker = thread, worker
        thread.start()
        self.started.emit(name)
        return True

    def cancel(self) -> None:
        if self._worker is not None:
            log.info("Cancelling %s", self.name)
            self._worker.cancel_event.set()

    def wait(self, msecs: int) -> bool:
        """Block until the task's thread ends (True, with its last signals delivered) or
        MSECS pass (False)."""
        if self._thread is None:
            return True
        if not self._thread.wait(msecs):
            return False
        deliver_pending()  # deliver what the worker sent, in order
        QCoreApplication.sendPostedEvents(self, 0)
        return True

    @Slot(str, object)
    def _on_partial(self, kind: str, payload: object) -> None:
        self.partial.emit(kind, payload)

    @Slot(str, object)
    def _on_done(self, outcome: str, payload: object) -> None:
        thread, name = self._thread, self.name
        self._thread, self._worker = None, None
        if thread is not None:
            thread.quit()
            thread.wait()
            thread.deleteLater()
        if outcome == "finished":
            self.finished.emit(name, payload)
        elif outcome == "cancelled":
            self.cancelled.emit(name)
        else:
            self.failed.emit(name, str(payload))
        self.idle.emit()

"""The task runner: one job at a time per runner, in a Python worker thread.

A job is a plain function ``job(ctx) -> result`` run in the worker thread. It reports through
``ctx.progress(done, total, stage)`` (passed straight to core functions, throttled here to
~10 Hz), checks ``ctx.cancelled()`` (also passed to core functions as their cancel), and may
hand over partial results with ``ctx.partial(kind, payload)``. Everything reaches the GUI
thread in order, through ``call_in_gui``, and is announced there by the runner's signals; the
worker itself never emits a Qt signal and never touches a Qt object (see gui_thread.py for
the deadlock that rules out). UMAP/HDBSCAN fits cannot be interrupted mid-fit, so a cancel
that arrives during one discards its result instead (the job checks ``ctx.check_cancel()``
afterwards, and a result that comes back after a cancel is dropped unless the task was
started with ``discard_if_cancelled=False``).

Errors become sentences: ``describe(err)`` (``error_sentence`` unless the runner was given
another) runs in the worker and its text is what ``failed`` carries; a ``Cancelled`` error's
own text is what ``cancelled`` carries.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

from photoclust_app.core.errors import Cancelled, PhotoclustError
from photoclust_app.gui.tasks.gui_thread import call_in_gui, deliver_pending, prepare
from photoclust_app.gui.tasks.rates import Throttle

log = logging.getLogger(__name__)

CANCELLED = "Cancelled; the work done so far is kept."
Job = Callable[["TaskContext"], Any]


def error_sentence(err: BaseException, what: str = "The task") -> str:
    """What the user reads for ERR: our own errors say it themselves; an OSError names the
    file; anything else is a bug, announced as such (the log has the traceback)."""
    if isinstance(err, PhotoclustError) and str(err):
        return str(err)
    if isinstance(err, OSError):
        where = f" ({err.filename})" if err.filename else ""
        return f"{what} could not go on: {err.strerror or err}{where}."
    return f"Something went wrong ({type(err).__name__}: {err}). Details are in the log."


class _Task:
    def __init__(self, name: str, job: Job, discard_if_cancelled: bool):
        self.name = name
        self.job = job
        self.discard_if_cancelled = discard_if_cancelled
        self.cancel_event = threading.Event()
        self.thread: threading.Thread | None = None


class TaskContext:
    """What a job sees in the worker thread."""

    def __init__(self, runner: "TaskRunner", task: _Task):
        self._runner = runner
        self._task = task
        self._throttle = Throttle()

    def progress(self, done: int, total: int, stage: str) -> None:
        if self._throttle.ready(done, total, stage):
            call_in_gui(self._runner._deliver_progress, self._task, int(done), int(total), str(stage))

    def cancelled(self) -> bool:
        return self._task.cancel_event.is_set()

    def check_cancel(self) -> None:
        if self.cancelled():
            raise Cancelled(CANCELLED)

    def partial(self, kind: str, payload: Any = None) -> None:
        call_in_gui(self._runner._deliver_partial, self._task, kind, payload)


class TaskRunner(QObject):
    """Runs one named job at a time in a worker thread; every signal is emitted on the GUI
    thread. Several runners may run at once (one per window, one per dialog)."""

    progress = Signal(int, int, str)
    partial = Signal(str, object)
    finished = Signal(str, object)   # task name, result
    cancelled = Signal(str, str)     # task name, sentence
    failed = Signal(str, str)        # task name, sentence
    idle = Signal()                  # after any of the three above

    def __init__(self, parent: QObject | None = None, *, describe: Callable[[BaseException], str] = error_sentence):
        super().__init__(parent)
        prepare()
        self._describe = describe
        self._task: _Task | None = None
        self.name = ""

    def is_running(self) -> bool:
        return self._task is not None

    @property
    def cancel_requested(self) -> bool:
        return self._task is not None and self._task.cancel_event.is_set()

    def start(self, name: str, job: Job, *, discard_if_cancelled: bool = True) -> bool:
        """Start JOB unless another one is running (returns False then)."""
        if self._task is not None:
            return False
        task = _Task(name, job, discard_if_cancelled)
        task.thread = threading.Thread(target=self._run, args=(task,), name=f"photoclust-{name}", daemon=True)
        self._task, self.name = task, name
        task.thread.start()
        return True

    def cancel(self) -> None:
        if self._task is not None and not self._task.cancel_event.is_set():
            log.info("Cancelling %s", self._task.name)
            self._task.cancel_event.set()

    def wait(self, msecs: int) -> bool:
        """Block until the task's thread ends (True, with everything it sent delivered) or
        MSECS pass (False). Negative MSECS: no limit."""
        task = self._task
        if task is None:
            return True
        task.thread.join(None if msecs < 0 else msecs / 1000)
        if task.thread.is_alive():
            return False
        deliver_pending()  # what the worker sent, in order, ending with its outcome
        return True

    # -- worker thread ---------------------------------------------------------------------
    def _run(self, task: _Task) -> None:
        ctx = TaskContext(self, task)
        try:
            result = task.job(ctx)
        except Cancelled as err:
            outcome, payload = "cancelled", str(err) or CANCELLED
        except BaseException as err:  # noqa: BLE001 - every failure becomes a sentence
            if isinstance(err, (PhotoclustError, OSError)):
                log.warning("Task %s failed: %s", task.name, err)
            else:  # a bug: log it in full, tell the user in a sentence
                log.exception("Task %s crashed", task.name)
            try:
                outcome, payload = "failed", self._describe(err)
            except Exception:
                log.exception("describing the error of task %s failed", task.name)
                outcome, payload = "failed", error_sentence(err)
        else:
            if task.cancel_event.is_set() and task.discard_if_cancelled:
                outcome, payload = "cancelled", CANCELLED   # an uninterruptible step ended after cancel
            else:
                outcome, payload = "finished", result
        call_in_gui(self._deliver_done, task, outcome, payload)

    # -- GUI thread --------------------------------------------------------------------------
    def _deliver_progress(self, task: _Task, done: int, total: int, stage: str) -> None:
        if task is self._task:
            self.progress.emit(done, total, stage)

    def _deliver_partial(self, task: _Task, kind: str, payload: Any) -> None:
        if task is self._task:
            self.partial.emit(kind, payload)

    def _deliver_done(self, task: _Task, outcome: str, payload: Any) -> None:
        if task is not self._task:
            return
        self._task = None   # before the signals, so a slot may start the next task
        if outcome == "finished":
            self.finished.emit(task.name, payload)
        elif outcome == "cancelled":
            self.cancelled.emit(task.name, str(payload))
        else:
            self.failed.emit(task.name, str(payload))
        self.idle.emit()

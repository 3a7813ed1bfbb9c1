"""Hand results from worker threads to the GUI thread without emitting Qt signals there.

PySide6 can deadlock when a worker thread emits a signal (it holds the GIL and waits for
Qt's signal-slot mutex) while the GUI thread connects or disconnects (it holds that mutex
and calls a Python override, which waits for the GIL). Seen here with 6.11.3: the test
suite hung in QObject::disconnect under load. Posting an event takes only the event-queue
mutex, which the GUI thread never holds while it needs the GIL; the signal is then
emitted in the GUI thread, where every connection is direct.
"""
from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QThread

log = logging.getLogger(__name__)

_EVENT = QEvent.Type(QEvent.registerEventType())
_lock = threading.Lock()
_dispatcher: "_Dispatcher | None" = None


class _Dispatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.calls: queue.SimpleQueue = queue.SimpleQueue()

    def customEvent(self, event) -> None:  # noqa: N802 (Qt name)
        while True:
            try:
                fn, args = self.calls.get_nowait()
            except queue.Empty:
                return
            try:
                fn(*args)
            except RuntimeError as err:  # the receiver was deleted meanwhile (window closed)
                log.debug("dropped a call to a deleted object: %s", err)
            except Exception:
                log.exception("a call handed to the GUI thread failed")


def _get() -> _Dispatcher:
    global _dispatcher
    with _lock:
        if _dispatcher is None:
            app = QCoreApplication.instance()
            d = _Dispatcher()
            if app is not None and d.thread() is not app.thread():
                d.moveToThread(app.thread())
            _dispatcher = d
        return _dispatcher


def prepare() -> None:
    """Make the dispatcher now, on the GUI thread (runners and loaders call this when they
    are made), so no worker ever creates a QObject."""
    _get()


def call_in_gui(fn: Callable[..., Any], *args: Any) -> None:
    """Run fn(*args) in the GUI thread: now when called there (inline thread pools in
    tests), else soon, in order of calls; safe from any thread."""
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is app.thread():
        fn(*args)
        return
    d = _get()
    d.calls.put((fn, args))
    QCoreApplication.postEvent(d, QEvent(_EVENT))


def deliver_pending() -> None:
    """Run every call handed over so far, now (GUI thread only): for a caller that has
    joined a worker and wants its last results before going on."""
    if _dispatcher is not None:
        _dispatcher.customEvent(None)

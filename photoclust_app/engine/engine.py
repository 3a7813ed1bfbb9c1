"""A child process for the heavy work, so the GUI process keeps its GIL to itself.

Measured on the 2-core dev machine with indexing in a worker *thread* of the GUI process:
importing torch froze the GUI thread for 0.9 s (loading libtorch holds the GIL), importing
umap froze it for up to 0.43 s at a time during 39 s of numba compiling, and even plain
imports, pool start-up (fork with the GIL held) and PySide6's import hook gave 100-180 ms
stalls. So the window hands indexing and clustering to this process: ``index`` runs
``index_folder`` here (its decode workers are this process's children), writing to the
library on behalf of the window, which holds the library's writer lock and keeps its own
connection for the user's edits (SQLite serialises the two writers; each index batch is
one short transaction). ``cluster`` and ``split`` compute plans on a read-only connection
and send them back; the GUI applies them (fast, undoable). A cancelled UMAP/HDBSCAN fit is
stopped at once by killing the process; the next task starts a fresh one.

Qt-free. Started from the decode pool's multiprocessing context (forkserver on Linux), so
it is safe to start from a threaded GUI.
"""
from __future__ import annotations

import atexit
import logging
import os
import sqlite3
import threading
import time
import traceback
from typing import Any, Callable

from photoclust_app.core.errors import Cancelled, PhotoclustError

log = logging.getLogger(__name__)

ENGINE_NICENESS = 10
DEFAULT_OPS = "photoclust_app.engine.ops"


class EngineStopped(PhotoclustError):
    """The engine process died (crashed or was killed)."""


# -- child side ----------------------------------------------------------------------------
_partial_sink: Callable[[str, Any], None] | None = None


def send_partial(kind: str, payload: Any) -> None:
    """From a handler in the engine process: hand KIND, PAYLOAD (picklable) to the caller's
    ``partial`` now, before the result (e.g. photos as they are indexed). A no-op elsewhere."""
    if _partial_sink is not None:
        _partial_sink(kind, payload)


def _child_main(conn, cancel_event, ops_module: str) -> None:
    """Serve requests until the pipe closes. Runs in the engine process; OPS_MODULE names
    the module whose HANDLERS dict maps op names to handlers."""
    try:  # background work: the window's thread comes first when the cores are busy (measured:
        os.nice(ENGINE_NICENESS)  # 100+ ms GUI gaps at nice 0 on 2 cores); threads and children inherit
    except (AttributeError, OSError):
        pass
    try:
        from photoclust_app.logging_setup import configure_logging

        configure_logging()
    except Exception:
        pass
    import importlib

    ops = importlib.import_module(ops_module)
    handlers = ops.HANDLERS
    warm = getattr(ops, "warm", None)
    if warm is not None and not os.environ.get("PHOTOCLUST_NO_WARM"):
        import threading

        threading.Thread(target=warm, name="photoclust-warm", daemon=True).start()
    global _partial_sink
    _partial_sink = lambda kind, payload: conn.send(("partial", str(kind), payload))  # noqa: E731
    while True:
        try:
            op, args, kwargs = conn.recv()
        except (EOFError, OSError):
            return

        def progress(done, total, stage):
            conn.send(("progress", int(done), int(total), str(stage)))

        try:
            result = handlers[op](progress, cancel_event.is_set, *args, **kwargs)
        except BaseException as err:  # everything goes back to the caller as an exception
            log.debug("engine %s failed:\n%s", op, traceback.format_exc())
            if isinstance(err, sqlite3.Error):  # a sentence for the window, not a raw SQLite error
                from photoclust_app.core.store.damage import folder_library_error

                err = folder_library_error(err, args[0] if args and isinstance(args[0], str) else None)
            try:
                conn.send(("error", err))
            except Exception:  # an exception that does not pickle
                conn.send(("error", RuntimeError(f"{type(err).__name__}: {err}")))
            continue
        conn.send(("ok", result))


# -- parent side ---------------------------------------------------------------------------
class Engine:
    """The parent's handle. ``call(op, ...)`` blocks the calling (worker) thread while the
    child works, relays its progress, and on cancel asks the child to stop (index: at its
    next batch) or kills it (fits), raising Cancelled. The child starts on first use."""

    def __init__(self, ops: str = DEFAULT_OPS):
        import importlib

        self._ops = ops
        self._grace = dict(getattr(importlib.import_module(ops), "GRACE", {}))
        self._proc = None
        self._conn = None
        self._cancel = None
        self._atexit = False
        self._lock = threading.Lock()

    def _ensure(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            return
        self._reset()
        from photoclust_app.core.ingest.decode_pool import mp_context

        ctx = mp_context()
        parent, child = ctx.Pipe()
        self._cancel = ctx.Event()
        # Not a daemon: daemons may not have children, and index_folder starts decode workers.
        proc = ctx.Process(target=_child_main, args=(child, self._cancel, self._ops), name="photoclust-engine")
        proc.start()
        if not self._atexit:
            atexit.register(self.close)  # never leave a child behind, even without closeEvent
            self._atexit = True
        child.close()
        self._proc, self._conn = proc, parent
        log.info("Engine process %s started", proc.pid)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    def call(self, op: str, *args, progress: Callable | None = None, cancel: Callable[[], bool] | None = None,
             partial: Callable[[str, Any], None] | None = None, **kwargs) -> Any:
        """Run OP in the child; PROGRESS gets its reports, PARTIAL what it sends with
        ``send_partial`` (both in the calling thread, in order, until a cancel)."""
        with self._lock:
            self._ensure()
            self._cancel.clear()
            self._conn.send((op, args, kwargs))
            cancel_at = None
            while True:
                if self._conn.poll(0.05):
                    try:
                        msg = self._conn.recv()
                    except (EOFError, OSError):
                        self._reset()
                        raise EngineStopped("The background engine stopped unexpectedly; "
                                            "the work done so far is kept.") from None
                    if msg[0] == "ok":
                        return msg[1]
                    if msg[0] == "error":
                        raise msg[1]
                    if msg[0] == "partial":
                        if partial is not None and cancel_at is None:
                            partial(msg[1], msg[2])
                    elif progress is not None and cancel_at is None:
                        progress(*msg[1:])
                elif not self._proc.is_alive():
                    self._reset()
                    raise EngineStopped("The background engine stopped unexpectedly (see the log); "
                                        "the work done so far is kept.")
                if cancel is not None and cancel():  # checked between messages too: progress can flood
                    now = time.monotonic()
                    if cancel_at is None:
                        cancel_at = now
                        self._cancel.set()
                    if now - cancel_at >= self._grace.get(op, 0.0):
                        log.info("Stopping the engine: %s cancelled", op)
                        self._kill()
                        raise Cancelled("Cancelled; the work done so far is kept.")

    def _kill(self) -> None:
        proc = self._proc
        if proc is not None:
            proc.kill()
            proc.join(5)
        self._reset()

    def _reset(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
        self._proc = self._conn = None

    def close(self) -> None:
        """Stop the child; it holds nothing unsaved (each batch is committed)."""
        proc = self._proc
        self._reset()  # closing the pipe ends an idle child's loop
        if proc is not None:
            proc.join(1.0)
            if proc.is_alive():
                proc.kill()
                proc.join(5)

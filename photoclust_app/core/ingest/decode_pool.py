"""Parallel decoding in worker processes, with bounded read-ahead and crash isolation.

Processes, because Pillow holds the GIL while decoding. Workers start with 'forkserver'
on Linux (a clean server process forks them, so it is safe from a threaded GUI or after
torch started its thread pools, and later pools start in milliseconds) and 'spawn'
elsewhere. Workers import only Pillow and numpy, never torch.

A decoder that crashes a worker (a segfault on a hostile file) breaks the pool; the jobs
in flight are then retried one by one in a fresh pool so only the culprit is skipped.
"""
from __future__ import annotations

import collections
import logging
import multiprocessing as mp
import os
import select
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Iterable, Iterator

from photoclust_app.core.ingest.decode import IN_MEMORY_LIMIT, Decoded, decode_bytes, os_error_reason
from photoclust_app.core.ingest.preview import decode_preview
from photoclust_app.core.errors import UnreadableImage
from photoclust_app.core.ingest.quickhash import quick_hash, quick_hash_bytes
from photoclust_app.core.records import PhotoRecord

log = logging.getLogger(__name__)

CRASH_REASON = "the image decoder crashed on this file"


@dataclass(frozen=True)
class DecodeJob:
    path: str  # absolute
    relpath: str
    input_size: int = 224
    thumb_size: int = 256
    quick_hash: str | None = None  # known already (move detection hashed it)
    preview: bool = False  # decode the embedded preview when it covers the model input (ingest/preview.py)


@dataclass(frozen=True)
class DecodeResult:
    """Either decoded (with the stat seen before reading, and the content hash) or a reason."""

    relpath: str
    record: PhotoRecord | None
    quick_hash: str | None = None
    decoded: Decoded | None = None
    reason: str | None = None
    changed_while_reading: bool = False
    from_preview: bool = False  # decoded is the embedded preview's


def decode_for_worker(job: DecodeJob) -> DecodeResult:
    """Stat, read, hash and decode one file; never raises (top-level, picklable)."""
    record, got = None, None
    try:
        st = os.stat(job.path)
        # The stat observed BEFORE reading is what gets stored: if the file is rewritten
        # while we read it, the next run sees a different size/mtime and redoes it.
        record = PhotoRecord(job.relpath, st.st_size, st.st_mtime_ns)
        if st.st_size == 0:
            raise UnreadableImage("empty file (0 bytes)")
        if st.st_size <= IN_MEMORY_LIMIT:
            try:
                with open(job.path, "rb") as f:
                    data = f.read()
            except OSError as err:
                raise UnreadableImage(os_error_reason(err)) from err
            qh = job.quick_hash or quick_hash_bytes(data)
            got = decode_preview(data, job.input_size, job.thumb_size) if job.preview else None
            decoded = got[0] if got is not None else decode_bytes(data, job.input_size, job.thumb_size)
        else:
            try:
                qh = job.quick_hash or quick_hash(job.path)
                with open(job.path, "rb") as f:
                    decoded = decode_bytes(f, job.input_size, job.thumb_size)
            except OSError as err:
                raise UnreadableImage(os_error_reason(err)) from err
        try:
            st2 = os.stat(job.path)
            changed = (st2.st_size, st2.st_mtime_ns) != (st.st_size, st.st_mtime_ns)
        except OSError:
            changed = True
        return DecodeResult(job.relpath, record, qh, decoded, None, changed, got is not None)
    except UnreadableImage as err:
        return DecodeResult(job.relpath, record, reason=str(err))
    except OSError as err:
        return DecodeResult(job.relpath, record, reason=os_error_reason(err))
    except Exception as err:  # belt and braces: a worker must answer, not die
        return DecodeResult(job.relpath, record, reason=f"could not be decoded ({type(err).__name__}: {err})"[:200])


def _worker_init(owner: int | None = None) -> None:
    # Ctrl+C goes to the whole process group; the parent decides, workers just stop quietly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if owner is not None and os.name == "posix":
        threading.Thread(target=_exit_with, args=(owner,), name="exit-with-owner", daemon=True).start()


def _exit_with(pid: int) -> None:
    """Exit when the process that owns the pool dies (kill -9, the OOM killer). A forkserver
    worker holds both ends of its job pipe and the server's liveness pipe, so without this
    it, its siblings and the fork server would wait forever as orphans."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])
    else:
        while True:
            time.sleep(2.0)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                pass
    os._exit(1)


def mp_context():
    if sys.platform.startswith("linux"):
        ctx = mp.get_context("forkserver")
        # Preload the decoder in the fork server; deliberately not '__main__' (the app's
        # entry script must not run again in the server).
        ctx.set_forkserver_preload(["photoclust_app.core.ingest.decode_pool"])
        return ctx
    return mp.get_context("spawn")


def default_workers() -> int:
    from photoclust_app.core.embed.device import cpu_count

    return cpu_count()


def _ping() -> int:
    return os.getpid()


class DecodePool:
    """``imap(jobs)`` yields DecodeResults in job order, keeping at most ``window`` in flight.
    ``workers=0`` decodes in the calling thread (small jobs, tests, debugging). ``fn`` is the
    per-job function (top-level, picklable); tests swap it to simulate crashes."""

    def __init__(self, workers: int | None = None, window: int | None = None, fn=None):
        self.workers = default_workers() if workers is None else max(0, int(workers))
        self.window = max(1, window or 4 * max(1, self.workers))
        self.fn = fn or decode_for_worker
        self._ex: ProcessPoolExecutor | None = None
        self._inflight: collections.deque = collections.deque()

    def __enter__(self) -> "DecodePool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _executor(self) -> ProcessPoolExecutor:
        if self._ex is None:
            self._ex = ProcessPoolExecutor(self.workers, mp_context=mp_context(), initializer=_worker_init,
                                           initargs=(os.getpid(),))
        return self._ex

    def close(self) -> None:
        """Stop workers: queued jobs are dropped, running ones finish (each is short)."""
        if self._ex is not None:
            ex, self._ex = self._ex, None
            try:
                ex.shutdown(wait=True, cancel_futures=True)
            except Exception:  # a broken pool may complain; its processes are gone anyway
                pass

    def _pool_works(self) -> bool:
        """A crash in isolation proves a culprit only if a fresh pool can run anything at all
        (it cannot when, e.g., an unguarded main script breaks worker start-up)."""
        try:
            self._executor().submit(_ping).result(timeout=120)
            return True
        except Exception as err:
            self.close()
            log.error("Decode worker processes cannot run (%s: %s); decoding in this process instead. "
                      "Scripts using photoclust must guard their entry point with "
                      "`if __name__ == '__main__':`.", type(err).__name__, err)
            self.workers = 0
            return False

    def _isolated(self, job: DecodeJob) -> DecodeResult:
        if self.workers == 0:
            return self.fn(job)
        try:
            return self._executor().submit(self.fn, job).result()
        except BrokenProcessPool:
            self.close()
            if not self._pool_works():
                return self.fn(job)
            log.warning("The image decoder crashed on %s; skipping it", job.path)
            return DecodeResult(job.relpath, None, reason=CRASH_REASON)

    def decoders_idle(self) -> bool:
        """True when no decode is running or queued (the read-ahead window is full of
        finished results, or the jobs ran out): the consumer may use every core now."""
        return self.workers == 0 or all(fut.done() for _, fut in self._inflight)

    def decoded_ahead(self) -> int:
        """Finished results waiting for the consumer: a batch of them means the decoders
        outrun it and are about to idle with the read-ahead window full."""
        return sum(fut.done() for _, fut in self._inflight)

    def imap(self, jobs: Iterable[DecodeJob]) -> Iterator[DecodeResult]:
        it = iter(jobs)
        inflight = self._inflight = collections.deque()

        def fill() -> None:
            while self.workers and len(inflight) < self.window:
                job = next(it, None)
                if job is None:
                    return
                try:
                    fut = self._executor().submit(self.fn, job)
                except BrokenProcessPool as err:  # a worker died since the last look: retried below
                    fut = Future()
                    fut.set_exception(err)
                inflight.append((job, fut))

        fill()
        while inflight:
            job, fut = inflight.popleft()
            try:
                res = fut.result()
            except BrokenProcessPool:
                pending = [job] + [j for j, _ in inflight]
                inflight.clear()
                log.warning("A decode worker died; retrying %d files one at a time", len(pending))
                self.close()
                for j in pending:
                    yield self._isolated(j)
                fill()
                continue
            fill()
            yield res
        for job in it:  # workers == 0 from the start, or after the pool proved unusable
            yield self.fn(job)

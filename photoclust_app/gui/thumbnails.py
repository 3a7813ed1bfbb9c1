"""Thumbnails for the grid, the cluster mosaics and the map's hover: loaded off the GUI thread.

Worker threads (QThreadPool) read the stored JPEG bytes through their own read-only library
connection and decode them into a QImage (never a QPixmap: that is GUI-thread only), and hand
each over with ``call_in_gui`` as every background task does (gui/tasks/). The GUI
thread turns each into a QPixmap once and keeps it in an LRU cache. Requests are served
newest first and old ones are dropped, so fast scrolling through 10,000 photos loads what is
on screen now rather than what scrolled past a second ago.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QImageReader, QPainter, QPixmap

from photoclust_app.gui.tasks import call_in_gui, prepare

log = logging.getLogger(__name__)

THUMB_SIZE = 160
STORED_SIZE = 256  # the long side of the thumbnails indexing stores (core/ingest/index.py)


def decode_size_for(shown: int) -> int:
    """The size to decode thumbnails at for a grid showing them at SHOWN pixels: 160 up to
    160 (small in memory), else the stored size (sharp at any size the grid offers)."""
    return THUMB_SIZE if shown <= THUMB_SIZE else STORED_SIZE
MAX_QUEUED = 400
MAX_THUMB_PIXELS = 40_000_000  # stored thumbnails are ~256 px; anything this big is hostile


class _Runner(QRunnable):
    def __init__(self, loader: "ThumbnailLoader"):
        super().__init__()
        self.loader = loader
        self.setAutoDelete(True)

    def run(self) -> None:
        loader = self.loader
        while True:
            got = loader._next()
            if got is None:
                return
            pid, size, generation = got
            try:
                image = loader._decode(pid, size)
            except Exception:  # one bad thumbnail must not stop the others
                log.exception("Thumbnail %s failed", pid)
                image = QImage()
            call_in_gui(loader._on_decoded, pid, image, generation)  # the tasks' hand-over, never a signal


class ThumbnailLoader(QObject):
    """``pixmap(photo_id)`` returns the cached thumbnail or None (and starts loading it);
    ``loaded(photo_id)`` says when it arrived."""

    loaded = Signal(int)

    def __init__(self, folder: str | Path, *, size: int = THUMB_SIZE, cache_size: int = 3000,
                 pool: QThreadPool | None = None, max_threads: int | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.folder = Path(folder)
        self.size = size
        self._generation = 0   # bumped by set_size: decodes at the old size are dropped
        self._cache: OrderedDict[int, QPixmap] = OrderedDict()
        self._images: OrderedDict[int, QImage] = OrderedDict()
        self._cache_size = cache_size
        self._pixel_budget = cache_size * size * size  # set_size keeps the cache's memory the same
        if max_threads is None:  # a decode takes ~0.5 ms: one thread keeps up, and leaves the GUI a core
            max_threads = max(1, min(2, (os.cpu_count() or 2) - 1))
        if pool is None:  # our own pool, so close() waits for our decodes only
            pool = QThreadPool(self)
            pool.setMaxThreadCount(max_threads)
        self._pool = pool
        self._max_threads = max_threads
        self._lock = threading.Lock()
        self._stack: list[int] = []
        self._queued: set[int] = set()
        self._failed: set[int] = set()
        self._runners = 0
        self._closed = False
        self._local = threading.local()
        self._libs: list = []
        prepare()   # the hand-over to the GUI thread exists before any decode finishes

    # -- GUI-thread API ------------------------------------------------------------------
    def pixmap(self, photo_id: int) -> QPixmap | None:
        pm = self._cache.get(photo_id)
        if pm is not None:
            self._cache.move_to_end(photo_id)
            return pm
        self.request(photo_id)
        return None

    def image(self, photo_id: int) -> QImage | None:
        """The thumbnail as a QImage (for tooltips); None while loading."""
        img = self._images.get(photo_id)
        if img is None:
            self.request(photo_id)
        return img

    def request(self, photo_id: int) -> None:
        if self._closed or photo_id in self._cache or photo_id in self._failed:
            return
        with self._lock:
            if photo_id in self._queued:
                return
            self._stack.append(photo_id)
            self._queued.add(photo_id)
            if len(self._stack) > MAX_QUEUED:  # scrolled past long ago: drop
                for old in self._stack[: len(self._stack) - MAX_QUEUED]:
                    self._queued.discard(old)
                del self._stack[: len(self._stack) - MAX_QUEUED]
            start = self._runners < self._max_threads
            if start:
                self._runners += 1
        if start:
            self._pool.start(_Runner(self))

    def set_size(self, size: int) -> None:
        """Decode at SIZE from now on (the grid's thumbnails grew past it, or shrank): the
        cache is dropped, fewer bigger thumbnails fit in the same memory, and views load
        what they show again."""
        size = int(size)
        if size == self.size:
            return
        self.size = size
        self._cache_size = max(100, self._pixel_budget // (size * size))
        with self._lock:
            self._generation += 1
            self._stack.clear()
            self._queued.clear()
        self._cache.clear()
        self._images.clear()

    def pending(self) -> int:
        """Requests not answered yet (waiting, decoding, or decoded and on their way)."""
        with self._lock:
            return len(self._queued)

    def backlog(self) -> int:
        """Requests not started yet; capped at MAX_QUEUED, oldest dropped first."""
        with self._lock:
            return len(self._stack)

    def is_loaded(self, photo_id: int) -> bool:
        return photo_id in self._cache or photo_id in self._failed

    def close(self) -> None:
        """Stop loading and close the read connections (waits for running decodes)."""
        self._closed = True
        with self._lock:
            self._stack.clear()
            self._queued.clear()
        if hasattr(self._pool, "waitForDone"):
            self._pool.waitForDone(5000)
        for lib in self._libs:
            lib.close()
        self._libs.clear()

    def _on_decoded(self, photo_id: int, image: QImage, generation: int = 0) -> None:
        with self._lock:
            stale = generation != self._generation
            if not stale:
                self._queued.discard(photo_id)
        if self._closed or stale:
            return
        if image.isNull():
            self._failed.add(photo_id)
        else:
            self._cache[photo_id] = QPixmap.fromImage(image)
            self._images[photo_id] = image
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            while len(self._images) > self._cache_size:
                self._images.popitem(last=False)
        self.loaded.emit(photo_id)

    # -- pool-thread side ----------------------------------------------------------------
    def _next(self) -> tuple[int, int, int] | None:
        """(photo id, size, generation) to decode next, newest first: what is on screen now."""
        with self._lock:
            if self._closed or not self._stack:
                self._runners -= 1
                return None
            return self._stack.pop(), self.size, self._generation

    def _library(self):
        lib = getattr(self._local, "lib", None)
        if lib is None:
            from photoclust_app.core.store.library import Library

            lib = Library.open(self.folder, readonly=True)
            self._local.lib = lib
            with self._lock:
                self._libs.append(lib)
        return lib

    def _decode(self, photo_id: int, size: int | None = None) -> QImage:
        limit = self.size if size is None else size
        data = self._library().thumbnail(photo_id)
        if not data:
            return QImage()
        buf = QBuffer()
        buf.setData(QByteArray(data))
        buf.open(QIODevice.OpenModeFlag.ReadOnly)
        # The format comes from the magic bytes, never from Qt probing every plugin: the SVG
        # plugin's probe builds a QTextStream that connects a signal from this worker thread
        # with the GIL held, which deadlocked against the GUI thread disconnecting a signal
        # (seen in the 10k-photo grid test). Other formats than these are not thumbnails.
        fmt = _raster_format(data)
        if fmt is None:
            return QImage()
        reader = QImageReader(buf, fmt)
        reader.setDecideFormatFromContent(False)
        reader.setAutoTransform(False)  # stored thumbnails are upright already
        size = reader.size()
        if size.isValid():
            if size.width() * size.height() > MAX_THUMB_PIXELS:  # a bomb, not a thumbnail
                return QImage()
            if max(size.width(), size.height()) > limit:  # JPEG decodes straight at the smaller size
                reader.setScaledSize(size.scaled(QSize(limit, limit), Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
        if image.isNull():
            return image
        if max(image.width(), image.height()) > limit:  # formats that could not scale on read
            image = image.scaled(QSize(limit, limit), Qt.AspectRatioMode.KeepAspectRatio,
                                 Qt.TransformationMode.SmoothTransformation)
        return image.convertToFormat(QImage.Format.Format_RGB32)


_MAGIC = ((b"\xff\xd8\xff", b"jpeg"), (b"\x89PNG\r\n\x1a\n", b"png"), (b"GIF87a", b"gif"), (b"GIF89a", b"gif"),
          (b"BM", b"bmp"))


def _raster_format(data: bytes) -> bytes | None:
    """The Qt image format of a thumbnail blob, from its first bytes (None: not a raster)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return b"webp"
    return next((fmt for magic, fmt in _MAGIC if data.startswith(magic)), None)


_PLACEHOLDERS: dict[tuple[int, int], QPixmap] = {}


def placeholder(size: int = THUMB_SIZE) -> QPixmap:
    """A neutral square shown while a thumbnail loads (made once per size, GUI thread)."""
    key = (size, size)
    pm = _PLACEHOLDERS.get(key)
    if pm is None:
        pm = QPixmap(size, size)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(128, 128, 128, 60))
        p.drawRoundedRect(4, 4, size - 8, size - 8, 6, 6)
        p.end()
        _PLACEHOLDERS[key] = pm
    return pm


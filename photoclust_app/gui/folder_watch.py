"""Noticing new or changed photos while the window is open (a live folder).

QFileSystemWatcher (inotify on Linux) watches the photo folder and its real subfolders:
not photoclust's own folder, not folders holding an export marker, never a symbolic link
(the scanner follows none either). A change only counts when the photos of a folder
changed: each watched folder keeps a snapshot of its image files' names, sizes and mtimes,
so a sidecar written by ``photoclust tag``, an editor's temp file or the library's own
writes never start an index. Changes are debounced (a camera import of 500 files is one
index, DEBOUNCE_MS after the last file), and ``changed`` is emitted; the window indexes
then, or as soon as it is idle.
"""
from __future__ import annotations

import logging
import os
import stat

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

from photoclust_app.core.ingest.scan import EXPORT_MARKER, is_image_name
from photoclust_app.core.store.location import LIBRARY_DIRNAME

log = logging.getLogger(__name__)

MAX_FOLDERS = 4000   # inotify watches are a per-user limit (often 8192): leave the rest to others


def _snapshot(folder: str) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """({image name: (size, mtime_ns)}, [real subfolders to watch]) of one folder."""
    photos, subs = {}, []
    try:
        with os.scandir(folder) as it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    if e.name != LIBRARY_DIRNAME and not os.path.lexists(os.path.join(e.path, EXPORT_MARKER)):
                        subs.append(e.path)
                elif stat.S_ISREG(st.st_mode) and is_image_name(e.name):
                    photos[e.name] = (st.st_size, st.st_mtime_ns)
    except OSError:
        pass
    return photos, subs


class FolderWatcher(QObject):
    """Emits ``changed`` (debounced) when photos appear, change or go below ``folder``."""

    changed = Signal()
    DEBOUNCE_MS = 1500

    def __init__(self, folder: str | os.PathLike, parent: QObject | None = None):
        super().__init__(parent)
        self.folder = os.path.abspath(folder)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._on_dir_changed)
        self._snap: dict[str, dict[str, tuple[int, int]]] = {}
        self._timer = QTimer(self, singleShot=True, interval=self.DEBOUNCE_MS)
        self._timer.timeout.connect(self.changed)
        self.limited = False   # more folders than MAX_FOLDERS: only the first are watched
        self._add_tree(self.folder)

    def watched(self) -> list[str]:
        return sorted(self._watcher.directories())

    def _add_tree(self, top: str) -> None:
        stack = [top]
        while stack:
            d = stack.pop()
            if d in self._snap:
                continue
            if len(self._snap) >= MAX_FOLDERS:
                if not self.limited:
                    log.info("watching only %d folders under %s for new photos", MAX_FOLDERS, self.folder)
                self.limited = True
                return
            photos, subs = _snapshot(d)
            self._snap[d] = photos
            if not self._watcher.addPath(d):
                log.info("cannot watch %s for new photos", d)
            stack.extend(subs)

    def _drop(self, top: str) -> bool:
        """Stop watching top and below; True if photos were there."""
        had = False
        for d in [d for d in self._snap if d == top or d.startswith(top + os.sep)]:
            had |= bool(self._snap.pop(d))
            self._watcher.removePath(d)
        return had

    def _on_dir_changed(self, path: str) -> None:
        if path not in self._snap:
            return
        if not os.path.isdir(path) or os.path.islink(path):
            if self._drop(path):
                self._timer.start()   # its photos went with it
            return
        old = self._snap[path]
        photos, subs = _snapshot(path)
        self._snap[path] = photos
        changed = photos != old
        for d in [d for d in self._snap if os.path.dirname(d) == path and d not in subs]:
            changed |= self._drop(d)   # a subfolder removed, renamed or marked as an export
        for s in subs:
            if s not in self._snap:
                self._add_tree(s)
                changed |= any(v for d, v in self._snap.items() if d == s or d.startswith(s + os.sep))
        if changed:
            self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        dirs = self._watcher.directories()
        if dirs:
            self._watcher.removePaths(dirs)
        self._snap.clear()

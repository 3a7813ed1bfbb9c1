"""Render the main window on an already-indexed library to a PNG (offscreen), with the
clusters shown, the first one selected and its thumbnails loaded. For docs and checks."""
from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

from photoclust_app.core.errors import LibraryError

log = logging.getLogger(__name__)


def _wait(app, condition, timeout: float) -> bool:
    from PySide6.QtCore import QEventLoop

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if condition():
            return True
        time.sleep(0.01)
    return False


def render_screenshot(folder, out_png, size: tuple[int, int] = (1400, 900), timeout: float = 60.0) -> None:
    """Open FOLDER read-only (no indexing, so no model loads), select the first cluster, wait
    for its thumbnails and the mosaics, and save the window to OUT_PNG."""
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QSettings

    from photoclust_app.gui.app import make_application
    from photoclust_app.gui.main_window import MainWindow

    app = make_application()
    with tempfile.TemporaryDirectory() as tmp:
        # Throwaway settings: a screenshot must not move the user's window or last folder.
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        win = MainWindow(settings=settings)
        win.resize(*size)
        win.show()
        if not win.open_folder(folder, index=False, readonly=True):
            win.close()
            raise LibraryError(f"{folder} could not be opened; is it indexed (photoclust index {folder})?")
        _wait(app, lambda: not win.runner.is_running(), timeout)
        if not win.selected_clusters() and win.session.cluster_ids():
            win.select_clusters([win.session.cluster_ids()[0]])
        win.resize(*size)
        win.grab()  # paint once: views ask for the thumbnails they show
        loaded = _wait(app, lambda: _thumbnails_done(win), timeout)
        if not loaded:
            log.warning("Screenshot taken before every thumbnail loaded")
        _wait(app, lambda: False, 0.2)  # let the last dataChanged repaint
        pixmap = win.grab()
        out = Path(out_png)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not pixmap.save(str(out), "PNG"):
            raise OSError(f"Could not write {out}.")
        win.close()
        win.deleteLater()
        _wait(app, lambda: False, 0.05)


def _thumbnails_done(win) -> bool:
    t = win.thumbnails
    if t is None:
        return True
    visible = visible_photo_ids(win)
    mosaics = [p for c in win.session.clusters()[:12] for p in c.representatives[:4]]
    for pid in visible + mosaics:
        if not t.is_loaded(pid):
            t.request(pid)
    return t.pending() == 0 and all(t.is_loaded(p) for p in visible + mosaics)


def visible_photo_ids(win) -> list[int]:
    """Photo ids whose grid cells intersect the viewport."""
    view, model = win.grid_view, win.grid_model
    rect = view.viewport().rect()
    out = []
    for row in range(model.rowCount()):
        idx = model.index(row)
        if view.visualRect(idx).intersects(rect):
            out.append(model.photo_id(idx))
        elif out:
            break
    return out

"""Start the desktop app: QApplication, logging, the main window, then the folder.

Only Qt and the small core modules load before the window shows; torch, open_clip, umap and
hdbscan are only ever imported in the engine process (engine.py). Set
PHOTOCLUST_STARTUP_PROBE=1 to print "photoclust-window-shown <unix time> torch=<bool>" when
the window is first shown and "photoclust-ready ..." when it could open a folder, then quit
(used to measure the time to first window).
"""
from __future__ import annotations

import gc
import logging
import os
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

ORG = APP = "photoclust"


def icon_path() -> Path | None:
    here = Path(__file__).resolve().parents[2] / "resources" / "photoclust.svg"
    if here.exists():
        return here
    try:
        from importlib.resources import files

        p = files("photoclust_app.resources") / "photoclust.svg"
        return Path(str(p)) if p.is_file() else None
    except (ModuleNotFoundError, OSError):
        return None


def make_application(argv: list[str] | None = None):
    """The QApplication (made once). Qt's fatal start-up errors become one sentence and exit
    code 1 (platform_check.fatal_guard), never an abort."""
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from photoclust_app.gui.platform_check import fatal_guard

    app = QApplication.instance()
    if app is None:
        with fatal_guard():
            app = QApplication(list(argv if argv is not None else sys.argv[:1]))
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    app.setApplicationDisplayName("photoclust")
    app.setDesktopFileName("photoclust")
    icon = icon_path()
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    return app


def preload_gui_imports() -> None:
    """Do, before the first folder opens, what would otherwise freeze the window for
    0.1-0.4 s while it indexes (measured): import the map's KD-tree (scipy) and what the
    worker thread uses to talk to the engine, and start the multiprocessing fork server and
    resource tracker (each a fork with the GIL held). 0.5-1 s; run_app does it in a thread
    after the window shows."""
    try:
        import multiprocessing.connection  # noqa: F401
        import multiprocessing.synchronize  # noqa: F401

        import scipy.spatial  # noqa: F401

        from photoclust_app.core.clustering import plan  # noqa: F401
        from photoclust_app.core.ingest.decode_pool import mp_context

        ctx = mp_context()
        if ctx.get_start_method() == "forkserver":
            from multiprocessing import forkserver, resource_tracker

            resource_tracker.ensure_running()
            forkserver.ensure_running()
    except Exception as err:  # only an optimisation
        log.info("Pre-loading skipped: %s", err)
    # Everything loaded so far lives as long as the app: move it out of the cyclic collector's
    # reach, so a full collection scans only new objects. Measured: full collections of 70-90 ms
    # on the GUI thread without this, a share of the worst stalls while indexing.
    gc.freeze()


def run_app(folder: str | None = None) -> int:
    """Show the window, open FOLDER (or the last folder), run the event loop; returns the exit code."""
    from photoclust_app.logging_setup import configure_logging

    configure_logging()
    from photoclust_app.gui.platform_check import start_problem

    problem = start_problem()
    if problem is not None:  # no display, or Qt's X11 libraries missing: say so, do not abort
        log.info("Not starting the window: %s", problem)
        print(problem, file=sys.stderr)
        return 1
    app = make_application()
    start_window(folder, quit_when_ready=app.quit)
    return app.exec()


def start_window(folder: str | None = None, *, settings=None, quit_when_ready=None):
    """Show the main window and, once the pre-load has run, open FOLDER (or the last folder).
    Returns the window. With PHOTOCLUST_STARTUP_PROBE set, prints the probe lines and calls
    QUIT_WHEN_READY instead of opening a folder."""
    from PySide6.QtCore import QTimer

    from photoclust_app.gui.main_window import MainWindow

    win = MainWindow(settings=settings)
    target = folder or str(win.settings.value("last_folder", "") or "")
    if target and Path(target).expanduser().is_dir():
        win.expect_folder(target)   # never "Open a folder" first, when one is about to open
    win.show()
    probe = bool(os.environ.get("PHOTOCLUST_STARTUP_PROBE"))
    if probe:
        QTimer.singleShot(0, lambda: print(f"photoclust-window-shown {time.time():.3f} "
                                           f"torch={'torch' in sys.modules}", flush=True))

    def ready():
        if probe:
            print(f"photoclust-ready {time.time():.3f} torch={'torch' in sys.modules}", flush=True)
            if quit_when_ready is not None:
                quit_when_ready()
        elif target and Path(target).expanduser().is_dir():
            win.open_folder(Path(target).expanduser())
        elif folder:
            win.tell(f"{folder} is not a folder.", error=True)

    from photoclust_app.gui.tasks import TaskRunner

    preload = TaskRunner(win)  # a runner of its own: the window's is free for the folder
    preload.idle.connect(ready)
    preload.start("preload", lambda ctx: preload_gui_imports())
    win._preload = preload
    log.info("Window shown; folder %s", target or "(none)")
    return win

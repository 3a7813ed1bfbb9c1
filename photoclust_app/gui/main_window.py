"""The main window: cluster list (left), photo grid (centre), map (right), status bar.

It owns one folder at a time: a Library, a Session over it (the only source of truth; the
models and the map only adapt it), a ThumbnailLoader, and a TaskRunner for long work.
Opening a folder shows the saved state first, then indexes what changed and re-clusters in
the worker when photos changed. Menus, actions and edit commands live in ``actions.py``.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (QLabel, QMainWindow, QMessageBox, QSplitter, QVBoxLayout, QWidget)

from photoclust_app.core.errors import LibraryDamaged, LibraryError, LibraryLocked
from photoclust_app.core.store.library import Library
from photoclust_app.core.editing.session import Session, SessionState
from photoclust_app.gui import jobs
from photoclust_app.gui.actions import WindowActions
from photoclust_app.engine.engine import Engine
from photoclust_app.gui.live_fill import LiveFill
from photoclust_app.gui.map_items import cluster_color
from photoclust_app.gui.map_view import MapView
from photoclust_app.gui.models.cluster_list_model import ClusterListModel
from photoclust_app.gui.search_results import ResultGridModel, install_search
from photoclust_app.gui.progress_panel import ProgressPanel, SkippedButton
from photoclust_app.gui.quality import QualityWatcher
from photoclust_app.gui.selection import LinkedSelection
from photoclust_app.gui.thumbnails import THUMB_SIZE, ThumbnailLoader, decode_size_for
from photoclust_app.gui.views import ClusterListView, FilterEdit, PhotoGridView
from photoclust_app.gui.tasks import TaskRunner
from photoclust_app.gui.tasks.stage_eta import StageSpeeds

log = logging.getLogger(__name__)


class MainWindow(LinkedSelection, QMainWindow):
    stateInstalled = Signal()      # the session holds a fresh state (saved, or after indexing)
    taskEnded = Signal(str, str)   # task name, outcome: "finished" | "cancelled" | "failed"

    def __init__(self, settings: QSettings | None = None, *, model: str | None = None, device: str | None = None,
                 index_options: dict | None = None, thumbnail_pool=None, parent=None):
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings()
        self._model_override, self._device_override = model, device
        self.index_options = dict(index_options or {})
        self.auto_cluster = True  # cluster after indexing when photos changed
        self.thumbnail_pool = thumbnail_pool
        self.library: Library | None = None
        self.session: Session | None = None
        self.thumbnails: ThumbnailLoader | None = None
        self.last_report = None
        self._model_before: str | None = None   # the library's model when it was opened
        self._pending_notice: str | None = None  # said with the "Indexed" sentence
        self._syncing = False
        self._map_full, self._map_dirty = False, set()
        self._close_when_idle = False
        self.folder_watcher = None        # live folder: new or changed photos are indexed (gui/folder_watch.py)
        self._watch_pending = False
        self.runner = TaskRunner(self)
        self.engine = Engine()  # torch / umap live in this child process, started on first use
        self.cluster_model = ClusterListModel()
        self.grid_model = ResultGridModel()   # the photo grid, able to show a search's results
        self._build_ui()
        self.live = LiveFill(self)   # photos shown as they are indexed (gui/live_fill.py)
        self.actions = WindowActions(self)
        self.search = install_search(self)
        self._install_learning()
        self._connect()
        self._update_title()
        self._restore_geometry()
        self.cluster_view.setFocus()   # not the filter box, first in the focus chain

    # -- settings ------------------------------------------------------------------------
    def _install_learning(self) -> None:
        """What the clusters learn from (issue 10): corrections, suggestions, To review, split by example."""
        from photoclust_app.gui.corrections import CorrectionsCommands

        from photoclust_app.gui.review import ReviewController
        from photoclust_app.gui.suggestions import SuggestionsController

        self.corrections = CorrectionsCommands(self)
        self.suggestions = SuggestionsController(self)
        self.review = ReviewController(self)
        from photoclust_app.gui.split_dialog import install_split_by_example

        install_split_by_example(self)

    @property
    def model_name(self) -> str:
        return self._model_override or str(self.settings.value("model", "clip") or "clip")

    @property
    def device(self) -> str:
        return self._device_override or str(self.settings.value("device", "auto") or "auto")

    # -- layout --------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.setWindowTitle("photoclust")
        self.resize(1400, 900)
        self.filter_edit = FilterEdit()
        self.filter_edit.setPlaceholderText("Filter clusters (Ctrl+F)")
        self.filter_edit.setClearButtonEnabled(True)
        self.map_view = MapView(self)
        self.cluster_view = ClusterListView(lambda: self.thumbnails, color_for=cluster_color)
        self.cluster_view.setModel(self.cluster_model)
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(4, 4, 0, 4)
        lay.addWidget(self.filter_edit)
        lay.addWidget(self.cluster_view)

        self.grid_header = QLabel("Open a folder of photos with File \u203a Open Folder (Ctrl+O).")
        self.grid_header.setWordWrap(True)
        self.grid_view = PhotoGridView(icon_size=self._stored_thumb_size())
        self.grid_view.setModel(self.grid_model)
        centre = QWidget()
        lay = QVBoxLayout(centre)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.grid_header)
        lay.addWidget(self.grid_view)

        self.map_view.thumbnail_provider = self._thumbnail_image
        self.map_view.name_provider = lambda pid: self.session.relpath(pid) if self.session else ""
        self.map_view.cluster_name_provider = lambda cid: self.session.cluster(cid).display_name if self.session else ""
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(self.map_view)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setSizes([280, 640, 480])
        self.setCentralWidget(self.splitter)

        self.progress = ProgressPanel()
        self.progress.speeds = StageSpeeds(self.settings)   # clustering's measured speed, for its time left
        self.skipped_button = SkippedButton()
        self.summary_label = QLabel()
        self.quality = QualityWatcher(self)   # cohesion per cluster, and the overall figures
        self.quality.hold = self.runner.is_running
        sb = self.statusBar()
        sb.addWidget(self.summary_label)
        sb.addPermanentWidget(self.quality.label)
        sb.addPermanentWidget(self.skipped_button)
        sb.addPermanentWidget(self.progress)

        self._map_timer = QTimer(self)
        self._map_timer.setSingleShot(True)
        self._map_timer.setInterval(60)
        self._map_timer.timeout.connect(self._refresh_map)

    def _stored_thumb_size(self) -> int:
        try:
            return int(self.settings.value("thumb_size", THUMB_SIZE) or THUMB_SIZE)
        except (TypeError, ValueError):
            return THUMB_SIZE

    def _on_thumb_size(self, size: int) -> None:
        self.settings.setValue("thumb_size", size)   # remembered for the next start
        if self.thumbnails is not None:
            self.thumbnails.set_size(decode_size_for(size))
        self.grid_view.viewport().update()

    def expect_folder(self, folder) -> None:
        """Say which folder is about to open (given on the command line, or the last one), so
        the window never shows "Open a folder" first."""
        name = Path(folder).expanduser().name or str(folder)
        self.grid_header.setText(f"Opening {name}\u2026")
        self.setWindowTitle(f"{name} \u2014 photoclust")

    def _connect(self) -> None:
        self.grid_view.thumbSizeChanged.connect(self._on_thumb_size)
        # The count in the header follows the grid's rows, whatever changed them (edits, undo,
        # redo, a re-cluster), after the model has caught up with the session.
        for sig in (self.grid_model.rowsInserted, self.grid_model.rowsRemoved, self.grid_model.modelReset):
            sig.connect(lambda *_: self._update_header(recount=self.live.applying))
        self.cluster_view.selectionModel().selectionChanged.connect(self._on_cluster_selection)
        self.grid_view.selectionModel().selectionChanged.connect(self._on_grid_selection)
        self.map_view.selectionChanged.connect(self._on_map_selection)
        self.map_view.photoActivated.connect(self._on_map_activated)
        self.filter_edit.textChanged.connect(self._apply_filter)
        for sig in (self.cluster_model.rowsInserted, self.cluster_model.modelReset, self.cluster_model.layoutChanged):
            sig.connect(self._apply_filter)
        self.cluster_model.editFailed.connect(lambda msg: self.tell(msg, error=True))
        self.quality.cohesionReady.connect(self.cluster_model.set_cohesion)
        self.cluster_view.splitRequested.connect(self._split_from_badge)
        self.runner.progress.connect(self.progress.update_progress)
        self.runner.partial.connect(self._on_partial)
        self.runner.finished.connect(self._on_task_finished)
        self.runner.cancelled.connect(self._on_task_cancelled)
        self.runner.failed.connect(self._on_task_failed)
        self.runner.idle.connect(self._on_idle)
        self.progress.cancelRequested.connect(self.runner.cancel)

    def _thumbnail_image(self, photo_id: int):
        return self.thumbnails.image(photo_id) if self.thumbnails is not None else None

    def tell(self, text: str, *, error: bool = False, seconds: int = 10) -> None:
        """A sentence for the user: the status bar, and a (non-blocking) box for errors."""
        log.log(logging.WARNING if error else logging.INFO, "%s", text)
        self.statusBar().showMessage(text, seconds * 1000)
        if error:
            box = QMessageBox(QMessageBox.Icon.Warning, "photoclust", text, QMessageBox.StandardButton.Ok, self)
            box.setModal(False)
            box.open()
            self._last_box = box

    # -- folders -------------------------------------------------------------------------
    def open_folder(self, folder: str | Path, *, index: bool = True, readonly: bool = False) -> bool:
        """Show FOLDER's saved clusters at once, then index (and cluster) what changed."""
        if self.runner.is_running():
            self.runner.cancel()
            if not self.runner.wait(5000):
                self.tell("Still finishing the current task; try again in a moment.", error=True)
                return False
        if self.library is not None and Path(folder).expanduser().resolve() == self.library.folder:
            self._close_folder()  # reopening: let go of our own writer lock first
        try:
            lib = Library.open(folder, readonly=True) if readonly else Library.open(folder)
        except LibraryLocked as err:
            try:
                lib = Library.open(folder, readonly=True)
            except LibraryError:
                self.tell(str(err), error=True)
                return False
            self.tell(f"{err} Opened read-only: edits are off.", error=True)
            index = False
        except LibraryDamaged as err:
            return self._offer_repair(folder, err, index=index)
        except LibraryError as err:
            self.tell(str(err), error=True)
            return False
        self._close_folder()
        self.live.clear()
        self.library = lib
        self._model_before, self._pending_notice = lib.model, None
        self.session = Session(lib, SessionState())  # empty until the worker has read the state
        self.session.subscribe(self._on_session_event)
        self.thumbnails = ThumbnailLoader(lib.folder, size=decode_size_for(self.grid_view.thumb_size()),
                                          pool=self.thumbnail_pool, parent=self)
        self.thumbnails.loaded.connect(self._on_thumbnail_loaded)
        self._map_full, self._map_dirty = True, set()
        self.cluster_model.set_session(self.session, self.thumbnails)
        self.grid_model.set_session(self.session, self.thumbnails)
        self.quality.set_library(lib, self.session)
        if "scipy.spatial" in sys.modules:  # clear the old map now; else the first state does it
            self.map_view.set_points(*self.session.layout())   # (importing scipy here would stall ~1 s)
        self.skipped_button.set_skips([])
        self.skipped_button.folder = lib.folder
        self.skipped_button.retry = None if lib.readonly else self.reindex
        self.settings.setValue("last_folder", str(lib.folder))
        self._update_title()
        self.actions.update()
        self.actions.load_granularity()
        if not lib.readonly:   # before the open's index scans: nothing falls between the two
            from photoclust_app.gui.folder_watch import FolderWatcher

            self.folder_watcher = FolderWatcher(lib.folder, self, background=True)
            self.folder_watcher.changed.connect(self._on_folder_changed)
        self.start_open_job(index=index and not lib.readonly)
        return True

    def _on_folder_changed(self) -> None:
        """Photos appeared or changed in the folder: index them now, or once the job running ends."""
        if self.runner.is_running():
            self._watch_pending = True
        else:
            self.reindex()

    def _offer_repair(self, folder, err: LibraryDamaged, *, index: bool) -> bool:
        """A damaged library: say so, and offer to move it aside (kept) and start afresh."""
        from PySide6.QtWidgets import QMessageBox

        from photoclust_app.core.store.connection import hold_writer_lock
        from photoclust_app.core.store.damage import move_aside
        from photoclust_app.core.store.location import library_path_for

        path = library_path_for(Path(folder).expanduser().resolve())
        answer = self.ask_repair(str(err).split(" Run ")[0], path)
        if answer != QMessageBox.StandardButton.Yes:
            self.tell(str(err), error=True)
            return False
        try:
            with hold_writer_lock(path):
                kept = move_aside(path)
        except (OSError, LibraryError) as move_err:
            self.tell(f"The damaged library could not be moved aside ({move_err}).", error=True)
            return False
        opened = self.open_folder(folder, index=index)
        if opened:
            self.tell(f"The damaged library was moved aside to {kept}; photoclust is indexing the folder afresh.")
        return opened

    def ask_repair(self, what: str, path: Path):
        """Ask whether to move a damaged library aside (tests replace this)."""
        from PySide6.QtWidgets import QMessageBox

        return QMessageBox.question(
            self, "Damaged library",
            f"{what}\n\nMove it aside and index the folder again? The damaged file is kept next to it "
            f"({path.name}.damaged-…); your photos are not touched.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)

    def start_open_job(self, *, index: bool = True) -> bool:
        job = jobs.open_folder_job(self.library, lambda: self.session.generation if self.session else -1,
                                   self.engine, model=self.model_name, device=self.device, index=index,
                                   cluster=self.auto_cluster, index_options=self.index_options)
        started = self.runner.start("open", job)
        if started:
            self.progress.begin("Opening\u2026" if not index else "Finding photos",
                                clustering_size=lambda: self.session.photo_count() if self.session else 0)
            self.actions.update()
        return started

    def reindex(self) -> None:
        if self.library is not None and not self.library.readonly and not self.runner.is_running():
            self.start_open_job(index=True)

    def _close_folder(self) -> None:
        if self.folder_watcher is not None:
            self.folder_watcher.stop()
            self.folder_watcher.deleteLater()
            self.folder_watcher, self._watch_pending = None, False
        self.actions.close_export()   # it holds this folder's session
        self.actions.close_viewer()
        self.quality.set_library(None, None)
        self.quality.runner.wait(5000)   # its reader connection is on this library's file
        if self.thumbnails is not None:
            self.thumbnails.close()
        self.cluster_model.set_session(None)
        self.grid_model.set_session(None)
        if self.library is not None:
            self.library.close()
        self.library = self.session = self.thumbnails = None

    def _update_title(self) -> None:
        if self.library is None:
            self.setWindowTitle("photoclust")
        else:
            ro = " (read-only)" if self.library.readonly else ""
            self.setWindowTitle(f"{self.library.folder.name}{ro} \u2014 photoclust")

    # -- worker results ------------------------------------------------------------------
    def _on_partial(self, kind: str, payload) -> None:
        if self.session is None:
            return
        if kind == "live":   # photos the index just committed: in the grid, list and map now
            self.live.apply(payload)
        elif kind == "state":
            generation, state = payload
            if generation == self.session.generation:
                self.session.install_state(state)
            else:  # the user edited while the worker read: read again here, edits win
                self.session.reload()
            self._after_state()
        elif kind == "skipped":
            self.skipped_button.set_skips(payload)
        elif kind == "index_report":
            self.last_report = payload
            self.quality.forget_vectors()
            notice = getattr(payload, "notice", None)
            if notice:
                self.settings.setValue("model_notice", notice)   # Settings explains the model with it
                # Said once: when this indexing is what put the library on the fallback model,
                # not at every launch of a library that already uses it.
                if getattr(payload, "model", None) != self._model_before:
                    self._pending_notice = notice
            self._model_before = getattr(payload, "model", None) or self._model_before
        elif kind == "plan":
            plan, undoable = payload
            if self.runner.cancel_requested:
                return  # cancelled while the fit ran: discard
            self.session.recluster(plan, undoable=undoable, text="Re-cluster new photos")
            self.actions.load_granularity()
        elif kind == "placement":
            if self.runner.cancel_requested or not len(payload.photo_ids):
                return
            self.session.place_new(payload)
            n, r = payload.n_placed, payload.n_review
            self.tell(f"{n} new photo{'s' if n != 1 else ''} joined their clusters"
                      + (f"; {r} wait{'s' if r == 1 else ''} in To review." if r else "."))
        elif kind == "cluster_error":
            self.tell(payload, error=True)

    def _after_state(self) -> None:
        self._update_summary()
        if not self.cluster_view.selectionModel().hasSelection() and self.cluster_model.rowCount() > 2:
            self.select_clusters([self.session.cluster_ids()[0]] if self.session.cluster_ids() else [None])
        self.stateInstalled.emit()

    def _on_task_finished(self, name: str, result) -> None:
        if name == "open":
            if result is not None:
                self._tell_indexed(result)
        elif name == "recluster" and self.session is not None:
            from photoclust_app.core.pipeline import granularity_text

            self.session.recluster(result, text=granularity_text(result) if result.settings else "Re-cluster")
            n = len([c for c in self.session.clusters() if c.size])
            self.tell(f"{n} group{'s' if n != 1 else ''} now; Ctrl+Z puts the previous clusters back.")
            self.actions.load_granularity()
        elif name == "split" and self.session is not None:
            try:
                parts = self.session.split(result)
            except Exception as err:
                self.tell(str(err), error=True)
            else:
                self.select_clusters([result.scope, *parts])
        elif name in ("tag", "untag"):
            self.tell(self.actions.tags_sentence(result))
        self._update_summary()
        self.taskEnded.emit(name, "finished")

    def _tell_indexed(self, r) -> None:
        """What an indexing did, counting photos as the status bar does (not skipped files)."""
        n = self.session.photo_count() if self.session is not None else r.found - len(r.skipped)
        parts = [f"Indexed: {n:,} photo{'s' if n != 1 else ''}", f"{r.embedded:,} embedded now"]
        if r.skipped:
            parts.append(f"{len(r.skipped):,} file{'s' if len(r.skipped) != 1 else ''} skipped")
        if r.missing:
            parts.append(f"{r.missing:,} missing")
        text = f"{', '.join(parts)} ({r.seconds:.1f} s)."
        notice, self._pending_notice = self._pending_notice, None
        if notice:
            self.tell(f"{notice} {text}", seconds=30)
        else:
            self.tell(text)

    def _on_task_cancelled(self, name: str, message: str) -> None:
        self.tell(message)
        self.taskEnded.emit(name, "cancelled")

    def _on_task_failed(self, name: str, message: str) -> None:
        self.tell(message, error=True)
        if name == "recluster":
            self.actions.load_granularity(force=True)   # the slider goes back to what the library has
        self.taskEnded.emit(name, "failed")

    def _on_idle(self) -> None:
        self.progress.end()
        self.actions.update()
        if self._close_when_idle:
            self.close()
        elif self._watch_pending:
            self._watch_pending = False
            QTimer.singleShot(0, self.reindex)

    def _update_summary(self) -> None:
        s = self.session
        if s is None:
            self.summary_label.setText("")
            return
        n = len([c for c in s.clusters() if c.size])
        new = s.new_count()
        self.summary_label.setText(f"{s.photo_count():,} photos \u00b7 {n} clusters \u00b7 "
                                   f"{s.unsorted_count():,} unsorted" + (f" ({new:,} new)" if new else ""))

    # -- session events ------------------------------------------------------------------
    def _on_session_event(self, event: str, payload: dict) -> None:
        if event == "history_changed":
            self.actions.update()
            self.actions.load_granularity()   # undo/redo may have put another level back
            return
        if event == "photos_added":   # a live batch: counts and header (LiveFill does the map)
            if not self.cluster_view.selectionModel().hasSelection() and not self.session.cluster_ids():
                self.select_clusters([None])   # a first index: show the photos as they come
            self._update_summary()
            self._update_header(recount=True)
            return
        if event != "clusters_changed" or payload.get("structure"):
            self.quality.schedule()   # cohesion and the figures follow the members (not a rename)
        self.quality.refresh_label()
        if event == "reset":
            self._map_full = True
        elif event == "assignments_changed":
            self._map_dirty.update(payload.get("photo_ids", ()))
        self._map_timer.start()  # coalesce a burst of edits into one map update
        self._update_summary()
        self._update_header()

    def _refresh_map(self) -> None:
        if self.session is None:
            return
        if self._map_full:   # photos indexed but not laid out yet keep their provisional place
            self.map_view.set_points(*self.live.overlay(*self.session.layout()))
        elif self._map_dirty:
            ids = sorted(self._map_dirty)
            self.map_view.update_clusters(ids, [-1 if (c := self.session.cluster_of(p)) is None else c
                                                for p in ids])
        else:
            self.map_view.refresh_labels()   # a rename or merge: the names on the map
        self._map_full, self._map_dirty = False, set()
        self._push_map_selection()

    def _split_from_badge(self, cluster_id: int) -> None:
        """The "Split?" badge of a cluster that looks mixed was clicked."""
        self.select_clusters([cluster_id])
        self.actions.split_cluster()

    def _on_map_activated(self, photo_id: int) -> None:
        if self.session is not None and photo_id >= 0:
            self._on_map_selection([photo_id])
            self.actions.view_photo(photo_id)

    def _on_thumbnail_loaded(self, photo_id: int) -> None:
        self.map_view.thumbnail_ready(photo_id)   # the zoomed map's thumbnails and the hover card

    # -- window state --------------------------------------------------------------------
    def _restore_geometry(self) -> None:
        geom = self.settings.value("geometry")
        if geom is not None:
            self.restoreGeometry(geom)
        state = self.settings.value("splitter")
        if state is not None:
            self.splitter.restoreState(state)

    def closeEvent(self, event) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("splitter", self.splitter.saveState())
        if self.runner.is_running():
            self.runner.cancel()
            if not self.runner.wait(3000):
                # A fit cannot be interrupted: hide now, close when the worker returns.
                self._close_when_idle = True
                self.hide()
                event.ignore()
                return
        self._close_folder()
        self.engine.close()
        self.settings.sync()
        super().closeEvent(event)

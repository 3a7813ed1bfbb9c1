"""Export dialog: one folder per cluster, a dry-run preview, progress with Cancel, and undo.

The preview is ``plan_export`` itself (it touches nothing), so the folder names shown are
exactly the ones the export creates. Export and undo run in a worker thread (undo verifies
hashes, which takes as long as a copy); every failure reaches the user as a sentence.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Signal, Slot

from photoclust_app.core import export as export_core
from photoclust_app.core.errors import PhotoclustError
from photoclust_app.gui.tasks import call_in_gui

log = logging.getLogger(__name__)

UNSORTED_FOLDER = export_core.UNSORTED_FOLDER
MODES = {
    "copy": ("Copy", "Copies every photo; the originals stay where they are."),
    "move": ("Move", "Moves every photo into its cluster folder; the originals leave their folder."),
    "symlink": ("Symbolic link", "Creates links that point at the originals; no extra space, "
                                 "but the links break if the originals move."),
    "hardlink": ("Hard link", "Gives each photo a second name on the same disk; no extra space, "
                              "and both names show the same file."),
}
MOVE_WARNING = ("Moving takes the photos out of the library folder: the next scan sees them as removed. "
                "Undo export moves them back.")
_VERB = {"copy": "Copied", "move": "Moved", "symlink": "Linked (symbolic links)", "hardlink": "Linked (hard links)"}


def _sentence(err: BaseException) -> str:
    """A user-readable sentence for any error the export can raise."""
    if isinstance(err, PhotoclustError) and str(err):
        return str(err)
    if isinstance(err, OSError):
        where = f" ({err.filename})" if err.filename else ""
        return f"The export could not go on: {err.strerror or err}{where}."
    return f"The export stopped because of an unexpected error ({type(err).__name__}: {err})."


class _Worker(QtCore.QObject):
    """Runs fn(progress, cancel) in a thread; progress is throttled to ~10 Hz."""

    progressed = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(str, str)   # message, manifest path ("" when nothing was written)

    def __init__(self, fn: Callable[[Callable, Callable], Any]):
        super().__init__()
        self._fn = fn
        self._cancel = threading.Event()
        self._last = 0.0

    def cancel(self) -> None:  # called from the GUI thread; an Event is thread-safe
        self._cancel.set()

    def _progress(self, done: int, total: int, stage: str) -> None:
        now = time.monotonic()
        if done >= total or now - self._last >= 0.1:
            self._last = now
            call_in_gui(self.progressed.emit, done, total)

    @Slot()
    def run(self) -> None:
        try:
            result = self._fn(self._progress, self._cancel.is_set)
        except BaseException as err:  # noqa: BLE001 - every failure becomes a sentence
            if not isinstance(err, (PhotoclustError, OSError)):
                log.exception("export task failed")
            call_in_gui(self.failed.emit, _sentence(err), str(getattr(err, "manifest", None) or ""))
        else:
            call_in_gui(self.succeeded.emit, result)


def _row(first: QtWidgets.QWidget, *rest: QtWidgets.QWidget) -> QtWidgets.QWidget:
    """A widget laying out FIRST (stretching) and REST in a row, without margins."""
    box = QtWidgets.QWidget()
    lay = QtWidgets.QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(first, 1)
    for w in rest:
        lay.addWidget(w)
    return box


class _PlanBridge(QtCore.QObject):
    """Carries a preview plan from its Python thread to the GUI thread (a queued signal)."""

    planned = Signal(int, object, str)   # generation, ExportPlan or None, error sentence


class ExportDialog(QtWidgets.QDialog):
    """Export a library's clusters to folders under a destination, and undo it."""

    exportFinished = Signal(str)   # manifest path
    undoFinished = Signal(object)  # UndoReport
    _idle = Signal()               # a worker has stopped and the dialog is usable again
    _previewReady = Signal()       # the preview matches the current options

    def __init__(self, library, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export clusters to folders")
        self._library = library
        self._groups, self._unsorted = library.cluster_paths()
        self._plan = None
        self._manifest: Path | None = None
        self._last_undo = None
        self._thread: QtCore.QThread | None = None
        self._worker: _Worker | None = None
        self._close_when_done = False
        self._plan_error = self._run_error = ""
        self._pending: tuple | None = None
        self._gen = self._planned_gen = 0      # option generations asked for / shown
        self._planning = False
        self._bridge = _PlanBridge(self)
        self._bridge.planned.connect(self._on_planned)
        self._build_ui()
        folder = Path(library.folder)
        self._dest.setText(str(folder.parent / f"{folder.name or 'Photos'} sorted"))
        self._refresh_preview()

    # -- UI ------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        form = QtWidgets.QFormLayout()
        self._dest = QtWidgets.QLineEdit()
        self._dest.setPlaceholderText("Folder to create the cluster folders in")
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        form.addRow("Destination:", _row(self._dest, browse))
        self._mode = QtWidgets.QComboBox()
        for key, (label, _) in MODES.items():
            self._mode.addItem(label, key)
        form.addRow("Mode:", self._mode)
        self._mode_note = QtWidgets.QLabel(wordWrap=True)
        form.addRow("", self._mode_note)
        self._move_warning = QtWidgets.QLabel(MOVE_WARNING, wordWrap=True)
        self._move_warning.setStyleSheet("color: #b35900;")
        form.addRow("", self._move_warning)
        self._unsorted_box = QtWidgets.QCheckBox(
            f"Include Unsorted ({len(self._unsorted)} photos) as a folder named “{UNSORTED_FOLDER}”")
        self._unsorted_box.setEnabled(bool(self._unsorted))
        form.addRow("", self._unsorted_box)

        self._table = QtWidgets.QTableWidget(0, 2)
        self._table.setHorizontalHeaderLabels(["Folder", "Photos"])
        self._table.horizontalHeader().setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self._table.horizontalHeader().setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self._table.verticalHeader().hide()
        self._table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self._summary = QtWidgets.QLabel()
        self._error = QtWidgets.QLabel(wordWrap=True)
        self._error.setStyleSheet("color: #c00000;")
        self._error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self._progress = QtWidgets.QProgressBar()
        self._cancel_btn = QtWidgets.QPushButton("Cancel")
        self._cancel_btn.clicked.connect(self.cancel_export)
        self._progress_box = _row(self._progress, self._cancel_btn)
        self._result = QtWidgets.QLabel(wordWrap=True)
        self._result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._show_btn = QtWidgets.QPushButton("Show in folder")
        self._show_btn.clicked.connect(self.show_in_folder)
        self._undo_btn = QtWidgets.QPushButton("Undo export")
        self._undo_btn.clicked.connect(self.start_undo)
        self._result_box = _row(self._result, self._show_btn, self._undo_btn)

        buttons = QtWidgets.QDialogButtonBox()
        self._export_btn = buttons.addButton("Export", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
        self._export_btn.setDefault(True)
        self._close_btn = buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Close)
        self._export_btn.clicked.connect(self.start_export)
        self._close_btn.clicked.connect(self.reject)

        lay = QtWidgets.QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(QtWidgets.QLabel("Preview (nothing is written until you press Export):"))
        lay.addWidget(self._table, 1)
        lay.addWidget(self._summary)
        lay.addWidget(self._error)
        lay.addWidget(self._progress_box)
        lay.addWidget(self._result_box)
        lay.addWidget(buttons)
        self._progress_box.hide()
        self._result_box.hide()
        self._error.hide()
        self.resize(560, 520)

        self._timer = QtCore.QTimer(self, singleShot=True, interval=300)
        self._timer.timeout.connect(self._refresh_preview)
        self._dest.textChanged.connect(lambda _: self._timer.start())
        self._mode.currentIndexChanged.connect(lambda _: self._refresh_preview())
        self._unsorted_box.toggled.connect(lambda _: self._refresh_preview())
        self._update_mode_note()

    def _browse(self) -> None:
        start = self._dest.text().strip() or str(Path(self._library.folder).parent)
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Export into", start)
        if path:
            self.set_destination(path)

    def _update_mode_note(self) -> None:
        mode = self.mode()
        self._mode_note.setText(MODES[mode][1])
        self._move_warning.setVisible(mode == "move")

    def _show_errors(self) -> None:
        """A failed run's message wins over the preview's until the options change."""
        text = self._run_error or self._plan_error
        self._error.setText(text)
        self._error.setVisible(bool(text))

    # -- test hooks / API ------------------------------------------------------------------
    def set_destination(self, path: str | Path) -> None:
        self._dest.setText(str(path))
        self._refresh_preview()

    def destination(self) -> str:
        return self._dest.text().strip()

    def set_mode(self, mode: str) -> None:
        i = self._mode.findData(mode)
        if i < 0:
            raise ValueError(f"unknown export mode {mode!r}")
        self._mode.setCurrentIndex(i)   # refreshes through currentIndexChanged

    def mode(self) -> str:
        return self._mode.currentData()

    def set_include_unsorted(self, on: bool) -> None:
        self._unsorted_box.setChecked(bool(on))

    def preview_rows(self) -> list[tuple[str, int]]:
        """(folder name as it will be created, photo count) for the current options."""
        self.wait_for_preview()
        return list(self._plan.folders) if self._plan is not None else []

    def wait_for_preview(self, timeout_ms: int = 120_000) -> None:
        """Block (running the event loop) until the preview matches the current options."""
        if self._timer.isActive():
            self._refresh_preview()
        if self._planned_gen == self._gen:
            return
        loop = QtCore.QEventLoop()
        self._previewReady.connect(loop.quit)
        QtCore.QTimer(loop, singleShot=True, interval=timeout_ms, timeout=loop.quit).start()
        try:
            loop.exec()
        finally:
            self._previewReady.disconnect(loop.quit)

    def error_text(self) -> str:
        """The sentence shown for the current options (waits for the preview)."""
        self.wait_for_preview()
        return self._error.text()

    def is_running(self) -> bool:
        return self._thread is not None

    # -- preview ----------------------------------------------------------------------------
    def _groups_now(self) -> list[tuple[str, list[Path]]]:
        groups = list(self._groups)
        if self._unsorted_box.isChecked() and self._unsorted:
            groups.append((UNSORTED_FOLDER, self._unsorted))
        return groups

    def _plan_args(self) -> tuple:
        """plan_export's arguments for the current options; ValueError says what is missing."""
        text = self.destination()
        if not text:
            raise ValueError("Choose a destination folder.")
        dest = Path(text).expanduser()
        if not dest.is_absolute():
            raise ValueError("Type the full path of the destination folder, or use Browse.")
        return self._groups_now(), dest, self.mode(), Path(self._library.folder)

    def _refresh_preview(self, *, keep_run_error: bool = False) -> None:
        """Plan again for the current options, in a thread: plan_export stats every photo
        (about 0.2 ms each, so seconds at 100k). A result for outdated options is dropped."""
        self._timer.stop()
        self._update_mode_note()
        if not keep_run_error:
            self._run_error = ""
        self._gen += 1
        self._plan = None
        self._export_btn.setEnabled(False)
        if not self._planning:
            self._launch_plan()
        if self._planned_gen != self._gen:
            self._summary.setText("Updating the preview…")

    def _launch_plan(self) -> None:
        gen = self._gen
        try:
            args = self._plan_args()
        except ValueError as err:
            self._on_planned(gen, None, str(err))
            return
        self._planning = True
        threading.Thread(target=self._plan_in_thread, args=(gen, args), daemon=True,
                         name="export-preview").start()

    def _plan_in_thread(self, gen: int, args: tuple) -> None:
        groups, dest, mode, root = args
        try:
            plan, err = export_core.plan_export(groups, dest, mode=mode, source_root=root), ""
        except BaseException as e:  # noqa: BLE001 - every failure becomes a sentence
            if not isinstance(e, (PhotoclustError, OSError)):
                log.exception("export preview failed")
            plan, err = None, _sentence(e)
        try:
            call_in_gui(self._bridge.planned.emit, gen, plan, err)   # queued to the GUI thread
        except RuntimeError:   # the dialog is gone
            pass

    @Slot(int, object, str)
    def _on_planned(self, gen: int, plan, error: str) -> None:
        self._planning = False
        if gen != self._gen:       # the options changed meanwhile: plan for the new ones
            self._launch_plan()
            return
        self._plan, self._plan_error, self._planned_gen = plan, error, gen
        self._show_errors()
        rows = plan.folders if plan is not None else []
        self._table.setRowCount(len(rows))
        for r, (name, count) in enumerate(rows):
            self._table.setItem(r, 0, QtWidgets.QTableWidgetItem(name))
            n = QtWidgets.QTableWidgetItem(str(count))
            n.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self._table.setItem(r, 1, n)
        total = sum(c for _, c in rows)
        self._summary.setText(f"{total} photos into {len(rows)} folders." if rows else "")
        self._export_btn.setEnabled(plan is not None and not self.is_running())
        self._previewReady.emit()

    # -- running ------------------------------------------------------------------------------
    def _start(self, fn, on_success) -> None:
        self._thread = QtCore.QThread(self)
        self._worker = _Worker(fn)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progressed.connect(self._on_progress)
        # Bound methods of this dialog, not lambdas: PySide runs a lambda slot in the
        # emitting (worker) thread, and these touch widgets.
        self._on_success = on_success
        self._worker.succeeded.connect(self._on_succeeded)
        self._worker.failed.connect(self._on_failed)
        self._worker.succeeded.connect(self._thread.quit)
        self._worker.failed.connect(self._thread.quit)
        self._thread.finished.connect(self._on_thread_done)
        for w in (self._dest, self._mode, self._unsorted_box, self._export_btn, self._undo_btn):
            w.setEnabled(False)
        self._run_error = ""
        self._show_errors()
        self._progress.setRange(0, 0)
        self._cancel_btn.setEnabled(True)
        self._progress_box.show()
        self._thread.start()

    @Slot(object)
    def _on_succeeded(self, result) -> None:
        self._on_success(result)

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self._progress.setRange(0, max(total, 1))
        self._progress.setValue(done)

    def start_export(self) -> None:
        """Run the previewed plan in a worker. A plan made a while ago is still safe:
        run_export checks it again and never overwrites a file that appeared since."""
        if self.is_running():
            return
        self.wait_for_preview()
        if self._plan is None:
            return
        plan = self._plan
        self._result_box.hide()
        self._start(lambda progress, cancel: export_core.run_export(plan, progress=progress, cancel=cancel),
                    lambda manifest: self._on_exported(plan, manifest))

    def cancel_export(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._cancel_btn.setEnabled(False)

    def _on_exported(self, plan, manifest) -> None:
        self._manifest = Path(manifest)
        n, k = len(plan.items), len(plan.folders)
        self._show_result(f"{_VERB.get(plan.mode, 'Exported')} {n} photos into {k} folders in {plan.dest}.")
        self._pending = (self.exportFinished, str(manifest))

    @Slot(str, str)
    def _on_failed(self, message: str, manifest: str) -> None:
        self._run_error = message
        self._show_errors()
        if manifest:   # cancelled or stopped part-way: what was done can be undone
            self._manifest = Path(manifest)
            self._show_result("Part of the export was done; Undo export reverses it.")

    def _show_result(self, text: str) -> None:
        self._result.setText(text)
        self._result_box.show()

    @Slot()
    def _on_thread_done(self) -> None:
        self._thread.deleteLater()
        self._worker.deleteLater()
        self._thread = self._worker = None
        self._progress_box.hide()
        for w in (self._dest, self._mode, self._unsorted_box):
            w.setEnabled(True)
        self._undo_btn.setEnabled(self._manifest is not None)
        self._refresh_preview(keep_run_error=True)
        pending, self._pending = self._pending, None
        if pending is not None:   # announced once the dialog is usable again
            pending[0].emit(pending[1])
        self._idle.emit()
        if self._close_when_done:
            super().reject()

    # -- after the export -----------------------------------------------------------------------
    def manifest_path(self) -> Path | None:
        return self._manifest

    def show_in_folder(self) -> None:
        dest = self._manifest.parent if self._manifest is not None else Path(self.destination())
        QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(dest)))

    def start_undo(self) -> None:
        """Reverse the last export in a worker; the report appears in the result area."""
        if self.is_running() or self._manifest is None:
            return
        manifest = self._manifest
        self._start(lambda progress, cancel: export_core.undo_export(manifest, progress=progress),
                    self._on_undone)
        self._cancel_btn.setEnabled(False)   # undo runs to the end; it is safe to repeat

    def _on_undone(self, report) -> None:
        self._last_undo = report
        refused = list(report.refused)
        text = f"Undo: {report.removed} exported files removed, {report.restored} photos moved back"
        if refused:
            path, reason = refused[0]
            text += (f"; {len(refused)} left alone (e.g. {Path(path).name}: {reason}). "
                     "Fix those and press Undo export again.")
        else:
            text += "."
            self._manifest = None   # undo_export deleted it
        self._show_result(text)
        self._pending = (self.undoFinished, report)

    def undo_last_export(self):
        """Undo synchronously (waits for the worker); returns the UndoReport, or None."""
        if self._manifest is None or self.is_running():
            return None
        loop = QtCore.QEventLoop()
        self._idle.connect(loop.quit)   # emitted from the event loop, so it cannot be missed
        try:
            self._last_undo = None
            self.start_undo()
            if self.is_running():
                loop.exec()
        finally:
            self._idle.disconnect(loop.quit)
        return self._last_undo

    # -- closing --------------------------------------------------------------------------------
    def reject(self) -> None:
        """Closing while running cancels first and closes when the worker has stopped."""
        if self.is_running():
            self._close_when_done = True
            self.cancel_export()
            return
        super().reject()

    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:
        if self.is_running():
            ev.ignore()
            self.reject()
        else:
            super().closeEvent(ev)

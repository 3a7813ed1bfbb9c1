"""Export dialog: one folder per cluster, a dry-run preview, progress with Cancel, and undo.

The dialog is not modal, so the clusters it exports are read from the session each time
they are needed (``Session.export_groups``): when the preview is planned, again whenever the
session changes, and once more when Export is pressed, so a rename or a move made while the
dialog is open is what gets exported. The preview is ``plan_export`` itself (it touches
nothing), so the folder names shown are exactly the ones the export creates. Planning,
export and undo run as tasks (gui/tasks/): planning stats every photo, undo verifies hashes;
every failure reaches the user as a sentence.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Signal

from photoclust_app.core import export as export_core
from photoclust_app.gui import export_texts as texts
from photoclust_app.gui.tasks import TaskRunner

log = logging.getLogger(__name__)

UNSORTED_FOLDER = export_core.UNSORTED_FOLDER


def plan_for(groups, dest, mode, root, others, fresh, left_out=()):
    """(plan or None, UpdateInfo or None, earlier exports in dest, copies to supersede): an
    update of the earlier export in dest unless ``fresh`` or there is none (then an ordinary
    export). LEFT_OUT: copies "one per duplicate group" leaves out (then a separate export,
    as on the command line: an update keeps the copies it made before)."""
    if left_out:
        others = list(others) + [p for p, _ in left_out]
        earlier = export_core.earlier_exports(dest, root)[0] if str(dest).strip() else 0
        return (export_core.plan_export(groups, dest, mode=mode, source_root=root, others=others, left_out=left_out),
                None, earlier, [])
    if not fresh:
        up = export_core.plan_update(groups, dest, mode=mode, source_root=root, others=others)
        if up is not None:
            return up.plan, up.info, up.info.earlier, up.supersede
        earlier = 0
    else:
        earlier = export_core.earlier_exports(dest, root)[0] if str(dest).strip() else 0
    return export_core.plan_export(groups, dest, mode=mode, source_root=root, others=others), None, earlier, []


def _row(first: QtWidgets.QWidget, *rest: QtWidgets.QWidget) -> QtWidgets.QWidget:
    """A widget laying out FIRST (stretching) and REST in a row, without margins."""
    box = QtWidgets.QWidget()
    lay = QtWidgets.QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(first, 1)
    for w in rest:
        lay.addWidget(w)
    return box


class ExportDialog(QtWidgets.QDialog):
    """Export a session's clusters to folders under a destination, and undo it."""

    exportFinished = Signal(str)   # manifest path
    undoFinished = Signal(object)  # UndoReport
    _idle = Signal()               # a task has stopped and the dialog is usable again
    _previewReady = Signal()       # the preview matches the current options and clusters

    def __init__(self, session, parent: QtWidgets.QWidget | None = None, settings: QtCore.QSettings | None = None):
        super().__init__(parent)
        self._settings = settings   # remembers the last destination and mode
        self._update_info = None    # UpdateInfo of the shown plan when it updates an earlier export
        self._supersede: list = []  # the earlier copies that plan replaces
        self.setWindowTitle("Export clusters to folders")
        self._session = session
        self._unsubscribe = None
        self._plan = None
        self._plan_groups: list | None = None   # what the shown plan was made from
        self._manifest: Path | None = None
        self._last_undo = None
        self._close_when_done = False
        self._plan_error = self._run_error = ""
        self._pending: tuple | None = None
        self._run_left_manifest = False
        self._moved_away = False  # a move export just took the photos out: no preview of "nothing left"
        self._gen = self._planned_gen = 0      # generations of options and clusters asked for / shown
        self._planning: tuple | None = None    # (generation, groups) of the plan being made
        self._planner = TaskRunner(self, describe=texts.sentence)
        self._planner.finished.connect(self._on_plan_finished)
        self._planner.failed.connect(self._on_plan_failed)
        self._planner.cancelled.connect(self._on_plan_failed)
        self._runner = TaskRunner(self, describe=texts.sentence)
        self._runner.progress.connect(self._on_progress)
        self._runner.partial.connect(self._on_run_partial)
        self._runner.finished.connect(self._on_run_finished)
        self._runner.failed.connect(self._on_run_failed)
        self._runner.cancelled.connect(self._on_run_failed)
        self._runner.idle.connect(self._on_run_idle)
        self._build_ui()
        folder = Path(session.folder)
        last = settings.value("export/dest", "") if settings is not None else ""
        self._dest.setText(str(last) if last else str(folder.parent / f"{folder.name or 'Photos'} sorted"))
        i = self._mode.findData(settings.value("export/mode", "copy")) if settings is not None else -1
        if i >= 0:
            self._mode.setCurrentIndex(i)
        self._unsubscribe = session.subscribe(self._on_session_event)
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
        for key, (label, _) in texts.MODES.items():
            self._mode.addItem(label, key)
        form.addRow("Mode:", self._mode)
        self._mode_note = QtWidgets.QLabel(wordWrap=True)
        form.addRow("", self._mode_note)
        self._move_warning = QtWidgets.QLabel(texts.MOVE_WARNING, wordWrap=True)
        self._move_warning.setStyleSheet("color: #b35900;")
        form.addRow("", self._move_warning)
        self._unsorted_box = QtWidgets.QCheckBox()   # its text counts Unsorted: _update_unsorted_box
        form.addRow("", self._unsorted_box)
        self._fresh_box = QtWidgets.QCheckBox("Export separately (a second set of files beside the earlier export)")
        form.addRow("", self._fresh_box)
        self._fresh_box.hide()
        self._dupes, self._left_out = [], []  # stored duplicate groups; copies this export leaves out
        self._dupes_box = QtWidgets.QCheckBox()   # its text counts the copies: _update_dupes_box
        self._dupes_box.setToolTip("Export only the keeper of each group of identical or near-identical copies "
                                   "that Find Duplicates listed; the copies left out are listed in the manifest.")
        form.addRow("", self._dupes_box)
        self._xmp_box = QtWidgets.QCheckBox("Also write the cluster names as XMP keywords beside the photos "
                                            "(digiKam, darktable, Lightroom)")
        form.addRow("", self._xmp_box)

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
        self._dupes_box.toggled.connect(lambda _: self._refresh_preview())
        self._fresh_box.toggled.connect(lambda _: self._refresh_preview())
        self._update_mode_note()

    def _browse(self) -> None:
        start = self._dest.text().strip() or str(Path(self._session.folder).parent)
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Export into", start)
        if path:
            self.set_destination(path)

    def _update_mode_note(self) -> None:
        mode = self.mode()
        self._mode_note.setText(texts.MODES[mode][1])
        self._move_warning.setVisible(mode == "move")
        self._xmp_box.setEnabled(mode != "move")   # the sidecars would stay behind
        if mode == "move":
            self._xmp_box.setChecked(False)

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

    def set_write_xmp(self, on: bool) -> None:
        self._xmp_box.setChecked(bool(on))

    def set_fresh(self, on: bool) -> None:
        """A separate export even where the destination holds an earlier one."""
        self._fresh_box.setChecked(bool(on))

    def update_info(self):
        """The UpdateInfo of the current preview (waits for it); None for an ordinary export."""
        self.wait_for_preview()
        return self._update_info

    def summary_text(self) -> str:
        self.wait_for_preview()
        return self._summary.text()

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
        return self._runner.is_running()

    # -- the session ------------------------------------------------------------------------
    def _on_session_event(self, event: str, payload: dict) -> None:
        """Any change to clusters or assignments: plan the preview again (after a pause, so a
        burst of edits plans once). While a task runs, its end plans again anyway."""
        if event == "history_changed":
            return
        try:
            if not self.is_running():
                self._timer.start()
        except RuntimeError:   # the dialog is gone: stop listening
            self._stop_listening()

    def showEvent(self, ev: QtGui.QShowEvent) -> None:  # noqa: N802 (Qt name)
        if self._unsubscribe is None:   # shown again after a close: catch up and listen again
            self._unsubscribe = self._session.subscribe(self._on_session_event)
            self._refresh_preview()
        super().showEvent(ev)

    def _stop_listening(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _groups_now(self) -> list[tuple[str, list[Path]]]:
        """(folder name, member paths) per cluster as the session holds them now; with "one
        per duplicate group", without the copies (self._left_out lists them)."""
        groups = self._session.export_groups(include_unsorted=self._unsorted_box.isChecked(),
                                             unsorted_name=UNSORTED_FOLDER)
        self._left_out = []
        if self._dupes_box.isChecked() and self._dupes_box.isEnabled():
            from photoclust_app.core.dedupe.export_filter import one_per_group

            s = self._session
            live = set(s.photo_ids())
            paths = {p: s.photo_path(p) for _, _, members in self._dupes for p in members if p in live}
            groups, self._left_out = one_per_group(groups, self._dupes, paths)
        return groups

    def _update_dupes_box(self) -> None:
        """The duplicate groups Find Duplicates stored (identical and near-identical copies)."""
        try:
            self._dupes = self._session.library.duplicate_groups()
        except Exception:  # a library without the table (read-only, older): no such option
            log.debug("no stored duplicate groups", exc_info=True)
            self._dupes = []
        copies = sum(len(m) - 1 for _, _, m in self._dupes)
        self._dupes_box.setText(f"One photo per duplicate group ({copies} cop{'y' if copies == 1 else 'ies'} left out)" if copies else
                                "One photo per duplicate group (run File \u203a Find Duplicates first)")
        self._dupes_box.setEnabled(bool(copies) and not self.is_running())

    def _others(self) -> list[Path]:
        """Library photos this export leaves out (Unsorted when not included): DEST must not
        hold any of them either, or the next scan would skip them with the export."""
        if self._unsorted_box.isChecked():
            return []
        s = self._session
        return [s.photo_path(p) for p in s.members(None) if not s.is_missing(p)]

    def _update_unsorted_box(self) -> None:
        n = len(self._session.members(None))
        self._unsorted_box.setText(f"Include Unsorted ({n} photos) as a folder named \u201c{UNSORTED_FOLDER}\u201d")
        self._unsorted_box.setEnabled(bool(n) and not self.is_running())

    # -- preview ----------------------------------------------------------------------------
    def _destination_path(self) -> Path:
        """The destination typed; ValueError says what is wrong with it."""
        text = self.destination()
        if not text:
            raise ValueError("Choose a destination folder.")
        dest = Path(text).expanduser()
        if not dest.is_absolute():
            raise ValueError("Type the full path of the destination folder, or use Browse.")
        return dest

    def _refresh_preview(self, *, keep_run_error: bool = False) -> None:
        """Plan again for the current options and clusters, as a task: plan_export stats
        every photo (about 0.2 ms each, so seconds at 100k). A plan for outdated options or
        clusters is not shown; the newest request is planned when the running one ends."""
        self._timer.stop()
        self._update_mode_note()
        self._update_unsorted_box()
        self._update_dupes_box()
        if not keep_run_error:
            self._run_error = ""
        self._gen += 1
        self._plan = self._plan_groups = None
        self._export_btn.setEnabled(False)
        if self._planning is None:
            self._launch_plan()
        if self._planned_gen != self._gen:
            self._summary.setText("Updating the preview\u2026")

    def _launch_plan(self) -> None:
        gen = self._gen
        try:
            dest = self._destination_path()
        except ValueError as err:
            self._planning = (gen, None)
            self._on_planned(None, str(err))
            return
        groups, mode, root, others = self._groups_now(), self.mode(), Path(self._session.folder), self._others()
        fresh, left_out = self._fresh_box.isChecked(), list(self._left_out)
        self._planning = (gen, groups)
        self._planner.start("preview", lambda ctx: plan_for(groups, dest, mode, root, others, fresh, left_out))

    def _on_plan_finished(self, _name: str, result) -> None:
        plan, info, earlier, self._supersede = result
        self._on_planned(plan, "", info, earlier)

    def _on_plan_failed(self, _name: str, error: str) -> None:
        self._on_planned(None, error)

    def _on_planned(self, plan, error: str, info=None, earlier: int = 0) -> None:
        (gen, groups), self._planning = self._planning, None
        if gen != self._gen:       # the options or the clusters changed meanwhile: plan for now
            self._launch_plan()
            return
        self._plan, self._plan_groups, self._plan_error, self._planned_gen = plan, groups, error, gen
        self._update_info = info
        self._fresh_box.setVisible(bool(earlier) or self._fresh_box.isChecked())
        self._show_errors()
        rows = plan.folders if plan is not None else []
        self._table.setRowCount(len(rows))
        for r, (name, count) in enumerate(rows):
            self._table.setItem(r, 0, QtWidgets.QTableWidgetItem(name))
            n = QtWidgets.QTableWidgetItem(str(count))
            n.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self._table.setItem(r, 1, n)
        total = sum(c for _, c in rows)
        text = f"{total} photos into {len(rows)} folders.{texts.skipped_note(plan)}" if rows else ""
        if info is not None:   # an update: say what it adds and what it leaves, before Export
            text = " ".join(info.lines()) + (" Nothing new to export." if plan is None else "")
        self._summary.setText(text)
        self._summary.setWordWrap(True)
        self._summary.setToolTip(texts.skipped_list(plan))
        self._export_btn.setEnabled(plan is not None and not self.is_running())
        self._previewReady.emit()

    # -- running ------------------------------------------------------------------------------
    def _start(self, name: str, job, on_success) -> None:
        self._on_success = on_success
        self._run_left_manifest = False
        for w in (self._dest, self._mode, self._unsorted_box, self._dupes_box, self._fresh_box, self._xmp_box,
                  self._export_btn,
                  self._undo_btn):
            w.setEnabled(False)
        self._run_error = ""
        self._show_errors()
        self._progress.setRange(0, 0)
        self._cancel_btn.setEnabled(True)
        self._progress_box.show()
        # A result that lands after Cancel is kept: the files it stands for are on disk.
        self._runner.start(name, job, discard_if_cancelled=False)

    def _on_progress(self, done: int, total: int, stage: str) -> None:
        self._progress.setRange(0, max(total, 1))
        self._progress.setValue(done)

    def start_export(self) -> None:
        """Export the clusters as the session holds them now. The previewed plan is used when
        they have not changed since it was made; else the export plans again first. A plan
        made a while ago is still safe: run_export checks it again and never overwrites a
        file that appeared since."""
        if self.is_running():
            return
        self.wait_for_preview()
        if self._plan is None:
            return
        plan, groups = self._plan, self._groups_now()
        if self._settings is not None:
            self._settings.setValue("export/dest", self.destination())
            self._settings.setValue("export/mode", self.mode())
        if groups != self._plan_groups:   # an edit since the preview: export what is there now
            dest, mode, root, others = plan.dest, plan.mode, Path(self._session.folder), self._others()
            fresh, left_out = self._fresh_box.isChecked(), list(self._left_out)

            def fresh_plan(ctx):
                ctx.progress(0, 0, "plan")
                p, info, _, sup = plan_for(groups, dest, mode, root, others, fresh, left_out)
                if p is None:
                    raise export_core.ExportConflict("Nothing new to export: the earlier export there is up to date.")
                return p, info, sup
        else:
            shown = (plan, self._update_info, list(self._supersede))

            def fresh_plan(ctx):
                return shown

        tag = None
        if self._xmp_box.isChecked() and self._xmp_box.isEnabled():
            from photoclust_app.core import tags

            s = self._session
            tag_args = (s.export_groups(), [s.photo_path(p) for p in s.members(None) if not s.is_missing(p)],
                        Path(s.folder), tags.journal_dir(s.library))
            tag = lambda: tags.tag_photos(*tag_args)   # noqa: E731

        def job(ctx):
            p, info, sup = fresh_plan(ctx)
            ctx.check_cancel()
            if sup:   # an update that also replaces earlier copies (core/export/update.py)
                manifest, _left = export_core.run_update(export_core.UpdatePlan(p, info, sup), progress=ctx.progress,
                                                         cancel=ctx.cancelled)
            else:
                manifest = export_core.run_export(p, progress=ctx.progress, cancel=ctx.cancelled)
            return p, manifest, tag() if tag is not None else None

        self._result_box.hide()
        self._start("export", texts.keeping_manifest(job), lambda result: self._on_exported(*result))

    def cancel_export(self) -> None:
        if self.is_running():
            self._runner.cancel()
            self._cancel_btn.setEnabled(False)

    def _on_exported(self, plan, manifest, tagged=None) -> None:
        self._manifest = Path(manifest)
        refused = {src for src, _ in plan.skipped}
        n, k = sum(1 for src, _ in plan.items if src not in refused), len(plan.folders)
        verb = "Updated the earlier export: added" if self._update_info is not None else \
            texts.VERB.get(plan.mode, "Exported")
        self._show_result(f"{verb} {n} photos into {k} folders in {plan.dest}."
                          f"{texts.skipped_note(plan)}")
        if tagged is not None:
            self._result.setText(self._result.text() + f" Tags written to {tagged.written} XMP sidecars beside the "
                                 f"photos ({tagged.unchanged} already up to date).")
        self._result.setToolTip(texts.skipped_list(plan))
        self._moved_away = plan.mode == "move"
        self._pending = (self.exportFinished, str(manifest))

    def _on_run_partial(self, kind: str, payload) -> None:
        if kind == "manifest":   # stopped part-way: what was done can be undone
            self._manifest = Path(payload)
            self._run_left_manifest = True

    def _on_run_finished(self, _name: str, result) -> None:
        self._on_success(result)

    def _on_run_failed(self, _name: str, message: str) -> None:
        self._run_error = message
        self._show_errors()
        if self._run_left_manifest:
            self._show_result("Part of the export was done; Undo export reverses it.")

    def _show_result(self, text: str) -> None:
        self._result.setText(text)
        self._result_box.show()

    def _on_run_idle(self) -> None:
        self._progress_box.hide()
        for w in (self._dest, self._mode, self._fresh_box):
            w.setEnabled(True)
        self._xmp_box.setEnabled(self.mode() != "move")
        self._undo_btn.setEnabled(self._manifest is not None)
        if self._moved_away:  # the photos now live in DEST: a preview would only say so in red
            self._moved_away = False
            self._table.setRowCount(0)
            self._summary.setText("The photos now live in the export; the library keeps their clusters and "
                                  "names (Undo export brings them back).")
        else:
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
        self._start("undo", lambda ctx: export_core.undo_export(manifest, progress=ctx.progress), self._on_undone)
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
    def done(self, result: int) -> None:
        self._stop_listening()
        super().done(result)

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
            self._stop_listening()
            super().closeEvent(ev)

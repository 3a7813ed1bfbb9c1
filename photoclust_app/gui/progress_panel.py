"""Status-bar widgets: task progress (stage, n/N, photos/s, time left, Cancel) and the count
of skipped files with their reasons (a dialog lists them, with actions).

Clustering stages report only their start and end; while they run, a StageEstimate
(tasks/stage_eta.py) drives the bar from a timer and says the time left, from the photo
count and the speeds earlier runs measured (kept in the settings, learnt at each end).
"""
from __future__ import annotations

import time
from collections import Counter

from typing import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel, QProgressBar,
                               QPushButton, QTableWidget, QTableWidgetItem, QToolButton, QVBoxLayout, QWidget)

from photoclust_app.core.display import printable_path
from photoclust_app.gui.tasks import RateMeter
from photoclust_app.gui.tasks.stage_eta import STAGES as CLUSTER_STAGES, StageEstimate, StageSpeeds

STAGE_NAMES = {"scan": "Finding photos", "hash": "Checking for changes", "index": "Indexing",
               "cluster": "Clustering", "umap": "Reducing", "hdbscan": "Clustering", "layout": "Laying out the map",
               "names": "Naming clusters", "split": "Splitting", "neighbours": "Finding neighbours",
               "reduce": "Reducing", "refine": "Refining from the full photos"}
INDEX_STAGES = ("scan", "hash", "index", "colour")
ETA_STEPS = 1000        # the bar's range while the clock drives it
ETA_TICK_MS = 200


def stage_name(stage: str) -> str:
    """A stage as the user reads it; one we do not know by its own name, tidied."""
    return STAGE_NAMES.get(stage, stage.replace("_", " ").capitalize())


def format_seconds(s: float) -> str:
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


class ProgressPanel(QWidget):
    cancelRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setFixedWidth(180)
        self.bar.setTextVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.clicked.connect(self._cancel)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel_button)
        self._rate = RateMeter()
        # How many photos this task's clustering covers (given to begin; None: no clustering
        # to time, e.g. a split), and where measured speeds are kept (the window sets it).
        self.clustering_size: Callable[[], int] | None = None
        self.speeds: StageSpeeds | None = None
        self.eta: StageEstimate | None = None
        self.clock = time.monotonic
        self._eta_stage = ""
        self._eta_timer = QTimer(self)
        self._eta_timer.setInterval(ETA_TICK_MS)
        self._eta_timer.timeout.connect(self._tick)
        self.hide()

    def begin(self, text: str, *, clustering_size: Callable[[], int] | None = None) -> None:
        """A task starts; CLUSTERING_SIZE: the photo count its clustering stages will cover,
        asked when they begin (so photos indexed meanwhile count)."""
        self._stop_eta(learn=False)
        self.clustering_size = clustering_size
        self._rate = RateMeter()
        self.label.setText(text)
        self.bar.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.show()

    def update_progress(self, done: int, total: int, stage: str) -> None:
        if self.eta is not None and stage in INDEX_STAGES:   # a new round of indexing (not clustering)
            self._stop_eta(learn=True)
        if self.eta is None and total > 0 and stage in CLUSTER_STAGES and self.clustering_size is not None:
            self.eta = StageEstimate(self.clustering_size(), self.speeds.load() if self.speeds else None, self.clock)
        if self.eta is not None:
            if total > 0 or stage != self._eta_stage:
                self.eta.report(done, total, stage)
                self._eta_stage = stage
            self._tick()
            self._eta_timer.start()
            self.show()
            return
        rate, left = self._rate.update(done, total, stage)
        name = stage_name(stage)
        parts = [name]
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
            parts.append(f"{done:,} / {total:,}")
            if rate and stage in ("index", "hash"):
                parts.append(f"{rate:.1f} photos/s")
            if left is not None and rate:
                parts.append(f"{format_seconds(left)} left")
        else:
            self.bar.setRange(0, 0)
        self.label.setText(" \u00b7 ".join(parts))
        self.show()

    def _tick(self) -> None:
        """The clock moves the bar between the stages' reports; the label says the time left."""
        eta = self.eta
        if eta is None:
            return
        self.bar.setRange(0, ETA_STEPS)
        self.bar.setValue(int(eta.fraction() * ETA_STEPS))
        self.label.setText(f"Clustering \u00b7 {eta.text()}")
        step = eta.stage or self._eta_stage
        self.label.setToolTip(f"Now: {stage_name(step)}" if step else "")

    def _stop_eta(self, *, learn: bool) -> None:
        self._eta_timer.stop()
        if self.eta is not None and learn and self.speeds is not None:
            self.eta.abandon()   # a stage still running did not finish: not measured
            self.speeds.learn(self.eta.measured())
        self.eta, self._eta_stage = None, ""
        self.label.setToolTip("")

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling\u2026")
        self.cancelRequested.emit()

    def end(self) -> None:
        """The task is over: the stages that ended teach their speed to the next estimate."""
        self._stop_eta(learn=True)
        self.hide()


class SkippedButton(QPushButton):
    """"N skipped": the files not in the index, with why; a click lists them all. The window
    sets ``folder`` (to find the files) and ``retry`` (re-index) for the dialog's actions."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFlat(True)
        self.skips: list = []
        self.folder = None
        self.retry = None
        self.dialog: SkippedDialog | None = None
        self.clicked.connect(self.show_dialog)
        self.set_skips([])

    def set_skips(self, skips: list) -> None:
        self.skips = list(skips)
        self.setVisible(bool(self.skips))
        n = len(self.skips)
        self.setText(f"{n} file{'s' if n != 1 else ''} skipped")
        reasons = Counter(s.reason for s in self.skips)
        self.setToolTip("\n".join(f"{c} \u00d7 {r}" for r, c in reasons.most_common(8)))

    def show_dialog(self) -> None:
        self.dialog = SkippedDialog(self.skips, self.window(), folder=self.folder, retry=self.retry)
        self.dialog.exec()
        self.dialog = None


class SkippedDialog(QDialog):
    """The skipped files with their reasons, each reason in full; Show in Folder for the
    selected file, and Retry, which indexes the folder again (a fixed file joins then)."""

    def __init__(self, skips: list, parent=None, *, folder=None, retry=None):
        super().__init__(parent)
        self.setWindowTitle("Skipped files")
        self.resize(820, 440)
        self.skips, self.folder, self._retry = list(skips), folder, retry
        table = QTableWidget(len(skips), 2, self)
        table.setHorizontalHeaderLabels(["File", "Reason"])
        for row, s in enumerate(skips):
            name = QTableWidgetItem(printable_path(s.relpath))
            name.setToolTip(printable_path(s.relpath))
            reason = QTableWidgetItem(s.reason)
            reason.setToolTip(s.reason)
            table.setItem(row, 0, name)
            table.setItem(row, 1, reason)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)           # names elide in the middle
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)  # reasons are read in full
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        table.setWordWrap(False)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        table.verticalHeader().hide()
        if skips:
            table.selectRow(0)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.show_button = buttons.addButton("Show in Folder", QDialogButtonBox.ButtonRole.ActionRole)
        self.retry_button = buttons.addButton("Retry (Re-index)", QDialogButtonBox.ButtonRole.ActionRole)
        self.retry_button.setToolTip("Index the folder again: files fixed since then join the library.")
        self.show_button.setEnabled(folder is not None and bool(skips))
        self.retry_button.setEnabled(retry is not None)
        self.show_button.clicked.connect(self.show_selected)
        self.retry_button.clicked.connect(self.retry)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("These files are not in the library. Fix or remove them, then Retry."))
        lay.addWidget(table)
        lay.addWidget(self.status)
        lay.addWidget(buttons)
        self.table = table

    def selected_path(self):
        from pathlib import Path

        row = self.table.currentRow()
        if self.folder is None or not 0 <= row < len(self.skips):
            return None
        return Path(self.folder) / self.skips[row].relpath

    def show_selected(self) -> bool:
        from photoclust_app.gui.desktop import show_in_folder

        path = self.selected_path()
        if path is None:
            return False
        if not show_in_folder(path):
            self.status.setText(f"No file manager could be opened here; the file is at {printable_path(str(path))}.")
            self.status.show()
            return False
        return True

    def retry(self) -> None:
        if self._retry is not None:
            self._retry()
            self.accept()

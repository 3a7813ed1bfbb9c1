"""Status-bar widgets: task progress (stage, n/N, photos/s, time left, Cancel) and the count
of skipped files with their reasons (a dialog lists them, with actions)."""
from __future__ import annotations

from collections import Counter

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel, QProgressBar,
                               QPushButton, QTableWidget, QTableWidgetItem, QToolButton, QVBoxLayout, QWidget)

from photoclust_app.core.display import printable_path
from photoclust_app.gui.tasks import RateMeter

STAGE_NAMES = {"scan": "Finding photos", "hash": "Checking for changes", "index": "Indexing",
               "cluster": "Clustering", "umap": "Reducing", "hdbscan": "Clustering", "layout": "Laying out the map",
               "names": "Naming clusters", "split": "Splitting"}


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
        self.hide()

    def begin(self, text: str) -> None:
        self._rate = RateMeter()
        self.label.setText(text)
        self.bar.setRange(0, 0)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.show()

    def update_progress(self, done: int, total: int, stage: str) -> None:
        rate, left = self._rate.update(done, total, stage)
        name = STAGE_NAMES.get(stage, stage.replace("_", " ").capitalize())
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

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling\u2026")
        self.cancelRequested.emit()

    def end(self) -> None:
        self.hide()


class SkippedButton(QPushButton):
    """"N skipped": the files not in the index, with why; a click lists them all."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFlat(True)
        self.skips: list = []
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
        SkippedDialog(self.skips, self.window()).exec()


class SkippedDialog(QDialog):
    def __init__(self, skips: list, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Skipped files")
        self.resize(720, 420)
        table = QTableWidget(len(skips), 2, self)
        table.setHorizontalHeaderLabels(["File", "Reason"])
        for row, s in enumerate(skips):
            table.setItem(row, 0, QTableWidgetItem(printable_path(s.relpath)))
            table.setItem(row, 1, QTableWidgetItem(s.reason))
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("These files are not in the library. Fix or remove them and open the folder again."))
        lay.addWidget(table)
        lay.addWidget(buttons)
        self.table = table

"""Events: the shown photos (a cluster, a search) or the whole library, split wherever more
than a few hours pass between consecutive photos; picking one shows it in the grid."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QDialog, QDoubleSpinBox, QFormLayout, QListWidget, QListWidgetItem,
                               QVBoxLayout)

from photoclust_app.core.search.dates import DEFAULT_EVENT_GAP_H


class EventsDialog(QDialog):
    def __init__(self, controller, win):
        super().__init__(win)
        self.setWindowTitle("Events")
        self.controller, self.win = controller, win
        self.scope = list(win.grid_model.photo_ids())
        self.gap = QDoubleSpinBox()
        self.gap.setRange(0.1, 24 * 30)
        self.gap.setDecimals(1)
        self.gap.setSuffix(" h")
        self.gap.setValue(DEFAULT_EVENT_GAP_H)
        self.gap.setToolTip("A new event starts when this much time passes without a photo")
        self.whole = QCheckBox("Across the whole library")
        self.whole.setChecked(not self.scope)
        self.list = QListWidget()
        form = QFormLayout()
        form.addRow("Gap between events", self.gap)
        form.addRow("", self.whole)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.list)
        self.gap.valueChanged.connect(self.refresh)
        self.whole.toggled.connect(self.refresh)
        self.list.itemActivated.connect(self._picked)
        self.list.itemClicked.connect(self._picked)
        self.resize(420, 480)
        self.refresh()

    def refresh(self, *_) -> None:
        ids = self.win.session.photo_ids() if self.whole.isChecked() or not self.scope else self.scope
        self.found = self.controller.events(ids, self.gap.value())
        self.list.clear()
        for i, e in enumerate(self.found):
            n = len(e.photo_ids)
            item = QListWidgetItem(f"{e.label}   {n:,} photo{'s' if n != 1 else ''}")
            item.setData(Qt.ItemDataRole.UserRole, i)
            self.list.addItem(item)

    def _picked(self, item: QListWidgetItem) -> None:
        self.controller.show_event(self.found[item.data(Qt.ItemDataRole.UserRole)])

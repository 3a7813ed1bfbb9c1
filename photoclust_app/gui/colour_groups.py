"""Group by colour: the shown photos (or the library) under their dominant colour swatch;
picking a group shows its photos, most saturated in that colour first."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QCheckBox, QDialog, QListWidget, QListWidgetItem, QVBoxLayout

from photoclust_app.core.search.colour import SWATCHES


def _swatch_icon(name: str) -> QIcon:
    pm = QPixmap(16, 16)
    pm.fill(QColor(*SWATCHES[name]) if name in SWATCHES else QColor(128, 128, 128))
    return QIcon(pm)


class ColourGroupsDialog(QDialog):
    def __init__(self, controller, win):
        super().__init__(win)
        self.setWindowTitle("Group by Colour")
        self.controller, self.win = controller, win
        self.scope = list(win.grid_model.photo_ids())
        self.whole = QCheckBox("Across the whole library")
        self.whole.setChecked(not self.scope)
        self.list = QListWidget()
        lay = QVBoxLayout(self)
        lay.addWidget(self.whole)
        lay.addWidget(self.list)
        self.whole.toggled.connect(self.refresh)
        self.list.itemClicked.connect(self._picked)
        self.list.itemActivated.connect(self._picked)
        self.resize(320, 400)
        self.refresh()

    def refresh(self, *_) -> None:
        s = self.controller.searcher()
        within = None if self.whole.isChecked() or not self.scope else self.scope
        self.groups = s.colour_groups(within) if s is not None else {}
        self.list.clear()
        for name, hits in self.groups.items():
            item = QListWidgetItem(_swatch_icon(name), f"{name.capitalize()}   {len(hits):,} photos")
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.list.addItem(item)

    def _picked(self, item: QListWidgetItem) -> None:
        from photoclust_app.core.search.query import SearchResult

        name = item.data(Qt.ItemDataRole.UserRole)
        self.controller._show(SearchResult(self.groups[name], "colour"), f"Mostly {name}")

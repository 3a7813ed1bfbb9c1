"""The photo grid: an icon-mode QListView with uniform item sizes, which is what keeps
scrolling through 10,000+ photos smooth (Qt lays out a uniform grid without asking each
item for its size, and paints, so loads, only the rows on screen). A large selection change
repaints the viewport rather than asking Qt for the region of every selected item."""
from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QSize, Qt, Signal
from PySide6.QtGui import QRegion
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyledItemDelegate

from photoclust_app.gui.thumbnails import THUMB_SIZE


class PhotoDelegate(QStyledItemDelegate):
    """Sits each thumbnail on its name, whatever its aspect ratio."""

    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        option.decorationAlignment = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom


class PhotoGridView(QListView):
    contextMenuRequested = Signal(object)  # global QPoint

    def __init__(self, parent=None, icon_size: int = THUMB_SIZE):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setItemDelegate(PhotoDelegate(self))
        self.setUniformItemSizes(True)
        self.setIconSize(QSize(icon_size, icon_size))
        self.setGridSize(QSize(icon_size + 16, icon_size + 30))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setWrapping(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionRectVisible(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(lambda pos: self.contextMenuRequested.emit(
            self.viewport().mapToGlobal(pos)))

    # Past this many rows, a selection change repaints the whole viewport: Qt's own region
    # walks every selected index (four model calls each, in Python): 0.3 s for Ctrl+A at 100k.
    BIG_SELECTION = 512

    def visualRegionForSelection(self, selection) -> QRegion:  # noqa: N802 (Qt name)
        if len(selection) > self.BIG_SELECTION or any(r.height() > self.BIG_SELECTION for r in selection):
            return QRegion(self.viewport().rect())
        return super().visualRegionForSelection(selection)

    def selectAll(self) -> None:  # noqa: N802 (Qt name)
        """Ctrl+A as one range: QListView's own walks every row for hidden ones (the grid has
        none), calling the Python model once per row."""
        model, sel = self.model(), self.selectionModel()
        n = model.rowCount() if model is not None else 0
        if sel is not None and n:
            sel.select(QItemSelection(model.index(0, 0), model.index(n - 1, 0)),
                       QItemSelectionModel.SelectionFlag.ClearAndSelect)

"""The cluster list on the left: a mosaic of each cluster's most representative photos, its
name and size; Unsorted after the clusters; a dashed "New cluster" drop target last."""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QFont, QKeySequence, QPainter, QPen
from PySide6.QtWidgets import (QAbstractItemView, QLineEdit, QListView, QStyle, QStyledItemDelegate,
                               QStyleOptionViewItem)

from photoclust_app.gui.models.cluster_list_model import ClusterIdRole, KindRole, MosaicRole, SizeRole

ROW_HEIGHT = 76
MOSAIC = 64
PAD = 6


class ClusterDelegate(QStyledItemDelegate):
    """Paints one row; edits the name in place in a line edit over the name."""

    def __init__(self, thumbnails_getter, parent=None, color_for=None):
        super().__init__(parent)
        self._thumbs = thumbnails_getter  # () -> ThumbnailLoader | None (it changes per folder)
        self.color_for = color_for        # cluster id (-1: Unsorted) -> QColor, the map's colours

    def sizeHint(self, option, index) -> QSize:
        if index.data(KindRole) == "new":
            return QSize(option.rect.width(), 40)
        return QSize(option.rect.width(), ROW_HEIGHT)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        kind = index.data(KindRole)
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        opt.icon = type(opt.icon)()
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, p, opt.widget)
        r = option.rect
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text_color = option.palette.highlightedText().color() if selected else option.palette.text().color()
        if kind == "new":
            pen = QPen(option.palette.mid().color(), 1.5, Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.drawRoundedRect(r.adjusted(PAD, 4, -PAD, -4), 6, 6)
            p.setPen(option.palette.placeholderText().color())
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, index.data(Qt.ItemDataRole.DisplayRole))
            p.restore()
            return
        if self.color_for is not None:  # the cluster's colour on the map, as a strip on the left
            cid = index.data(ClusterIdRole)
            p.fillRect(QRect(r.left(), r.top() + 4, 3, r.height() - 8), self.color_for(-1 if cid is None else cid))
        box = QRect(r.left() + PAD, r.top() + (r.height() - MOSAIC) // 2, MOSAIC, MOSAIC)
        self._paint_mosaic(p, box, index.data(MosaicRole) or [])
        text_rect = r.adjusted(MOSAIC + 2 * PAD + 4, PAD, -PAD, -PAD)
        font = QFont(option.font)
        font.setBold(kind == "cluster")
        font.setItalic(kind == "unsorted")
        p.setFont(font)
        p.setPen(text_color)
        name = index.data(Qt.ItemDataRole.DisplayRole) or ""
        elided = p.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight, text_rect.width())
        p.drawText(text_rect.adjusted(0, 0, 0, -text_rect.height() // 2), Qt.AlignmentFlag.AlignLeft
                   | Qt.AlignmentFlag.AlignBottom, elided)
        font.setBold(False)
        p.setFont(font)
        muted = QColor(text_color)
        muted.setAlpha(170)
        p.setPen(muted)
        n = index.data(SizeRole) or 0
        p.drawText(text_rect.adjusted(0, text_rect.height() // 2 + 2, 0, 0),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, f"{n} photo{'s' if n != 1 else ''}")
        p.restore()

    def _paint_mosaic(self, p: QPainter, box: QRect, photo_ids: list[int]) -> None:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(128, 128, 128, 50))
        p.drawRoundedRect(box, 4, 4)
        thumbs = self._thumbs()
        tile = box.width() // 2
        for k, pid in enumerate(photo_ids[:4]):
            cell = QRect(box.left() + (k % 2) * tile, box.top() + (k // 2) * tile, tile - 1, tile - 1)
            pm = thumbs.pixmap(pid) if thumbs is not None else None
            if pm is None or pm.isNull():
                continue
            side = min(pm.width(), pm.height())  # centre square crop
            src = QRect((pm.width() - side) // 2, (pm.height() - side) // 2, side, side)
            p.drawPixmap(cell, pm, src)

    def createEditor(self, parent, option, index):
        editor = QLineEdit(parent)
        editor.setFrame(True)
        return editor

    def updateEditorGeometry(self, editor, option, index) -> None:
        r = option.rect
        editor.setGeometry(QRect(r.left() + MOSAIC + 2 * PAD, r.top() + PAD, r.width() - MOSAIC - 3 * PAD,
                                 editor.sizeHint().height()))

    def setEditorData(self, editor: QLineEdit, index) -> None:
        editor.setText(index.data(Qt.ItemDataRole.EditRole) or "")
        editor.selectAll()

    def setModelData(self, editor: QLineEdit, model, index) -> None:
        model.setData(index, editor.text(), Qt.ItemDataRole.EditRole)


class ClusterListView(QListView):
    """Emits dissolveRequested for Delete; accepts photo and cluster drops on rows."""

    dissolveRequested = Signal()

    def __init__(self, thumbnails_getter, parent=None, color_for=None):
        super().__init__(parent)
        self.setItemDelegate(ClusterDelegate(thumbnails_getter, self, color_for))
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed
                             | QAbstractItemView.EditTrigger.DoubleClicked)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropOverwriteMode(True)  # a drop anywhere on a row lands ON it, never between
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setUniformItemSizes(False)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMinimumWidth(200)
        self.dissolve_action = QAction("Dissolve Cluster", self)
        self.dissolve_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        # Only while the list has focus: Delete in the filter box or the grid must not dissolve.
        self.dissolve_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.dissolve_action.triggered.connect(self.dissolveRequested)
        self.addAction(self.dissolve_action)

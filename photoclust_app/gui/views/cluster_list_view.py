"""The cluster list on the left: a mosaic of each cluster's most representative photos, its
name, size and cohesion (with a "Split?" badge, one click from a split, on a cluster that looks
mixed); Unsorted after the clusters; a dashed "New cluster" drop target last. Renaming offers
the namer's other candidates in a drop-down under the name."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QRect, QSize, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QFont, QKeySequence, QPainter, QPen
from PySide6.QtWidgets import (QAbstractItemView, QCompleter, QLineEdit, QListView, QStyle, QStyledItemDelegate,
                               QStyleOptionViewItem)

from photoclust_app.gui.models.cluster_list_model import (AlternativesRole, ClusterIdRole, CohesionRole,
                                                          CorrectionsRole, IncoherentRole, KindRole, MosaicRole,
                                                          SizeRole, corrections_text, score_text)

ROW_HEIGHT = 76
MOSAIC = 64
PAD = 6
BADGE_TEXT = "Split?"
BADGE_COLOR = QColor(214, 130, 0)   # amber: worth a look, not an error


class NameEditor(QLineEdit):
    """The in-place name editor; its drop-down offers the suggested alternatives (shown when
    editing starts, and again with the Down key)."""

    def __init__(self, alternatives: list[str], parent=None):
        super().__init__(parent)
        self.alternatives = list(alternatives)
        if self.alternatives:
            completer = QCompleter(QStringListModel(self.alternatives, self), self)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
            completer.setMaxVisibleItems(8)
            self.setCompleter(completer)
            self.setPlaceholderText("Name (\u2193 for suggestions)")
            self.setToolTip("Suggested: " + ", ".join(self.alternatives))

    def show_alternatives(self) -> None:
        """Open the drop-down with every alternative (whatever is typed)."""
        c = self.completer()
        if c is None or not self.isVisible():
            return
        c.setCompletionPrefix("")
        c.complete()

    def keyPressEvent(self, event) -> None:
        c = self.completer()
        if event.key() == Qt.Key.Key_Down and c is not None and not c.popup().isVisible():
            self.show_alternatives()
            return
        super().keyPressEvent(event)


def badge_rect(row: QRect, fm) -> QRect:
    """Where a row's "Split?" badge sits: the right end of its name line (the size and
    cohesion line below stays whole)."""
    w, h = fm.horizontalAdvance(BADGE_TEXT) + 12, fm.height() + 2
    return QRect(row.right() - PAD - w, row.top() + row.height() // 2 - h - 1, w, h)


class ClusterDelegate(QStyledItemDelegate):
    """Paints one row; edits the name in place in a line edit over the name."""

    splitClicked = Signal(int)   # a cluster's "Split?" badge was clicked

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
        flagged = bool(index.data(IncoherentRole)) if kind == "cluster" else False
        fixes = corrections_text(*(index.data(CorrectionsRole) or (0, 0)), short=True) if kind == "cluster" else ""
        upper = text_rect.adjusted(0, 0, 0, -text_rect.height() // 2)
        if fixes:   # three lines: the name goes up to make room for the corrections
            upper.translate(0, -(option.fontMetrics.height() // 2))
        if flagged:
            upper.setRight(badge_rect(r, option.fontMetrics).left() - 4)
        elided = p.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight, upper.width())
        p.drawText(upper, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, elided)
        font.setBold(False)
        p.setFont(font)
        muted = QColor(text_color)
        muted.setAlpha(170)
        p.setPen(muted)
        n = index.data(SizeRole) or 0
        line = f"{n} photo{'s' if n != 1 else ''}"
        score = index.data(CohesionRole) if kind == "cluster" else None
        if score is not None:
            line += f" \u00b7 cohesion {score_text(score)}"
        lower = text_rect.adjusted(0, text_rect.height() // 2 + 2, 0, 0)
        if fixes:
            lower.translate(0, -(option.fontMetrics.height() // 2))
        p.drawText(lower, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                   p.fontMetrics().elidedText(line, Qt.TextElideMode.ElideRight, lower.width()))
        if fixes:   # the cluster's constraints: what the user taught it
            small = QFont(font)
            small.setPointSizeF(max(6.0, font.pointSizeF() * 0.9))
            p.setFont(small)
            third = lower.adjusted(0, option.fontMetrics.height() + 1, 0, 0)
            p.drawText(third, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                       p.fontMetrics().elidedText("\u270e " + fixes, Qt.TextElideMode.ElideRight, third.width()))
        if flagged:
            badge = badge_rect(r, option.fontMetrics)
            p.setFont(option.font)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(BADGE_COLOR)
            p.drawRoundedRect(badge, badge.height() / 2, badge.height() / 2)
            p.setPen(QColor(255, 255, 255))
            p.drawText(badge, Qt.AlignmentFlag.AlignCenter, BADGE_TEXT)
        p.restore()

    def editorEvent(self, event, model, option, index) -> bool:
        """A click on a flagged cluster's "Split?" badge asks for the split."""
        if (event.type() == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton
                and index.data(KindRole) == "cluster" and index.data(IncoherentRole)
                and badge_rect(option.rect, option.fontMetrics).contains(event.position().toPoint())):
            self.splitClicked.emit(int(index.data(ClusterIdRole)))
            return True
        return super().editorEvent(event, model, option, index)

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
        editor = NameEditor(index.data(AlternativesRole) or [], parent)
        editor.setFrame(True)
        if editor.alternatives:   # offer them at once, once the editor is on screen
            QTimer.singleShot(0, editor.show_alternatives)
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
    splitRequested = Signal(int)   # the "Split?" badge of this cluster was clicked

    def __init__(self, thumbnails_getter, parent=None, color_for=None):
        super().__init__(parent)
        delegate = ClusterDelegate(thumbnails_getter, self, color_for)
        delegate.splitClicked.connect(self.splitRequested)
        self.setItemDelegate(delegate)
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

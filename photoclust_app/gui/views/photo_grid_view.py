"""The photo grid: an icon-mode QListView with uniform item sizes, which is what keeps
scrolling through 10,000+ photos smooth (Qt lays out a uniform grid without asking each
item for its size, and paints, so loads, only the rows on screen). A large selection change
repaints the viewport rather than asking Qt for the region of every selected item.

Every cell has the same size, set here from the thumbnail size (never from whichever photo
Qt happens to measure first): a square for the thumbnail, fitted whole inside it whatever
its aspect ratio, and one line for the name. The cells share out the pane's width, so the
grid fills it edge to edge. Ctrl+wheel changes the thumbnail size (the window's View menu
has Ctrl++ / Ctrl+-); arrows, Home/End, Page Up/Down and Shift extend the selection, as in
any file manager.
"""
from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QFont, QFontMetrics, QPainter, QPen, QPixmap, QRegion
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from photoclust_app.gui.thumbnails import THUMB_SIZE

MIN_THUMB, MAX_THUMB, THUMB_STEP = 64, 256, 16
PAD = 6          # around the thumbnail square
TEXT_GAP = 3     # between the square and the name
DRAG_SIZE = 72   # the drag image's thumbnail


class PhotoDelegate(QStyledItemDelegate):
    """Paints one cell: the thumbnail fitted (never cropped) into a square, sitting on its
    name; every cell the same size (``cell``), whatever the photo."""

    def __init__(self, parent=None, thumb: int = THUMB_SIZE):
        super().__init__(parent)
        self.thumb = thumb
        self.cell = QSize(thumb + 2 * PAD, thumb + 2 * PAD)

    @staticmethod
    def text_height(font: QFont) -> int:
        return QFontMetrics(font).height()

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 (Qt name)
        return QSize(self.cell)

    def thumb_rect(self, cell: QRect) -> QRect:
        """The square the thumbnail is fitted into, centred at the top of CELL."""
        return QRect(cell.left() + (cell.width() - self.thumb) // 2, cell.top() + PAD, self.thumb, self.thumb)

    def fitted_rect(self, cell: QRect, size: QSize) -> QRect:
        """Where a thumbnail of SIZE goes in CELL: whole (never cropped), as large as the
        square allows, centred and sitting on its name."""
        box = self.thumb_rect(cell)
        fit = size.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
        return QRect(box.left() + (box.width() - fit.width()) // 2, box.bottom() + 1 - fit.height(),
                     fit.width(), fit.height())

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        name = opt.text
        pm = index.data(Qt.ItemDataRole.DecorationRole)
        opt.text = ""
        opt.icon = type(opt.icon)()
        opt.features &= ~QStyleOptionViewItem.ViewItemFeature.HasDecoration
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:  # the selection / hover / focus background
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, p, widget)
        cell = option.rect
        box = self.thumb_rect(cell)
        if isinstance(pm, QPixmap) and not pm.isNull():
            target = self.fitted_rect(cell, pm.size())
            p.save()
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawPixmap(target, pm)
            p.restore()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette = option.palette
        p.save()
        p.setFont(option.font)
        p.setPen(palette.highlightedText().color() if selected else palette.text().color())
        text_rect = QRect(cell.left() + 2, box.bottom() + 1 + TEXT_GAP, cell.width() - 4,
                          cell.bottom() - box.bottom() - TEXT_GAP)
        elided = p.fontMetrics().elidedText(name or "", Qt.TextElideMode.ElideMiddle, text_rect.width())
        p.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, elided)
        p.restore()


class PhotoGridView(QListView):
    contextMenuRequested = Signal(object)  # global QPoint
    thumbSizeChanged = Signal(int)
    photoActivated = Signal(object)        # QModelIndex: Space, Return or a double-click (the viewer)

    def __init__(self, parent=None, icon_size: int = THUMB_SIZE):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self._delegate = PhotoDelegate(self, icon_size)
        self.setItemDelegate(self._delegate)
        self.setUniformItemSizes(True)
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
        # Always there: a bar that comes and goes would change the width, so the cells.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(lambda pos: self.contextMenuRequested.emit(
            self.viewport().mapToGlobal(pos)))
        self.doubleClicked.connect(self.photoActivated.emit)
        self._thumb = 0
        self._wheel = 0
        self.set_thumb_size(icon_size)

    # -- size ----------------------------------------------------------------------------
    def thumb_size(self) -> int:
        return self._thumb

    def set_thumb_size(self, size: int) -> None:
        size = max(MIN_THUMB, min(MAX_THUMB, int(size)))
        if size == self._thumb:
            return
        self._thumb = size
        self._delegate.thumb = size
        self.setIconSize(QSize(size, size))
        self._fit_cells(force=True)
        self.thumbSizeChanged.emit(size)

    def zoom(self, steps: int) -> None:
        self.set_thumb_size(self._thumb + steps * THUMB_STEP)

    def cell_size(self) -> QSize:
        return QSize(self._delegate.cell)

    def _fit_cells(self, force: bool = False) -> None:
        """Cells of one size, wide enough for the thumbnail, sharing the width out evenly."""
        text_h = self._delegate.text_height(self.font())
        min_w = self._thumb + 2 * PAD
        width = max(min_w, self.viewport().width() - 1)
        columns = max(1, width // min_w)
        cell = QSize(width // columns, self._thumb + PAD + TEXT_GAP + text_h + PAD)
        if force or cell != self._delegate.cell:
            self._delegate.cell = cell
            self.setGridSize(cell)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._fit_cells()
        super().resizeEvent(event)

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self._wheel += event.angleDelta().y()   # touchpads send many small deltas
            steps = int(self._wheel / 120)
            self._wheel -= steps * 120
            if steps:
                self.zoom(steps)
            event.accept()
            return
        super().wheelEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if event.key() in (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers():
            idx = self.currentIndex()
            if idx.isValid():
                self.photoActivated.emit(idx)
                event.accept()
                return
        super().keyPressEvent(event)

    # -- drag: a small stack with a count, not a picture of every selected cell ----------
    def startDrag(self, supported_actions) -> None:  # noqa: N802 (Qt name)
        model, sel = self.model(), self.selectionModel()
        if model is None or sel is None or not sel.hasSelection():
            return
        runs = sorted((r.top(), r.bottom()) for r in sel.selection() if r.isValid())
        mime = model.mime_for_rows(runs) if hasattr(model, "mime_for_rows") else None
        if mime is None:
            return
        count = sum(b - a + 1 for a, b in _merged(runs))
        current = self.currentIndex()
        if not current.isValid() or not sel.isSelected(current):
            current = model.index(runs[0][0], 0)
        drag = QDrag(self)
        drag.setMimeData(mime)
        pm = drag_pixmap(current.data(Qt.ItemDataRole.DecorationRole), count, self.devicePixelRatioF())
        drag.setPixmap(pm)
        drag.setHotSpot(QPoint(int(pm.width() / pm.devicePixelRatio() / 2), int(pm.height() / pm.devicePixelRatio() / 2)))
        drag.exec(supported_actions, self.defaultDropAction())

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


def _merged(runs):
    out = []
    for lo, hi in runs:
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


def drag_pixmap(thumb, count: int, dpr: float = 1.0) -> QPixmap:
    """The drag image: the photo under the cursor, small, on a stack of cards when several
    are dragged, with their count in a badge."""
    side = DRAG_SIZE
    stack = 2 if count > 2 else count - 1   # cards peeking out behind
    off = 5
    w = h = side + stack * off + 14
    pm = QPixmap(int(w * dpr), int(h * dpr))
    pm.setDevicePixelRatio(dpr)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    top = 14
    for k in range(stack, 0, -1):   # the cards behind
        r = QRect(k * off, top - k * off + stack * off, side, side)
        p.setPen(QPen(QColor(90, 90, 90), 1))
        p.setBrush(QColor(235, 235, 235))
        p.drawRoundedRect(r, 4, 4)
    front = QRect(0, top + stack * off, side, side)
    p.setPen(QPen(QColor(90, 90, 90), 1))
    p.setBrush(QColor(245, 245, 245))
    p.drawRoundedRect(front, 4, 4)
    if isinstance(thumb, QPixmap) and not thumb.isNull():
        size = thumb.size().scaled(front.size() - QSize(6, 6), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(front.left() + (front.width() - size.width()) // 2,
                       front.top() + (front.height() - size.height()) // 2, size.width(), size.height())
        p.drawPixmap(target, thumb)
    if count > 1:
        text = f"{count:,}" if count < 100_000 else "99k+"
        font = QFont()
        font.setBold(True)
        font.setPixelSize(12)
        p.setFont(font)
        tw = p.fontMetrics().horizontalAdvance(text) + 12
        badge = QRect(int(w) - tw - 1, 0, tw, 22)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(200, 40, 40))
        p.drawRoundedRect(badge, 11, 11)
        p.setPen(QColor(255, 255, 255))
        p.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
    p.end()
    return pm

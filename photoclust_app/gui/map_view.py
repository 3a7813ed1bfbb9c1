"""The UMAP map: every photo a dot coloured by cluster, with hover, click, box and lasso.

Dots are drawn by ``map_items.Dots`` (one drawPixmapFragments call for all of them);
nearest-point lookups (hover, click) go through a cKDTree built when first needed after the
points change (``set_points``, or ``add_points`` as photos are indexed);
box and lasso selections are numpy masks over the positions.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Signal

from photoclust_app.gui.map_items import UNSORTED, DotStyle, Dots, cluster_color, points_in_polygon
from photoclust_app.gui.map_layers import Labels, Thumbs

__all__ = ["MapView", "cluster_color", "points_in_polygon", "UNSORTED"]

log = logging.getLogger(__name__)


_SELECTED = DotStyle(None, QtGui.QColor(255, 255, 255), 9.0)
_HOVERED = DotStyle(None, QtGui.QColor(255, 214, 0), 13.0)
_COMBINE = ("replace", "add", "toggle", "remove")


class _MapViewBox(pg.ViewBox):
    """Hands left clicks and selection drags to the MapView; everything else (wheel zoom,
    pan drag, right-drag zoom) stays pyqtgraph's default."""

    def __init__(self, owner: "MapView"):
        super().__init__(enableMenu=False)
        self._owner = owner
        self._selecting = False

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._owner._on_click(self.mapToView(ev.pos()), ev.double(), ev.modifiers())
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() == Qt.MouseButton.LeftButton and axis is None:
            if ev.isStart():   # decided once per drag, so letting go of Shift mid-drag changes nothing
                shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
                self._selecting = self._owner.mode() != "pan" or shift
            if self._selecting:
                ev.accept()
                self._owner._on_drag(ev)
                return
        super().mouseDragEvent(ev, axis)


class _HoverCard(QtWidgets.QFrame):
    """The thumbnail and file name of the dot under the mouse; never takes the mouse."""

    MAX_PX = 160

    def __init__(self, parent: QtWidgets.QWidget):
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(2)
        self.image = QtWidgets.QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.name = QtWidgets.QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.name.setMaximumWidth(200)
        lay.addWidget(self.image)
        lay.addWidget(self.name)
        self.hide()

    def show_photo(self, image: QtGui.QImage | None, name: str) -> None:
        if image is not None and not image.isNull():
            pix = QtGui.QPixmap.fromImage(image)
            if pix.width() > self.MAX_PX or pix.height() > self.MAX_PX:
                pix = pix.scaled(self.MAX_PX, self.MAX_PX, Qt.AspectRatioMode.KeepAspectRatio,
                                 Qt.TransformationMode.SmoothTransformation)
            self.image.setPixmap(pix)
            self.image.show()
        else:
            self.image.clear()
            self.image.hide()
        metrics = self.name.fontMetrics()
        self.name.setText(metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, 200))
        self.adjustSize()


class MapView(QtWidgets.QWidget):
    """Every photo as a dot at its 2-D layout position, coloured by cluster.

    The window sets ``thumbnail_provider(photo_id) -> QImage | None`` and
    ``name_provider(photo_id) -> str`` for the hover card; when a thumbnail arrives later
    it calls ``refresh_hover()``. Selections made by the user are emitted as lists of
    photo ids; selections set by the program (``set_selection``) are not.
    """

    selectionChanged = Signal(list)
    photoActivated = Signal(int)
    hoverPhoto = Signal(int)

    HOVER_RADIUS_PX = 8.0
    POINT_SIZE = 5.0
    UNSORTED_SIZE = 3.0

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.thumbnail_provider: Callable[[int], QtGui.QImage | None] | None = None
        self.name_provider: Callable[[int], str] | None = None
        self.cluster_name_provider: Callable[[int], str] | None = None   # cluster id -> its label
        self._ids = np.zeros(0, dtype=np.int64)
        self._xy = np.zeros((0, 2))
        self._clusters = np.zeros(0, dtype=np.int64)
        self._sorter = np.zeros(0, dtype=np.intp)
        self._tree = None
        self._tree_stale = False
        self.user_moved = False   # the user panned or zoomed since the last fit
        self._selected = np.zeros(0, dtype=np.int64)
        self._hover_id = -1
        self._mode = "pan"
        self._drag_start: QtCore.QPointF | None = None
        self._lasso: list[tuple[float, float]] = []
        self._build_ui()

    # -- construction ----------------------------------------------------------------------
    def _build_ui(self) -> None:
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        bar = QtWidgets.QToolBar(self)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        group = QtGui.QActionGroup(self)
        self._mode_actions: dict[str, QtGui.QAction] = {}
        tips = {"pan": "Drag to pan, wheel to zoom; Shift+drag selects a box",
                "box": "Drag a rectangle to select; Shift adds, Ctrl toggles",
                "lasso": "Draw around photos to select; Shift adds, Ctrl toggles"}
        for mode, text in (("pan", "Pan"), ("box", "Box"), ("lasso", "Lasso")):
            act = bar.addAction(text)
            act.setCheckable(True)
            act.setToolTip(tips[mode])
            act.triggered.connect(lambda _=False, m=mode: self.set_mode(m))
            group.addAction(act)
            self._mode_actions[mode] = act
        self._mode_actions["pan"].setChecked(True)
        bar.addSeparator()
        fit = bar.addAction("Fit")
        fit.setToolTip("Show every photo (or double-click empty space)")
        fit.triggered.connect(self.fit)
        lay.addWidget(bar)

        self._vb = _MapViewBox(self)
        self._plot = pg.PlotWidget(viewBox=self._vb)
        self._plot.setBackground(self.palette().color(QtGui.QPalette.ColorRole.Base))
        item = self._plot.getPlotItem()
        item.hideAxis("left")
        item.hideAxis("bottom")
        item.hideButtons()
        item.setMenuEnabled(False)
        self._vb.setAspectLocked(True)
        lay.addWidget(self._plot, 1)

        self._dots = Dots()
        self._sel_dots = Dots()
        self._sel_dots.setZValue(10)
        self._hover_dot = Dots()
        self._hover_dot.setZValue(20)
        self._vb.addItem(self._dots)
        self._thumbs = Thumbs(self._thumbnail)   # zoomed in, photos instead of dots
        self._thumbs.setZValue(5)
        self._vb.addItem(self._thumbs, ignoreBounds=True)
        self._labels = Labels()
        self._labels.setZValue(25)
        self._vb.addItem(self._labels, ignoreBounds=True)
        self._vb.addItem(self._sel_dots, ignoreBounds=True)
        self._vb.addItem(self._hover_dot, ignoreBounds=True)
        pen = pg.mkPen(QtGui.QColor(0, 120, 215), width=1.5, style=Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._rubber = QtWidgets.QGraphicsRectItem()
        self._rubber.setPen(pen)
        self._rubber.setBrush(QtGui.QColor(0, 120, 215, 40))
        self._lasso_item = QtWidgets.QGraphicsPathItem()
        self._lasso_item.setPen(pen)
        self._lasso_item.setBrush(QtGui.QColor(0, 120, 215, 30))
        for it in (self._rubber, self._lasso_item):
            it.setZValue(30)
            it.hide()
            self._vb.addItem(it, ignoreBounds=True)

        self._vb.sigRangeChangedManually.connect(lambda *_: setattr(self, "user_moved", True))
        self._card = _HoverCard(self)
        self._plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._plot.viewport().installEventFilter(self)

    # -- data --------------------------------------------------------------------------------
    def set_points(self, photo_ids: np.ndarray, xy: np.ndarray, cluster_ids: np.ndarray, *, fit: bool = True) -> None:
        """Show these photos at xy (n x 2), coloured by cluster (-1: Unsorted), and fit the view
        (unless FIT is False). The current selection is kept for ids still present."""
        ids, xy, clusters = _point_arrays("set_points", photo_ids, xy, cluster_ids)
        finite = np.isfinite(xy).all(axis=1)
        if not finite.all():
            log.warning("map: %d photos without a finite position are not shown", int((~finite).sum()))
            ids, xy, clusters = ids[finite], xy[finite], clusters[finite]
        self._ids, self._xy, self._clusters = ids, xy, clusters
        self._sorter = np.argsort(ids, kind="stable")
        self._tree_stale = True
        self._kdtree()
        self._restyle()
        self._selected = self._selected[np.isin(self._selected, ids)]
        self._show_selection()
        self._set_hover(-1)
        if fit:
            self.fit()

    def add_points(self, photo_ids: np.ndarray, xy: np.ndarray, cluster_ids: np.ndarray) -> int:
        """Show these photos too (photos just indexed), or move them there when shown already,
        without moving the view: O(photos shown) numpy work, no per-point Python. Returns how
        many were new to the map."""
        ids, xy, clusters = _point_arrays("add_points", photo_ids, xy, cluster_ids)
        ok = np.isfinite(xy).all(axis=1)
        ids, xy, clusters = ids[ok], xy[ok], clusters[ok]
        if not len(ids):
            return 0
        ids, first = np.unique(ids, return_index=True)
        xy, clusters = xy[first], clusters[first]
        rows, found = self._indices(ids)
        self._xy[rows] = xy[found]
        self._clusters[rows] = clusters[found]
        fresh = ~found
        if fresh.any():
            self._ids = np.concatenate([self._ids, ids[fresh]])
            self._xy = np.concatenate([self._xy, xy[fresh]])
            self._clusters = np.concatenate([self._clusters, clusters[fresh]])
            self._sorter = np.argsort(self._ids, kind="stable")
        self._tree, self._tree_stale = None, True
        # Unsorted photos carry no label: the cluster names stay where they are
        self._restyle(labels=bool((clusters >= 0).any()) or bool(found.any()))
        self._show_selection()
        return int(fresh.sum())

    def _kdtree(self):
        """The lookup tree for hover and click, rebuilt only when asked after a change."""
        if self._tree_stale:
            from scipy.spatial import cKDTree

            self._tree = cKDTree(self._xy) if len(self._xy) else None
            self._tree_stale = False
        return self._tree

    def update_clusters(self, photo_ids: Sequence[int] | np.ndarray, cluster_ids: Sequence[int] | np.ndarray) -> None:
        """Recolour these photos (-1: Unsorted) without moving the view."""
        ids = np.asarray(photo_ids, dtype=np.int64).ravel()
        clusters = np.asarray(cluster_ids, dtype=np.int64).ravel()
        if len(ids) != len(clusters):
            raise ValueError(f"update_clusters: {len(ids)} ids but {len(clusters)} clusters")
        idx, found = self._indices(ids)
        self._clusters[idx] = clusters[found]
        self._restyle()

    def _restyle(self, labels: bool = True) -> None:
        uniq, style_idx = np.unique(self._clusters, return_inverse=True)
        styles = [DotStyle(cluster_color(int(c)), None, self.POINT_SIZE if c >= 0 else self.UNSORTED_SIZE)
                  for c in uniq]
        order = np.argsort(self._clusters >= 0, kind="stable")   # Unsorted first, i.e. underneath
        self._dots.set_data(self._xy[order], style_idx.ravel()[order], styles)
        self._thumbs.set_data(self._ids[order], self._xy[order], style_idx.ravel()[order],
                              [cluster_color(int(c)) for c in uniq])
        if labels:
            self.refresh_labels()

    def _thumbnail(self, pid: int) -> QtGui.QImage | None:
        return self.thumbnail_provider(pid) if self.thumbnail_provider is not None else None

    def thumbnail_ready(self, photo_id: int) -> None:
        """A thumbnail finished loading: shown on the zoomed map (and the hover card)."""
        self._thumbs.ready(photo_id)
        if self._hover_id == photo_id:
            self.refresh_hover()

    def refresh_labels(self) -> None:
        """Place each cluster's name at its centre (the median of its photos), largest first;
        names come from cluster_name_provider (none: no labels)."""
        keep = self._clusters >= 0
        if self.cluster_name_provider is None or not keep.any():
            self._labels.set_labels(np.zeros((0, 2)), [])
            return
        cl, xy = self._clusters[keep], self._xy[keep]
        order = np.argsort(cl, kind="stable")
        cl, xy = cl[order], xy[order]
        uniq, starts, counts = np.unique(cl, return_index=True, return_counts=True)
        centres = np.array([np.median(xy[a:a + n], axis=0) for a, n in zip(starts, counts)])
        names = []
        for c in uniq:
            try:
                names.append(self.cluster_name_provider(int(c)) or "")
            except Exception:   # a cluster gone meanwhile: no label rather than no map
                names.append("")
        big = np.argsort(-counts, kind="stable")
        self._labels.set_labels(centres[big], [names[i] for i in big])

    def thumbnails_shown(self) -> list[int]:
        """Photos shown as thumbnails by the last paint (empty when zoomed out)."""
        return [int(i) for i in self._thumbs.shown_ids()]

    def labels_shown(self) -> list[str]:
        return list(self._labels.drawn)

    def set_view(self, x0: float, x1: float, y0: float, y1: float) -> None:
        """Show this part of the map (zoom)."""
        self._vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def _indices(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row indices of the ids present, mask over ids of those present)."""
        if len(self._ids) == 0 or len(ids) == 0:
            return np.zeros(0, dtype=np.intp), np.zeros(len(ids), dtype=bool)
        pos = np.searchsorted(self._ids, ids, sorter=self._sorter)
        pos = np.minimum(pos, len(self._ids) - 1)
        rows = self._sorter[pos]
        found = self._ids[rows] == ids
        return rows[found], found

    def photo_ids(self) -> np.ndarray:
        return self._ids.copy()

    def position(self, photo_id: int) -> np.ndarray | None:
        """Where the map shows PHOTO_ID (x, y), None when it is not on the map."""
        rows, _ = self._indices(np.array([photo_id], dtype=np.int64))
        return self._xy[rows[0]].copy() if len(rows) else None

    def cluster_of(self, photo_id: int) -> int | None:
        rows, _ = self._indices(np.array([photo_id], dtype=np.int64))
        return int(self._clusters[rows[0]]) if len(rows) else None

    # -- view ------------------------------------------------------------------------------
    def fit(self) -> None:
        """Show every photo."""
        if len(self._ids):
            self._vb.autoRange(padding=0.05)
            self.user_moved = False

    def view_range(self) -> tuple[tuple[float, float], tuple[float, float]]:
        (x0, x1), (y0, y1) = self._vb.viewRange()
        return (x0, x1), (y0, y1)

    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        """'pan' (drag pans), 'box' (drag selects a rectangle) or 'lasso' (drag draws a polygon)."""
        if mode not in self._mode_actions:
            raise ValueError(f"unknown map mode {mode!r}")
        self._mode = mode
        self._mode_actions[mode].setChecked(True)
        cursor = Qt.CursorShape.ArrowCursor if mode == "pan" else Qt.CursorShape.CrossCursor
        self._plot.viewport().setCursor(cursor)

    def _pixel_radius(self, radius_px: float) -> float:
        """radius_px screen pixels in data units (the aspect is locked, so x and y agree)."""
        try:
            pw, ph = self._vb.viewPixelSize()
            r = radius_px * max(pw, ph)
        except Exception:  # no size yet
            r = float("nan")
        if not np.isfinite(r) or r <= 0:
            span = np.ptp(self._xy, axis=0).max() if len(self._xy) else 1.0
            r = radius_px * (span or 1.0) / 500.0
        return float(r)

    def point_at(self, x: float, y: float, radius_px: float = HOVER_RADIUS_PX) -> int:
        """The photo id nearest to data point (x, y) within radius_px screen pixels, or -1."""
        tree = self._kdtree()
        if tree is None:
            return -1
        dist, row = tree.query((x, y), k=1, distance_upper_bound=self._pixel_radius(radius_px))
        return int(self._ids[row]) if np.isfinite(dist) else -1

    # -- selection -------------------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        return self._selected.tolist()

    def set_selection(self, photo_ids: Iterable[int]) -> None:
        """Highlight these photos (from the grid or the list); does not emit selectionChanged."""
        ids = photo_ids if isinstance(photo_ids, np.ndarray) else list(photo_ids)
        self._selected = np.unique(np.asarray(ids, dtype=np.int64).ravel())
        self._show_selection()

    def add_to_selection(self, photo_ids: Iterable[int]) -> None:
        """Highlight these photos too (photos just indexed joined a shown cluster)."""
        self.set_selection(np.concatenate([self._selected, np.asarray(list(photo_ids), dtype=np.int64)]))

    def _show_selection(self) -> None:
        rows, _ = self._indices(self._selected)
        self._sel_dots.set_data(self._xy[rows], np.zeros(len(rows), dtype=np.intp), [_SELECTED])

    def _apply(self, hits: np.ndarray, mode: str) -> list[int]:
        if mode not in _COMBINE:
            raise ValueError(f"unknown selection mode {mode!r}")
        hits = np.unique(np.asarray(hits, dtype=np.int64))
        if mode == "add":
            hits = np.union1d(self._selected, hits)
        elif mode == "toggle":
            hits = np.setxor1d(self._selected, hits)
        elif mode == "remove":
            hits = np.setdiff1d(self._selected, hits)
        self._selected = hits
        self._show_selection()
        out = hits.tolist()
        self.selectionChanged.emit(out)
        return out

    def select_in_rect(self, x0: float, y0: float, x1: float, y1: float, mode: str = "replace") -> list[int]:
        """Select the photos inside a data-space rectangle, as a box drag does; emits selectionChanged."""
        (xa, xb), (ya, yb) = sorted((x0, x1)), sorted((y0, y1))
        m = ((self._xy[:, 0] >= xa) & (self._xy[:, 0] <= xb) & (self._xy[:, 1] >= ya) & (self._xy[:, 1] <= yb))
        return self._apply(self._ids[m], mode)

    def select_in_polygon(self, points: Sequence[tuple[float, float]] | np.ndarray, mode: str = "replace") -> list[int]:
        """Select the photos inside a data-space polygon, as the lasso does; emits selectionChanged."""
        return self._apply(self._ids[points_in_polygon(self._xy, np.asarray(points, dtype=np.float64))], mode)

    def keyPressEvent(self, ev: QtGui.QKeyEvent) -> None:
        if ev.key() == Qt.Key.Key_Escape and len(self._selected):
            self._apply(np.zeros(0, dtype=np.int64), "replace")
        else:
            super().keyPressEvent(ev)

    # -- mouse -----------------------------------------------------------------------------
    @staticmethod
    def _combine_mode(mods) -> str:
        if mods & Qt.KeyboardModifier.ControlModifier:
            return "toggle"
        if mods & Qt.KeyboardModifier.ShiftModifier:
            return "add"
        return "replace"

    def _on_click(self, pos: QtCore.QPointF, double: bool, mods) -> None:
        pid = self.point_at(pos.x(), pos.y(), self.HOVER_RADIUS_PX)
        if double:
            if pid >= 0:
                self.photoActivated.emit(pid)
            else:
                self.fit()
            return
        mode = self._combine_mode(mods)
        if pid >= 0:
            self._apply(np.array([pid]), mode)
        elif mode == "replace":
            self._apply(np.zeros(0, dtype=np.int64), "replace")

    def _on_drag(self, ev) -> None:
        pos = self._vb.mapToView(ev.pos())
        if ev.isStart():
            self._set_hover(-1)
            self._drag_start = self._vb.mapToView(ev.buttonDownPos())
            self._lasso = [(self._drag_start.x(), self._drag_start.y())]
        if self._drag_start is None:
            return
        lasso = self._mode == "lasso"
        if lasso:
            last = self._lasso[-1]
            if abs(pos.x() - last[0]) + abs(pos.y() - last[1]) >= self._pixel_radius(2.0):
                self._lasso.append((pos.x(), pos.y()))
            path = QtGui.QPainterPath(QtCore.QPointF(*self._lasso[0]))
            for pt in self._lasso[1:]:
                path.lineTo(*pt)
            path.closeSubpath()
            self._lasso_item.setPath(path)
            self._lasso_item.show()
        else:
            self._rubber.setRect(QtCore.QRectF(self._drag_start, pos).normalized())
            self._rubber.show()
        if ev.isFinish():
            start, self._drag_start = self._drag_start, None
            self._rubber.hide()
            self._lasso_item.hide()
            mode = self._combine_mode(ev.modifiers())
            if lasso:
                self.select_in_polygon(self._lasso, mode)
            else:
                self.select_in_rect(start.x(), start.y(), pos.x(), pos.y(), mode)

    def _on_mouse_moved(self, scene_pos: QtCore.QPointF) -> None:
        if self._drag_start is not None or not self._vb.sceneBoundingRect().contains(scene_pos):
            self._set_hover(-1)
            return
        data = self._vb.mapSceneToView(scene_pos)
        self._set_hover(self.point_at(data.x(), data.y()))
        if self._hover_id >= 0:
            self._place_card(self._plot.mapTo(self, self._plot.mapFromScene(scene_pos)))

    def eventFilter(self, obj, ev) -> bool:
        if ev.type() == QtCore.QEvent.Type.Leave:
            self._set_hover(-1)
        return False

    # -- hover -----------------------------------------------------------------------------
    def hovered_id(self) -> int:
        return self._hover_id

    def _set_hover(self, pid: int) -> None:
        if pid == self._hover_id:
            return
        self._hover_id = pid
        rows, _ = self._indices(np.array([pid], dtype=np.int64)) if pid >= 0 else (np.zeros(0, np.intp), None)
        self._hover_dot.set_data(self._xy[rows], np.zeros(len(rows), dtype=np.intp), [_HOVERED])
        if pid < 0:
            self._card.hide()
        else:
            self.refresh_hover()
        self.hoverPhoto.emit(pid)

    def refresh_hover(self) -> None:
        """Ask the providers again for the hovered photo (e.g. its thumbnail has just loaded)."""
        pid = self._hover_id
        if pid < 0:
            return
        image = None
        if self.thumbnail_provider is not None:
            try:
                image = self.thumbnail_provider(pid)
            except Exception:  # a provider failing must not break hovering
                log.exception("thumbnail provider failed for photo %d", pid)
        name = f"Photo {pid}"
        if self.name_provider is not None:
            try:
                name = self.name_provider(pid)
            except Exception:
                log.exception("name provider failed for photo %d", pid)
        self._card.show_photo(image, name)
        self._card.show()
        self._card.raise_()

    def _place_card(self, at: QtCore.QPoint) -> None:
        size = self._card.sizeHint()
        x = at.x() + 16 if at.x() + 16 + size.width() <= self.width() else at.x() - 16 - size.width()
        y = at.y() + 16 if at.y() + 16 + size.height() <= self.height() else at.y() - 16 - size.height()
        self._card.move(max(0, x), max(0, y))


def _point_arrays(what: str, photo_ids, xy, cluster_ids) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, positions n x 2, clusters) as the map stores them; lengths must agree."""
    ids = np.asarray(photo_ids, dtype=np.int64).ravel()
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    clusters = np.asarray(cluster_ids, dtype=np.int64).ravel()
    if not (len(ids) == len(xy) == len(clusters)):
        raise ValueError(f"{what}: {len(ids)} ids, {len(xy)} positions, {len(clusters)} clusters")
    return ids, xy, clusters

"""The map's layers above the dots: thumbnails when zoomed in, and cluster names.

Both paint in device pixels (a fixed on-screen size whatever the zoom) in one pass over
numpy arrays, so neither adds per-item Qt objects: at 100k photos the cost of a frame stays
the dots' one drawPixmapFragments call, plus at most MAX_THUMBS thumbnails and one text per
cluster on screen.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui
from PySide6.QtCore import Qt

log = logging.getLogger(__name__)


def _visible(item: pg.GraphicsObject, xy: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Indices of the columns of xy (2 x n, data coordinates) inside the item's view."""
    vb = item.getViewBox()   # (GraphicsItem.viewRect() lags behind a setRange)
    if vb is None or xy.shape[1] == 0:
        return np.zeros(0, dtype=np.intp)
    (x0, x1), (y0, y1) = vb.viewRange()
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    x, y = xy
    return np.flatnonzero((x >= x0 - mx) & (x <= x1 + mx) & (y >= y0 - my) & (y <= y1 + my))


class Thumbs(pg.GraphicsObject):
    """Each photo's thumbnail at its position once at most MAX_THUMBS photos are in view
    (zoomed in); nothing when more are (the dots say enough there). Thumbnails come from
    ``provider(photo_id)`` (None while one loads: its dot shows until ``ready`` is called)."""

    MAX_THUMBS = 250
    SIZE_PX = 56
    CACHE = 3000

    def __init__(self, provider: Callable[[int], QtGui.QImage | None]):
        super().__init__()
        self._provider = provider
        self._ids = np.zeros(0, dtype=np.int64)
        self._xy = np.zeros((2, 0))
        self._colors: list[QtGui.QColor] = []
        self._cluster_idx = np.zeros(0, dtype=np.intp)
        self._pix: OrderedDict[int, QtGui.QPixmap] = OrderedDict()
        self._shown = np.zeros(0, dtype=np.int64)
        self._lo = self._hi = None
        self.drawn = 0   # thumbnails drawn by the last paint (tests, bench)

    def set_data(self, ids: np.ndarray, xy: np.ndarray, cluster_idx: np.ndarray, colors: list[QtGui.QColor]) -> None:
        self.prepareGeometryChange()
        self._ids = np.asarray(ids, dtype=np.int64)
        self._xy = np.ascontiguousarray(np.asarray(xy, dtype=np.float64).reshape(-1, 2).T)
        self._cluster_idx, self._colors = np.asarray(cluster_idx, dtype=np.intp), list(colors)
        self._lo = self._xy.min(axis=1) if self._xy.shape[1] else None
        self._hi = self._xy.max(axis=1) if self._xy.shape[1] else None
        self.update()

    def ready(self, photo_id: int) -> None:
        """A thumbnail has loaded: repaint if it is one on screen."""
        self._pix.pop(photo_id, None)
        if len(self._shown) and photo_id in self._shown:
            self.update()

    def shown_ids(self) -> np.ndarray:
        """The photos whose thumbnails the last paint drew (or tried to)."""
        return self._shown.copy()

    def _pixmap(self, pid: int, dpr: float) -> QtGui.QPixmap | None:
        pix = self._pix.get(pid)
        if pix is not None:
            self._pix.move_to_end(pid)
            return pix
        try:
            img = self._provider(pid)
        except Exception:   # a provider failing must not break painting
            log.exception("thumbnail provider failed for photo %d", pid)
            return None
        if img is None or img.isNull():
            return None
        side = int(self.SIZE_PX * dpr)
        pix = QtGui.QPixmap.fromImage(img.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation))
        pix.setDevicePixelRatio(dpr)
        self._pix[pid] = pix
        while len(self._pix) > self.CACHE:
            self._pix.popitem(last=False)
        return pix

    def dataBounds(self, ax, frac=1.0, orthoRange=None):
        return None if self._lo is None else (float(self._lo[ax]), float(self._hi[ax]))

    def boundingRect(self):
        if self._lo is None:
            return QtCore.QRectF()
        px, py = self.pixelVectors()
        pw = 0.0 if px is None else px.length() * self.SIZE_PX
        ph = 0.0 if py is None else py.length() * self.SIZE_PX
        (x0, y0), (x1, y1) = self._lo, self._hi
        return QtCore.QRectF(x0 - pw, y0 - ph, x1 - x0 + 2 * pw, y1 - y0 + 2 * ph)

    def viewTransformChanged(self):
        self.prepareGeometryChange()

    def paint(self, p, option, widget=None):
        self.drawn = 0
        idx = _visible(self, self._xy, 0.05)
        if len(idx) == 0 or len(idx) > self.MAX_THUMBS:
            self._shown = np.zeros(0, dtype=np.int64)
            return
        self._shown = self._ids[idx]
        dpr = widget.devicePixelRatioF() if widget is not None else p.device().devicePixelRatioF()
        pts = pg.functions.transformCoordinates(p.transform(), self._xy[:, idx])
        p.resetTransform()
        pen = QtGui.QPen()
        pen.setWidthF(2.0)
        for k, i in enumerate(idx):
            pix = self._pixmap(int(self._ids[i]), dpr)
            if pix is None:
                continue
            w, h = pix.width() / dpr, pix.height() / dpr
            target = QtCore.QRectF(pts[0, k] - w / 2, pts[1, k] - h / 2, w, h)
            p.drawPixmap(target, pix, QtCore.QRectF(pix.rect()))
            ci = self._cluster_idx[i] if i < len(self._cluster_idx) else -1
            pen.setColor(self._colors[ci] if 0 <= ci < len(self._colors) else QtGui.QColor(128, 128, 128))
            p.setPen(pen)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(target)
            self.drawn += 1


class Labels(pg.GraphicsObject):
    """Cluster names at cluster centres, a fixed size on screen, with a halo that reads on
    any background. Labels that would overlap one already placed are left out (larger
    clusters are placed first), so a zoomed-out map stays legible. Each name is rendered
    once into a pixmap; a frame only places pixmaps (and checks overlap on a coarse grid)."""

    CELL = 16   # px: the overlap grid

    def __init__(self):
        super().__init__()
        self._xy = np.zeros((2, 0))
        self._names: list[str] = []
        self._lo = self._hi = None
        self._font = QtGui.QFont()
        self._font.setBold(True)
        self._pix: dict[tuple[str, float], QtGui.QPixmap] = {}
        self.drawn: list[str] = []   # the names the last paint drew (tests)

    def set_labels(self, xy: np.ndarray, names: list[str]) -> None:
        """xy (n x 2) centres and their names, most important first."""
        self.prepareGeometryChange()
        self._xy = np.ascontiguousarray(np.asarray(xy, dtype=np.float64).reshape(-1, 2).T)
        self._names = list(names)
        self._lo = self._xy.min(axis=1) if self._xy.shape[1] else None
        self._hi = self._xy.max(axis=1) if self._xy.shape[1] else None
        if len(self._pix) > 4 * len(names) + 64:
            self._pix.clear()
        self.update()

    def _pixmap(self, name: str, dpr: float) -> QtGui.QPixmap:
        pix = self._pix.get((name, dpr))
        if pix is None:
            fm = QtGui.QFontMetricsF(self._font)
            w, h = fm.horizontalAdvance(name) + 6, fm.height() + 4
            pix = QtGui.QPixmap(int(np.ceil(w * dpr)), int(np.ceil(h * dpr)))
            pix.setDevicePixelRatio(dpr)
            pix.fill(Qt.GlobalColor.transparent)
            p = QtGui.QPainter(pix)
            p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
            path = QtGui.QPainterPath()
            path.addText(3, 2 + fm.ascent(), self._font, name)
            halo = QtGui.QPen(QtGui.QColor(0, 0, 0, 190), 3.0)
            halo.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            p.strokePath(path, halo)
            p.fillPath(path, QtGui.QColor(255, 255, 255))
            p.end()
            self._pix[(name, dpr)] = pix
        return pix

    def dataBounds(self, ax, frac=1.0, orthoRange=None):
        return None

    def boundingRect(self):
        if self._lo is None:
            return QtCore.QRectF()
        px, py = self.pixelVectors()
        pw = 0.0 if px is None else px.length() * 200
        ph = 0.0 if py is None else py.length() * 20
        (x0, y0), (x1, y1) = self._lo, self._hi
        return QtCore.QRectF(x0 - pw, y0 - ph, x1 - x0 + 2 * pw, y1 - y0 + 2 * ph)

    def viewTransformChanged(self):
        self.prepareGeometryChange()

    def paint(self, p, option, widget=None):
        self.drawn = []
        idx = _visible(self, self._xy)
        if len(idx) == 0:
            return
        dpr = widget.devicePixelRatioF() if widget is not None else p.device().devicePixelRatioF()
        pts = pg.functions.transformCoordinates(p.transform(), self._xy[:, idx])
        p.resetTransform()
        taken: set[tuple[int, int]] = set()
        c = self.CELL
        for k, i in enumerate(idx):
            name = self._names[i]
            if not name:
                continue
            pix = self._pixmap(name, dpr)
            w, h = pix.width() / dpr, pix.height() / dpr
            x, y = pts[0, k] - w / 2, pts[1, k] - h / 2
            cells = {(cx, cy) for cx in range(int(x // c), int((x + w) // c) + 1)
                     for cy in range(int(y // c), int((y + h) // c) + 1)}
            if cells & taken:
                continue
            taken |= cells
            p.drawPixmap(QtCore.QPointF(x, y), pix)
            self.drawn.append(name)

"""Drawing pieces of the map: a stable cluster palette, a numpy point-in-polygon test, and
``Dots``, an item that draws any number of pixel-sized dots in one
``QPainter.drawPixmapFragments`` call from a small pre-rendered atlas. Setting 100k dots
is numpy work only; pyqtgraph's ScatterPlotItem spends ~0.5 s per 100k points in
per-point Python before it draws the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui
from PySide6.QtCore import Qt
from pyqtgraph.Qt import internals as _pg_internals


UNSORTED = -1
# Kelly's colours of maximum contrast (white, black and grey left out: grey means Unsorted).
_BASE = ["#F3C300", "#875692", "#F38400", "#A1CAF1", "#BE0032", "#C2B280", "#008856", "#E68FAC",
         "#0067A5", "#F99379", "#604E97", "#F6A600", "#B3446C", "#DCD300", "#882D17", "#8DB600",
         "#654522", "#E25822", "#2B3D26", "#1F77B4", "#17BECF", "#9467BD"]
_UNSORTED_COLOR = QtGui.QColor(150, 150, 150, 150)


def cluster_color(cluster_id: int) -> QtGui.QColor:
    """A colour that depends on the cluster id alone, so it is stable across calls and runs.
    Ids past the base list cycle through it again, lighter or darker."""
    if cluster_id < 0:
        return QtGui.QColor(_UNSORTED_COLOR)
    base = QtGui.QColor(_BASE[cluster_id % len(_BASE)])
    turn = (cluster_id // len(_BASE)) % 3
    return base if turn == 0 else base.lighter(140) if turn == 1 else base.darker(150)


def points_in_polygon(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of xy inside polygon (even-odd rule, vectorised per edge)."""
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    mask = np.zeros(len(xy), dtype=bool)
    if len(poly) < 3 or len(xy) == 0:
        return mask
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    cand = np.flatnonzero(np.all((xy >= lo) & (xy <= hi), axis=1))
    x, y = xy[cand, 0], xy[cand, 1]
    inside = np.zeros(len(cand), dtype=bool)
    xj, yj = poly[-1]
    for xi, yi in poly:
        crosses = (yi > y) != (yj > y)
        if yi != yj:
            inside ^= crosses & (x < (xj - xi) * (y - yi) / (yj - yi) + xi)
        xj, yj = xi, yi
    mask[cand] = inside
    return mask


@dataclass(frozen=True)
class DotStyle:
    fill: QtGui.QColor | None
    outline: QtGui.QColor | None
    size: float  # diameter in pixels


class Dots(pg.GraphicsObject):
    """Pixel-sized dots, one style per dot, drawn in one call in the given order."""

    _COLS = 64

    def __init__(self):
        super().__init__()
        self._xy = np.zeros((2, 0))
        self._style_idx = np.zeros(0, dtype=np.intp)
        self._styles: list[DotStyle] = []
        self._atlas: QtGui.QPixmap | None = None
        self._atlas_dpr = 0.0
        self._src = np.zeros((0, 4))
        self._frags = _pg_internals.PrimitiveArray(QtGui.QPainter.PixmapFragment, 10)
        self._lo = self._hi = None

    def set_data(self, xy: np.ndarray, style_idx: np.ndarray, styles: list[DotStyle]) -> None:
        self.prepareGeometryChange()
        self._xy = np.ascontiguousarray(np.asarray(xy, dtype=np.float64).reshape(-1, 2).T)
        self._style_idx = np.asarray(style_idx, dtype=np.intp)
        if styles != self._styles:
            self._styles, self._atlas = list(styles), None
        self._lo = self._xy.min(axis=1) if self._xy.shape[1] else None
        self._hi = self._xy.max(axis=1) if self._xy.shape[1] else None
        self.update()

    def _build_atlas(self, dpr: float) -> None:
        cell = int(np.ceil((max((s.size for s in self._styles), default=1) + 4) * dpr))
        cols = min(self._COLS, max(1, len(self._styles)))
        rows = max(1, -(-len(self._styles) // cols))
        atlas = QtGui.QPixmap(cols * cell, rows * cell)
        atlas.fill(Qt.GlobalColor.transparent)
        src = np.zeros((max(1, len(self._styles)), 4))
        p = QtGui.QPainter(atlas)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        for i, st in enumerate(self._styles):
            x0, y0 = (i % cols) * cell, (i // cols) * cell
            d = st.size * dpr
            rect = QtCore.QRectF(x0 + (cell - d) / 2, y0 + (cell - d) / 2, d, d)
            if st.outline is not None:  # a dark halo under a light ring reads on any background
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.setPen(QtGui.QPen(QtGui.QColor(0, 0, 0, 200), 3.0 * dpr))
                p.drawEllipse(rect)
                p.setPen(QtGui.QPen(st.outline, 1.5 * dpr))
            else:
                p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(st.fill if st.fill is not None else Qt.BrushStyle.NoBrush)
            p.drawEllipse(rect)
            src[i] = (x0, y0, cell, cell)
        p.end()
        self._atlas, self._atlas_dpr, self._src = atlas, dpr, src

    def _pad_px(self) -> float:
        return max((s.size for s in self._styles), default=0) / 2 + 2

    def dataBounds(self, ax, frac=1.0, orthoRange=None):
        if self._lo is None:
            return None
        return float(self._lo[ax]), float(self._hi[ax])

    def pixelPadding(self):
        return self._pad_px()

    def boundingRect(self):
        if self._lo is None:
            return QtCore.QRectF()
        px, py = self.pixelVectors()
        pw = 0.0 if px is None else px.length() * self._pad_px()
        ph = 0.0 if py is None else py.length() * self._pad_px()
        (x0, y0), (x1, y1) = self._lo, self._hi
        return QtCore.QRectF(x0 - pw, y0 - ph, x1 - x0 + 2 * pw, y1 - y0 + 2 * ph)

    def viewTransformChanged(self):
        self.prepareGeometryChange()

    def paint(self, p, option, widget=None):
        n = self._xy.shape[1]
        if n == 0 or not self._styles:
            return
        dpr = widget.devicePixelRatioF() if widget is not None else p.device().devicePixelRatioF()
        if self._atlas is None or self._atlas_dpr != dpr:
            self._build_atlas(dpr)
        pts = pg.functions.transformCoordinates(p.transform(), self._xy)
        dev = p.device()
        pad = self._pad_px() * 2
        keep = ((pts[0] > -pad) & (pts[0] < dev.width() + pad)
                & (pts[1] > -pad) & (pts[1] < dev.height() + pad))
        idx = np.flatnonzero(keep)
        if len(idx) == 0:
            return
        p.resetTransform()
        self._frags.resize(len(idx))
        frags = self._frags.ndarray()
        frags[:, 0] = pts[0, idx]
        frags[:, 1] = pts[1, idx]
        frags[:, 2:6] = self._src[self._style_idx[idx]]
        frags[:, 6:10] = (1.0 / dpr, 1.0 / dpr, 0.0, 1.0)
        p.drawPixmapFragments(*self._frags.drawargs(), self._atlas)

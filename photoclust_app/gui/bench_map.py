"""`photoclust bench map`: frame times of the map at N photos, zoomed out (dots and labels)
and zoomed in (thumbnails), with the thumbnail and label layers off ("before") and on.

Synthetic points (sqrt(N) Gaussian clusters plus 5% Unsorted), thumbnails from an in-memory
provider (as the window's loader gives them once cached), an 800x600 map; each frame is a
small pan (``pan_fps``: zoomed out, dots and labels) or a zoom step (``zoom_fps``: from the
whole map down to about 150 photos shown as thumbnails and back, as a wheel does) followed by
a synchronous repaint of the viewport.
"""
from __future__ import annotations

import os
import time

import numpy as np


def _frames(app, w, ranges) -> list[float]:
    vp = w._plot.viewport()
    out = []
    for x0, x1, y0, y1 in ranges:
        w.set_view(x0, x1, y0, y1)
        app.processEvents()
        t = time.perf_counter()
        vp.repaint()
        out.append(time.perf_counter() - t)
    return out


def _stats(name: str, times: list[float], out: dict) -> None:
    ms = np.array(times) * 1000
    out[f"{name}_median_ms"] = round(float(np.median(ms)), 2)
    out[f"{name}_p95_ms"] = round(float(np.percentile(ms, 95)), 2)
    out[f"{name}_fps"] = round(1000 / float(np.median(ms)), 1)


def bench_map(n: int = 100_000, frames: int = 40) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtGui, QtWidgets

    from photoclust_app.gui.map_view import MapView

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    rng = np.random.default_rng(0)
    k = max(2, int(np.sqrt(n)))
    centres = rng.uniform(-100, 100, (k, 2))
    clusters = rng.integers(0, k, n)
    clusters[rng.random(n) < 0.05] = -1
    xy = (centres[np.maximum(clusters, 0)] + rng.normal(0, 2.0, (n, 2))).astype(np.float32)
    ids = np.arange(1, n + 1, dtype=np.int64)
    pool = []
    for i in range(64):
        img = QtGui.QImage(160, 120, QtGui.QImage.Format.Format_RGB32)
        img.fill(QtGui.QColor.fromHsv(i * 5 % 360, 160, 220))
        pool.append(img)
    w = MapView()
    w.resize(800, 600)
    w.show()
    app.processEvents()
    out: dict = {"n": n, "clusters": k}
    try:
        t = time.perf_counter()
        w.set_points(ids, xy, clusters)
        app.processEvents()
        out["set_points_ms"] = round((time.perf_counter() - t) * 1000, 1)
        (x0, x1), (y0, y1) = w.view_range()
        wide = [(x0 + d, x1 + d, y0, y1) for d in np.linspace(0, 5, frames)]
        # zoomed in to about 150 photos of one cluster
        cx, cy = centres[0]
        half = 4.0
        while half > 0.05 and (np.abs(xy - (cx, cy)) < (half, half * 0.75)).all(axis=1).sum() > 150:
            half /= 1.25
        near = [(cx - half + d, cx + half + d, cy - half * 0.75, cy + half * 0.75) for d in np.linspace(0, 1, frames)]
        w._thumbs.setVisible(False)
        w._labels.setVisible(False)
        _stats("before_zoomed_out", _frames(app, w, wide), out)
        _stats("before_zoomed_in", _frames(app, w, near), out)
        w.thumbnail_provider = lambda pid: pool[pid % len(pool)]
        w.cluster_name_provider = lambda cid: f"cluster {cid}"
        w.refresh_labels()
        w._thumbs.setVisible(True)
        w._labels.setVisible(True)
        _stats("zoomed_out", _frames(app, w, wide), out)
        out["labels_drawn"] = len(w.labels_shown())
        _frames(app, w, near[:1])          # the first zoomed-in frame scales the thumbnails once
        _stats("zoomed_in", _frames(app, w, near), out)
        out["thumbnails_drawn"] = int(w._thumbs.drawn)
        out["zoomed_in_photos_in_view"] = len(w.thumbnails_shown())
        # zoom: wheel-like steps about the first cluster, whole map -> ~150 photos -> whole map
        fx, fy = (x1 - x0) / 2, (y1 - y0) / 2
        steps = np.geomspace(1.0, half / fx, frames // 2)
        scales = np.concatenate([steps, steps[::-1]])
        zoom = [(cx - fx * k, cx + fx * k, cy - fy * k, cy + fy * k) for k in scales]
        times = _frames(app, w, zoom)
        _stats("zoom", times, out)
        # most steps of a log zoom are deep in (few dots): the mean is what a zoom feels like
        out["zoom_mean_fps"] = round(len(times) / sum(times), 1)
        out["zoom_p95_fps"] = round(1000 / out["zoom_p95_ms"], 1)
        out["pan_fps"] = out["zoomed_out_fps"]
    finally:
        w.close()
        w.deleteLater()
        app.processEvents()
    return out


if __name__ == "__main__":  # python -m photoclust_app.gui.bench_map [n]
    import json
    import sys

    print(json.dumps(bench_map(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000), indent=1))

"""Photos as they are indexed, for a window that shows them before the index ends (Qt-free).

``index_folder`` calls ``LiveBatches.committed`` after each batch it commits; at most every
INTERVAL_S (and at ``flush``) the photos committed since go out through SEND as one
LiveBatch, each with a provisional map position, so the window needs no read of the library
per batch:
- a library that already has a layout: near the photo's nearest laid-out neighbours in
  embedding space (clustering/place.py's placement, against an evenly spread sample of at
  most REFERENCE clustered photos read once, so a batch costs milliseconds at 100k);
- a first index (no layout yet): every vector so far projected onto its first two principal
  axes, refitted (on a sample) at most every REFIT_S; batches in between are projected onto
  the current axes. The real layout replaces it when clustering ends.
Nothing here writes to the library: positions are for the display only.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)

INTERVAL_S = 0.5       # the window hears of new photos at most this often
REFIT_S = 3.0          # a provisional (PCA) map is refitted at most this often
REFERENCE = 8192       # laid-out photos the new ones are placed against
FIT_SAMPLE = 4096      # vectors the principal axes are fitted on


@dataclass
class LiveBatch:
    """Photos committed since the last batch, and where the map may show them for now."""

    photo_ids: np.ndarray                  # the photos just committed (new or changed), int64
    relpaths: list[str]
    map_ids: np.ndarray                    # photos this gives a provisional position to
    map_xy: np.ndarray                     # (n, 2) float32
    replace: bool = False                  # map_ids are every provisional photo (a refit)
    projection: str = "place"              # "place": by neighbours on the layout; "pca": first index
    stats: dict = field(default_factory=dict)


def _normalise(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


class _Placer:
    """New photos near their nearest neighbours on the existing layout (place.place)."""

    def __init__(self, lib, layout_ids: np.ndarray, layout_xy: np.ndarray):
        from photoclust_app.core.clustering.suggest import evenly
        from photoclust_app.core.store.clusters import cluster_labels

        ids, X = lib.embedding_matrix()
        labels = cluster_labels(lib.assignment_table(), ids)
        at = np.searchsorted(layout_ids, ids)
        has = (at < len(layout_ids)) & (layout_ids[np.minimum(at, len(layout_ids) - 1)] == ids)
        rows = evenly(np.flatnonzero(has & (labels >= 0)), REFERENCE)
        self.Xn = _normalise(X[rows]) if len(rows) else np.zeros((0, X.shape[1] if X.ndim == 2 else 0), np.float32)
        self.labels = labels[rows]
        self.xy = layout_xy[at[rows]].astype(np.float32)

    def place(self, vectors: np.ndarray) -> np.ndarray:
        from photoclust_app.core.clustering.place import place

        Q = _normalise(vectors)
        if not len(self.Xn) or self.Xn.shape[1] != Q.shape[1]:
            return np.full((len(Q), 2), np.nan, np.float32)   # nothing to place against: the window picks
        n = len(self.Xn)
        Xn = np.vstack([self.Xn, Q])
        labels = np.concatenate([self.labels, np.full(len(Q), -1, np.int64)])
        xy = np.vstack([self.xy, np.full((len(Q), 2), np.nan, np.float32)])
        _, _, _, out = place(Xn, labels, np.arange(n, n + len(Q)), xy)
        return out.astype(np.float32)


class _Projection:
    """A deterministic 2-D projection of every vector so far: the first two principal axes
    of an evenly spread sample, each axis signed so its largest loading is positive."""

    def __init__(self, ids: np.ndarray, X: np.ndarray):
        self.ids = [np.asarray(ids, np.int64)]
        self.X = [np.asarray(X, np.float16)] if len(ids) else []
        self.mean: np.ndarray | None = None
        self.axes: np.ndarray | None = None

    def add(self, ids: np.ndarray, X: np.ndarray) -> None:
        self.ids.append(np.asarray(ids, np.int64))
        self.X.append(np.asarray(X, np.float16))

    def all(self) -> tuple[np.ndarray, np.ndarray]:
        """Every photo so far, once each (its latest vector: a changed photo comes twice)."""
        ids = np.concatenate(self.ids) if self.ids else np.zeros(0, np.int64)
        if not len(ids):
            return ids, np.zeros((0, 0), np.float16)
        X = np.vstack(self.X)
        _, last = np.unique(ids[::-1], return_index=True)
        keep = np.sort(len(ids) - 1 - last)
        ids, X = ids[keep], X[keep]
        self.ids, self.X = [ids], [X]
        return ids, X

    def refit(self) -> tuple[np.ndarray, np.ndarray]:
        from photoclust_app.core.clustering.suggest import evenly

        ids, X = self.all()
        if len(ids) < 3:
            self.mean = self.axes = None
            return ids, np.zeros((len(ids), 2), np.float32)
        sample = _normalise(X[evenly(np.arange(len(ids)), FIT_SAMPLE)])
        self.mean = sample.mean(axis=0)
        _, _, vt = np.linalg.svd(sample - self.mean, full_matrices=False)
        axes = vt[:2]
        if len(axes) < 2:
            axes = np.vstack([axes, np.zeros_like(axes[:1])])
        signs = np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])
        self.axes = (axes * np.where(signs == 0, 1, signs)[:, None]).astype(np.float32)
        return ids, self.project(X)

    def project(self, X: np.ndarray) -> np.ndarray:
        if self.axes is None:
            return np.zeros((len(X), 2), np.float32)
        out = np.empty((len(X), 2), np.float32)
        for a in range(0, len(X), 16384):   # in chunks: float16 to float32 a piece at a time
            out[a:a + 16384] = (_normalise(X[a:a + 16384]) - self.mean) @ self.axes.T
        return out


class LiveBatches:
    """Collects committed batches for SEND(LiveBatch); see the module docstring."""

    def __init__(self, lib, send: Callable[[LiveBatch], None], *, clock: Callable[[], float] = time.monotonic,
                 interval: float = INTERVAL_S, refit: float = REFIT_S):
        self.lib, self.send, self.clock = lib, send, clock
        self.interval, self.refit_s = interval, refit
        self._mode: _Placer | _Projection | None = None
        self._pending: list[tuple[list[int], list[str], np.ndarray]] = []
        self._last_send = -1e9
        self._last_fit = -1e9
        self.sent = 0          # batches sent
        self.broken = False    # a failure here stops the live display, never the index

    def _prepare(self) -> None:
        """What the map positions are made from, read once at the first commit (the model is
        known by then): the layout, or every vector without one (an index resumed)."""
        t = time.perf_counter()
        lids, lxy = self.lib.layout()
        if len(lids):
            self._mode = _Placer(self.lib, lids, lxy)
        else:
            ids, X = self.lib.embedding_matrix()
            self._mode = _Projection(ids, X)
        log.info("live batches: %s ready in %.2f s", type(self._mode).__name__, time.perf_counter() - t)

    def committed(self, photo_ids: list[int], relpaths: list[str], vectors: np.ndarray) -> None:
        """index_folder's on_commit: keep the batch; send what is due."""
        if self.broken:
            return
        try:
            if self._mode is None:
                self._prepare()
            self._pending.append((list(photo_ids), list(relpaths), np.asarray(vectors, np.float32)))
            if isinstance(self._mode, _Projection):
                self._mode.add(np.asarray(photo_ids, np.int64), vectors)
            if self.clock() - self._last_send >= self.interval:
                self.flush()
        except Exception:   # the display of new photos is a nicety; the index goes on
            log.exception("live batches failed; new photos show when indexing ends")
            self.broken = True

    def flush(self) -> None:
        """Send everything committed since the last batch (index_folder has returned, or a
        batch is due)."""
        if not self._pending or self.broken:
            return
        t = time.perf_counter()
        ids = np.array([p for b in self._pending for p in b[0]], np.int64)
        rel = [r for b in self._pending for r in b[1]]
        X = np.vstack([b[2] for b in self._pending])
        self._pending = []
        mode = self._mode
        if isinstance(mode, _Placer):
            batch = LiveBatch(ids, rel, ids, mode.place(X), projection="place")
        elif mode.axes is None or self.clock() - self._last_fit >= self.refit_s:
            all_ids, xy = mode.refit()
            self._last_fit = self.clock()
            batch = LiveBatch(ids, rel, all_ids, xy, replace=True, projection="pca")
        else:
            batch = LiveBatch(ids, rel, ids, mode.project(X), projection="pca")
        batch.stats = {"seconds": round(time.perf_counter() - t, 4), "photos": len(ids)}
        self._last_send = self.clock()
        self.sent += 1
        self.send(batch)

"""Photos in the window as they are indexed: the open job's "live" partials.

Each LiveBatch (core/ingest/live_batches.py) names the photos the index has just committed,
with their relpaths and a provisional map position, so nothing here reads the library: the
session takes them in as Unsorted and new (its models add just those rows, the counts
follow), and the map shows them at once, near their neighbours on the existing layout or on
the provisional projection of a first index. Provisional positions live here, are never
written, and are laid over the session's layout at every full map refresh until a real
layout (the clustering, a placement) covers the photo. Nothing the user did changes: no
assignment, no selection, and a refitted projection refits the view only when the user has
not panned or zoomed it since the last fit.
"""
from __future__ import annotations

import logging
import time

import numpy as np

log = logging.getLogger(__name__)


class LiveFill:
    def __init__(self, win):
        self.win = win
        self.clear()

    def clear(self) -> None:
        """A folder closed or opened: no provisional positions."""
        self.ids = np.zeros(0, np.int64)
        self.xy = np.zeros((0, 2), np.float32)
        self.projection: str | None = None   # "pca": the map is a provisional projection
        self.batches = 0
        self.last_ms = 0.0                   # GUI-thread time the last batch took
        self.applying = False                # a batch is being taken in (the header only recounts)

    @property
    def provisional(self) -> bool:
        """The map shows a provisional projection (a first index), not a real layout."""
        return self.projection == "pca" and len(self.ids) > 0

    def _laid_out(self, ids: np.ndarray) -> np.ndarray:
        """Which of IDS the session's layout already places (those keep their real position)."""
        lids = self.win.session.layout_ids()
        if not len(lids) or not len(ids):
            return np.zeros(len(ids), bool)
        at = np.minimum(np.searchsorted(lids, ids), len(lids) - 1)
        return lids[at] == ids

    def _labels(self, ids: np.ndarray) -> np.ndarray:
        s = self.win.session
        return np.fromiter((-1 if (c := s.cluster_of(p)) is None else c for p in ids.tolist()),
                           dtype=np.int64, count=len(ids))

    def apply(self, batch) -> None:
        """Show one LiveBatch: its photos in the session (grid, list, counts) and on the map."""
        s, mv = self.win.session, self.win.map_view
        if s is None:
            return
        t = time.perf_counter()
        self.applying = True
        try:
            added = s.add_photos(batch.photo_ids.tolist(), batch.relpaths)
        finally:
            self.applying = False
        self.projection = batch.projection
        ids = np.asarray(batch.map_ids, np.int64)
        xy = np.array(batch.map_xy, np.float32).reshape(-1, 2)
        keep = ~self._laid_out(ids)
        ids, xy = ids[keep], xy[keep]
        lost = ~np.isfinite(xy).all(axis=1)
        if lost.any():   # nothing to place against: the map's lower-left corner, as placement does
            shown = mv._xy
            xy[lost] = np.nanmin(shown, axis=0) if len(shown) else 0.0
        if batch.replace:
            self.ids, self.xy = ids, xy
            mv.set_points(*self.overlay(*s.layout()), fit=not mv.user_moved)
        else:
            old = ~np.isin(self.ids, ids)
            self.ids = np.concatenate([self.ids[old], ids])
            self.xy = np.concatenate([self.xy[old], xy])
            mv.add_points(ids, xy, self._labels(ids))
            if self.provisional and not mv.user_moved:   # a provisional map grows: keep it all in view
                mv.fit()
        if self.provisional:   # every photo is Unsorted: a highlight of them all would only hide the map
            if len(mv._selected) and not self.win.has_selected_photos():
                mv.set_selection([])
        elif added and None in self.win.grid_model.shown_clusters() and not self.win.has_selected_photos():
            mv.add_to_selection(added)   # the map highlights the shown clusters' photos: Unsorted grew
        self.batches += 1
        self.last_ms = (time.perf_counter() - t) * 1000

    def overlay(self, ids: np.ndarray, xy: np.ndarray, labels: np.ndarray):
        """The session's layout (IDS, XY, LABELS) with the provisional photos it lacks added;
        those it now has are forgotten here."""
        if not len(self.ids):
            return ids, xy, labels
        mine = ~np.isin(self.ids, ids)
        self.ids, self.xy = self.ids[mine], self.xy[mine]
        if not len(self.ids):
            self.projection = None
            return ids, xy, labels
        known = np.fromiter((bool(self.win.session.relpath(p)) for p in self.ids.tolist()), bool, len(self.ids))
        self.ids, self.xy = self.ids[known], self.xy[known]   # photos gone from the library meanwhile
        return (np.concatenate([np.asarray(ids, np.int64), self.ids]),
                np.concatenate([np.asarray(xy, np.float32).reshape(-1, 2), self.xy]),
                np.concatenate([np.asarray(labels, np.int64), self._labels(self.ids)]))

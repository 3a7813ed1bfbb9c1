"""How good the clusters are, as the window shows it: each cluster's cohesion in the list (a
"Split?" flag under cohesion.INCOHERENT) and the overall figures in the status bar.

Both need every embedding, so they are computed in a background task on a reader connection
of their own, a second after the clusters last changed (edits come in bursts) and only while
the window runs no other task; the result of a read that an edit overtook is thrown away for
a fresh one. The vectors are read once and kept until indexing changes them (at 100k photos
reading them holds the interpreter for a few hundred ms, which the window would feel after
every edit); an edit costs a read of the assignments only. The overall figures are the
clustering's own (silhouette and Davies-Bouldin on the reduced space the tree was built in),
recomputed for the clusters as they are now, hand edits included; without a stored tree that
covers the library, the last clustering's figures are shown as they were recorded.
"""
from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel

from photoclust_app.core.store.clusters import cluster_labels
from photoclust_app.gui.tasks import TaskRunner

log = logging.getLogger(__name__)

DELAY_MS = 1000

QUALITY_TIP = (
    "How well the photos fall into groups, for the clusters as they are now:\n"
    "\u2022 Separation (silhouette, \u22121 to 1): how much closer each photo is to its own group\n"
    "   than to the next one. Above 0.5 the groups stand well apart; near 0 they blur together.\n"
    "\u2022 Overlap (Davies\u2013Bouldin, 0 and up): how much the groups spread into their\n"
    "   neighbours. Lower is better; under 1 is good.\n"
    "\u2022 Unsorted: the share of photos that resemble no group.\n"
    "   Clusters \u203a Assign the Rest puts them into their nearest cluster.")


def read_quality(lib, vectors=None) -> tuple[dict[int, float], dict, tuple]:
    """(cluster id -> cohesion, overall figures, the vectors read) for LIB's clusters as they
    are now. VECTORS: what an earlier call returned, reused while the library's model and
    embedded count are the same. Pure reads; safe on a reader connection in a worker thread."""
    from photoclust_app.core.clustering.cohesion import cohesion

    key = (lib.model, lib.count_embedded())
    if vectors is None or vectors[0] != key:
        vectors = (key, *lib.embedding_matrix())
    _, ids, X = vectors
    table = lib.assignment_table()
    return cohesion(X, cluster_labels(table, ids)), _overall(lib, table), vectors


def _overall(lib, table: dict) -> dict:
    from photoclust_app.core.clustering.plan import TREE_KEY

    stored = lib.load_tree(lib.get_meta(TREE_KEY))
    last = lib.last_clustering() or {}
    figures = dict(last.get("metrics") or {})
    figures["live"] = False
    if stored is None or not len(stored.photo_ids):
        return figures
    from photoclust_app.core.clustering.cluster import cluster_metrics

    cids = cluster_labels(table, stored.photo_ids)
    labels = np.full(len(cids), -1, np.int64)
    member = cids >= 0
    if member.any():
        labels[member] = np.unique(cids[member], return_inverse=True)[1]
    live = cluster_metrics(stored.reduced, labels)
    figures.update(silhouette=live["silhouette"], davies_bouldin=live["davies_bouldin"], live=True)
    return figures


def quality_text(figures: dict | None, unsorted: int, photos: int) -> tuple[str, str]:
    """(status-bar text, tooltip) for FIGURES and the live Unsorted share."""
    parts = []
    sil, db = (figures or {}).get("silhouette"), (figures or {}).get("davies_bouldin")
    if sil is not None:
        parts.append(f"separation {sil:.2f}")
    if db is not None:
        parts.append(f"overlap {db:.2f}")
    if photos:
        parts.append(f"unsorted {100 * unsorted / photos:.0f}%")
    if not parts:
        return "", ""
    tip = QUALITY_TIP
    if figures is not None and not figures.get("live", True):
        tip += "\n(Separation and overlap are from the last clustering: photos were added since.)"
    if sil is None and photos:
        tip += "\n(Separation needs at least two clusters.)"
    return "Quality: " + " \u00b7 ".join(parts), tip


class QualityWatcher(QObject):
    """Recomputes cohesion and the overall figures after changes; ``cohesionReady`` carries
    {cluster id: score}, and ``label`` (for the status bar) shows the figures."""

    cohesionReady = Signal(object)
    figuresReady = Signal(object)

    def __init__(self, parent=None, *, delay_ms: int = DELAY_MS):
        super().__init__(parent)
        self.runner = TaskRunner(self)
        self.label = QLabel()
        self.label.setObjectName("quality-figures")
        self.figures: dict | None = None
        self.scores: dict[int, float] = {}
        self._library = None
        self._session = None
        self._stamp = 0        # bumped by every change: a result read before the last one is stale
        self._done_stamp = -1  # the stamp of the result shown
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._start)
        self.hold = lambda: False   # True while the window is busy: wait (its work comes first)
        self._vectors = None        # (key, ids, vectors) kept between reads
        self.runner.finished.connect(self._done)
        self.runner.failed.connect(lambda _n, msg: log.warning("Cluster quality not computed: %s", msg))
        self.runner.idle.connect(self._idle)

    def set_library(self, library, session) -> None:
        self._library, self._session = library, session
        self.scores, self.figures, self._vectors = {}, None, None
        self._stamp += 1
        self.refresh_label()
        if library is not None:
            self.schedule()

    def schedule(self) -> None:
        """Recompute a moment from now (restarting the wait: a burst of edits costs one read)."""
        self._stamp += 1
        if self._library is not None:
            self._timer.start()

    def forget_vectors(self) -> None:
        """Indexing changed the embeddings: read them again next time."""
        self._vectors = None

    def busy(self) -> bool:
        return self.runner.is_running() or self._timer.isActive()

    def _start(self) -> None:
        if self._library is None:
            return
        if self.runner.is_running():
            return   # _idle starts again when it is done
        if self.hold():
            self._timer.start()   # the window's own task first
            return
        lib, stamp, vectors = self._library, self._stamp, self._vectors

        def job(ctx):
            with lib.reader() as reader:
                return stamp, read_quality(reader, vectors)

        self.runner.start("quality", job)

    def _done(self, _name: str, result) -> None:
        stamp, (scores, figures, vectors) = result
        if self._library is None:
            return
        self._vectors = vectors
        if stamp != self._stamp:
            return   # something changed while it read: _idle reads again
        self._done_stamp = stamp
        self.scores, self.figures = scores, figures
        self.cohesionReady.emit(scores)
        self.figuresReady.emit(figures)
        self.refresh_label()

    def _idle(self) -> None:
        if self._library is not None and not self._timer.isActive() and self._done_stamp != self._stamp:
            self._timer.start()

    def refresh_label(self) -> None:
        s = self._session
        if s is None:
            self.label.setText("")
            self.label.setToolTip("")
            return
        text, tip = quality_text(self.figures, s.unsorted_count(), s.photo_count())
        self.label.setText(text)
        self.label.setToolTip(tip)

"""The photo library: one SQLite file per photo folder, the single store of truth.

WAL mode, one transaction per batch: a kill loses at most the batch in flight. One writer
at a time, enforced by an flock on a lock file next to the database; readers
(``readonly=True``, or ``reader()`` for another thread) never block and are never blocked.
The class is assembled from one mixin per concern, each in its own module: the connection
(opening, locking, transactions, meta), photos, clusters, constraints and the review list,
cluster trees, and the edit history.
"""
from __future__ import annotations

from photoclust_app.core.store.clusters import ClusterStore
from photoclust_app.core.store.connection import Connection
from photoclust_app.core.store.constraints import ConstraintStore
from photoclust_app.core.store.duplicates import DuplicateStore
from photoclust_app.core.store.features import FeatureStore
from photoclust_app.core.store.history import HistoryStore
from photoclust_app.core.store.location import LIBRARY_DIRNAME, LIBRARY_FILENAME, library_path_for
from photoclust_app.core.store.photos import FileState, IndexedPhoto, PhotoStore
from photoclust_app.core.store.trees import TreeStore

__all__ = ["Library", "IndexedPhoto", "FileState", "library_path_for", "LIBRARY_DIRNAME", "LIBRARY_FILENAME"]


class Library(PhotoStore, ClusterStore, ConstraintStore, TreeStore, DuplicateStore, FeatureStore, HistoryStore,
              Connection):
    """A photo folder's library. Open with ``Library.open(folder)``; close when done."""

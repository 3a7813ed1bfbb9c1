"""The one Qt-free pipeline after indexing: when to cluster (wants_clustering), computing a
plan and applying it, with the settings stored in the library. The CLI, the GUI's engine and
the tests all call it, so ``photoclust cluster`` uses the granularity chosen in the window
and vice versa; indexing itself is ingest.index_folder, which both call directly.

Computing a clustering (UMAP, HDBSCAN, names) writes nothing; applying it is one recorded,
undoable transaction. The GUI computes in its engine process and applies through its
session; the CLI does both here.
"""
from __future__ import annotations

import logging

from photoclust_app.core.clustering.naming import make_namer
from photoclust_app.core.clustering.plan import (ClusteringPlan, ClusteringSummary, apply_clustering,
                                                  compute_clustering, compute_split)
from photoclust_app.core.progress import CancelFn, ProgressFn
from photoclust_app.core.store.library import Library

log = logging.getLogger(__name__)

# Library meta: the granularity the user chose (absent: automatic, from the library's size).
MIN_CLUSTER_SIZE_KEY = "cluster.min_cluster_size"
_OLD_KEYS = ("gui.min_cluster_size",)  # where 0.1 kept it
STORED = object()  # "the granularity stored in the library", as a default argument


def stored_granularity(lib: Library) -> int | None:
    """The granularity the user chose for this library, or None for automatic."""
    for key in (MIN_CLUSTER_SIZE_KEY, *_OLD_KEYS):
        value = lib.get_meta(key)
        if value and value.isdigit() and int(value) >= 2:
            return int(value)
    return None


def granularity_settings(value: int | None) -> dict[str, str | None]:
    """The meta rows that record a granularity choice (written with the clustering it made)."""
    return {MIN_CLUSTER_SIZE_KEY: None if value is None else str(int(value))}


def wants_clustering(lib: Library) -> bool:
    """Cluster after indexing when some embedded photo was never clustered, or the last
    clustering used another model's vectors."""
    if not lib.count_embedded():
        return False
    last = lib.last_clustering()
    return last is None or lib.has_unclustered() or last.get("model") != lib.model


def compute(lib: Library, *, min_cluster_size: int | None | object = STORED, min_samples: int | None = None,
            names: bool = True, device: str = "auto", progress: ProgressFn | None = None,
            cancel: CancelFn | None = None) -> ClusteringPlan:
    """A clustering plan for the whole library, at the stored granularity unless one is given
    (then applying the plan makes it the library's setting)."""
    chosen = min_cluster_size is not STORED
    mcs = min_cluster_size if chosen else stored_granularity(lib)
    plan = compute_clustering(lib, min_cluster_size=mcs, min_samples=min_samples,
                              namer=make_namer(lib.model, device) if names else None,
                              progress=progress, cancel=cancel)
    if chosen:  # a new choice: applying the plan stores it, undoably
        plan.settings = granularity_settings(mcs)
    return plan


def split(lib: Library, cluster_id: int, *, device: str = "auto", progress: ProgressFn | None = None,
          cancel: CancelFn | None = None) -> ClusteringPlan:
    return compute_split(lib, cluster_id, namer=make_namer(lib.model, device), progress=progress, cancel=cancel)


def cluster(lib: Library, *, min_cluster_size: int | None | object = STORED, min_samples: int | None = None,
            names: bool = True, device: str = "auto", progress: ProgressFn | None = None,
            cancel: CancelFn | None = None, text: str | None = "Re-cluster") -> ClusteringSummary:
    """Compute and apply, as one undoable entry named TEXT (None: not undoable)."""
    plan = compute(lib, min_cluster_size=min_cluster_size, min_samples=min_samples, names=names,
                   device=device, progress=progress, cancel=cancel)
    if lib.last_clustering() is None and text == "Re-cluster":
        text = "Cluster photos"
    return apply_clustering(lib, plan, text=text)


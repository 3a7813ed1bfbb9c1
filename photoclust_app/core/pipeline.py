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

# Library meta: the user's granularity. cluster.groups: "" (automatic: the tree's default
# level) or N (exactly N groups); cluster.min_cluster_size: the smallest group (default 8).
GROUPS_KEY = "cluster.groups"
MIN_CLUSTER_SIZE_KEY = "cluster.min_cluster_size"
STORED = object()  # "the setting stored in the library", as a default argument


def stored_granularity(lib: Library) -> int | None:
    """The smallest group the user chose for this library, or None for the default (8)."""
    value = lib.get_meta(MIN_CLUSTER_SIZE_KEY)
    if value and value.isdigit() and int(value) >= 2:
        return int(value)
    return None


def stored_groups(lib: Library) -> int | None:
    """Exactly this many groups, or None for automatic."""
    value = lib.get_meta(GROUPS_KEY)
    return int(value) if value and value.isdigit() and int(value) >= 1 else None


def granularity_settings(value: int | None) -> dict[str, str | None]:
    """The meta rows that record a smallest-group choice (written with the clustering it made)."""
    return {MIN_CLUSTER_SIZE_KEY: None if value is None else str(int(value))}


def groups_settings(n: int | None) -> dict[str, str | None]:
    """The meta row that records Automatic (None) or Exactly N."""
    return {GROUPS_KEY: "" if n is None else str(int(n))}


def current_stops(lib: Library) -> tuple[list[tuple[int, int]], int] | None:
    """What the granularity slider offers without re-clustering: the stored tree's stops
    ((clusters, level), fewest first) and the automatic level's cluster count; None when no
    tree covers the library as it is (then a granularity change re-clusters). Reads ids only."""
    from photoclust_app.core.clustering import hierarchy
    from photoclust_app.core.clustering.plan import usable_tree

    found = usable_tree(lib, lib.embedded_ids(), stored_granularity(lib) or hierarchy.MIN_SIZE)
    if found is None:
        return None
    tree = found[1]
    return hierarchy.stops(tree), hierarchy.levels(tree)[tree.default][1]


def after_index(lib: Library) -> str | None:
    """What indexing calls for: "cluster" (never clustered, another model's vectors, or the
    new photos are more than place.MAX_SHARE of the library: the old clusters no longer
    describe it), "place" (a few new photos join the clusters as they are), or None."""
    from photoclust_app.core.clustering.place import MAX_SHARE

    n = lib.count_embedded()
    if not n:
        return None
    last = lib.last_clustering()
    if last is None or last.get("model") != lib.model:
        return "cluster"
    new = lib.count_unclustered()
    if not new:
        return None
    return "cluster" if new > MAX_SHARE * n else "place"


def wants_clustering(lib: Library) -> bool:
    """A full clustering is due after indexing (see after_index)."""
    return after_index(lib) == "cluster"


def compute_placement(lib: Library):
    """Where the photos indexed since the last clustering go (clustering/place.py). Writes nothing."""
    from photoclust_app.core.clustering.place import compute_placement as compute

    return compute(lib)


def warm_placement() -> None:
    """Import what placing new photos needs (scipy.sparse, threadpoolctl: ~0.8 s on a busy
    machine) in a background thread, so the first placement after an index does not pay it."""
    import threading

    def load() -> None:
        import scipy.sparse  # noqa: F401
        import threadpoolctl  # noqa: F401

    threading.Thread(target=load, name="photoclust-warm-placement", daemon=True).start()


def place_new(lib: Library, *, text: str | None = "Place new photos"):
    """Compute and apply placements (the CLI's path; the window applies through its session)."""
    from photoclust_app.core.clustering.place import apply_placement

    plan = compute_placement(lib)
    if len(plan.photo_ids):
        apply_placement(lib, plan, text=placement_text(plan) if text else None)
    return plan


def placement_text(plan) -> str:
    n = len(plan.photo_ids)
    return f"Place {n} new photo{'s' if n != 1 else ''}"


def compute(lib: Library, *, groups: int | None | object = STORED, level: int | None = None,
            min_cluster_size: int | None | object = STORED, reuse: bool = True, names: bool = True,
            device: str = "auto", progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> ClusteringPlan:
    """A clustering plan for the whole library: at the stored granularity unless one is given
    (automatic: groups=None; exactly N: groups=N; a tree level: level=L), which applying the
    plan then stores, undoably. ``reuse``: cut the current tree when it still covers the
    library (a level change, no refit); False re-clusters from the embeddings."""
    settings: dict = {}
    if min_cluster_size is STORED:
        mcs = stored_granularity(lib)
    else:
        mcs = min_cluster_size
        settings.update(granularity_settings(mcs))
    if level is not None:
        n_groups = None
    elif groups is STORED:
        n_groups = stored_groups(lib)
    else:
        n_groups = groups
        settings.update(groups_settings(n_groups))
    plan = compute_clustering(lib, min_cluster_size=mcs, groups=n_groups, level=level, reuse=reuse,
                              namer=make_namer(lib.model, device) if names else None,
                              progress=progress, cancel=cancel)
    if level is not None:  # a level is stored as its cluster count, which any later tree can honour
        settings.update(groups_settings(plan.metrics.get("n_clusters")))
    plan.settings = settings
    return plan


def granularity_text(plan: ClusteringPlan) -> str:
    """The history entry's name for a granularity change."""
    mode, n = plan.params.get("mode"), plan.metrics.get("n_clusters")
    if mode == "auto":
        return f"Automatic groups ({n})"
    if mode == "level":
        return f"Level {plan.params.get('level')} ({n} groups)"
    return f"Exactly {n} groups" if mode == "groups" else "Re-cluster"


def split(lib: Library, cluster_id: int, *, device: str = "auto", progress: ProgressFn | None = None,
          cancel: CancelFn | None = None) -> ClusteringPlan:
    return compute_split(lib, cluster_id, namer=make_namer(lib.model, device), progress=progress, cancel=cancel)


def split_by_example(lib: Library, cluster_id: int, sides: list[list[int]], *, device: str = "auto") -> ClusteringPlan:
    """A split of CLUSTER_ID by the photos picked for each side (clustering/plan.py)."""
    from photoclust_app.core.clustering.plan import compute_split_by_example

    return compute_split_by_example(lib, cluster_id, sides, namer=make_namer(lib.model, device))


def cluster(lib: Library, *, groups: int | None | object = STORED, level: int | None = None,
            min_cluster_size: int | None | object = STORED, reuse: bool = True, names: bool = True,
            device: str = "auto", progress: ProgressFn | None = None, cancel: CancelFn | None = None,
            text: str | None = "Re-cluster") -> ClusteringSummary:
    """Compute and apply, as one undoable entry named TEXT (None: not undoable)."""
    plan = compute(lib, groups=groups, level=level, min_cluster_size=min_cluster_size, reuse=reuse, names=names,
                   device=device, progress=progress, cancel=cancel)
    if lib.last_clustering() is None and text == "Re-cluster":
        text = "Cluster photos"
    elif text == "Re-cluster" and plan.settings:
        text = granularity_text(plan)
    return apply_clustering(lib, plan, text=text)


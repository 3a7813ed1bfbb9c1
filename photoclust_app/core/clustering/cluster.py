"""Embeddings -> UMAP (10-d, cosine) -> one cluster hierarchy -> clusters; the rest is "Unsorted".
With ``layout=True`` the 2-D map comes from the same neighbour graph, laid out beside it
(reduce.py: one kNN graph, one spectral init, the two SGD runs on both cores).

Why (figures in docs/research/clustering-hierarchy.md, EfficientNet-Lite0 features, seeds 0-4):
a photo library is multi-scale, a few themes of hundreds beside many groups of 10-40, and no
flat HDBSCAN setting serves both ends. The 0.1 default (leaf selection, min size sqrt(n), then
a 5% Unsorted target filled by force) could not form a group smaller than sqrt(n) (it found
0.04-0.10 of the small classes of the unbalanced composites) and pushed real outliers into
unrelated clusters. hierarchy.py builds one tree (density-separated groups from HDBSCAN's
condensed tree, Ward inside them, each split valued by modularity of the original-space kNN
graph) and cuts it where modularity stops improving; it finds 0.59-0.85 of those small
classes, beats the old default on every composite (mean NMI +0.04 to +0.06) and clothing10
(0.596 vs 0.565) and ties it on flowers (0.877). Every coarser or finer granularity is a level
of the same tree, so a slider or "exactly N groups" is a cut, not a refit.

* Unsorted is what resembles no cluster: groups under ``min_size`` photos and photos the
  outlier test (original space) rejects. There is no share target; "assign the rest to the
  nearest cluster" is a user action (editing.assign).
* Exact duplicate vectors (copies of a photo) are embedded once and share coordinates.
* Fewer than ``2 * min_size`` photos cannot form two clusters, and identical vectors have no
  structure: both give one cluster holding everything (``params["path"] == "single"``).

Deterministic: each UMAP run is seeded and single-threaded (the map runs in a second thread
of its own), and HDBSCAN, the Ward tree and the k-d tree are deterministic, so the same input
and seed give the same labels and the same map.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from photoclust_app.core.clustering import hierarchy, reduce
from photoclust_app.core.clustering.layout import layout_2d
from photoclust_app.core.errors import PhotoclustError
from photoclust_app.core.progress import CancelFn, ProgressFn, check_cancel, no_progress

log = logging.getLogger(__name__)

N_COMPONENTS = 10
MIN_SIZE = hierarchy.MIN_SIZE  # the smallest group (8): a dinner, a hike, one burst
IDENTICAL_COS_DIST = 1e-4
SILHOUETTE_SAMPLE = 2000  # a +-0.01 estimate; 5000 made a level change at 100k cost ~0.4 s
MIN_UMAP_N = 10  # fewer distinct vectors than this are clustered in the original space


class TooManyGroups(PhotoclustError):
    """Exactly N groups was asked for, and the hierarchy never splits that finely."""


@dataclass
class ClusterResult:
    labels: np.ndarray  # int64 (n,), -1 = Unsorted, 0..k-1 by size desc
    probabilities: np.ndarray  # float32 (n,), 1 for members, 0 for Unsorted
    reduced: np.ndarray  # float32 (n, d), the space clustering ran in
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    tree: hierarchy.Tree | None = None  # every granularity of this run; None on the trivial paths
    xy: np.ndarray | None = None  # (n, 2) the map, when asked for (same graph as the clustering space)

    @property
    def n_clusters(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0


def cluster_vectors(
    vectors: np.ndarray,
    *,
    min_cluster_size: int | None = None,
    groups: int | None = None,
    level: int | None = None,
    seed: int = 42,
    layout: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> ClusterResult:
    """Cluster L2-normalised embeddings at the tree's default level (automatic), at exactly
    ``groups`` clusters, or at tree ``level``; see the module docstring for why these steps.
    ``min_cluster_size`` is the smallest group (default 8). With ``layout`` the result also
    holds the 2-D map, laid out from the same neighbour graph (reduce.py) beside the clustering."""
    progress = progress or no_progress
    X = _as_matrix(vectors)
    n = len(X)
    m = int(min_cluster_size) if min_cluster_size is not None else MIN_SIZE
    if m < 2:
        raise ValueError("min_cluster_size must be at least 2")
    params = {"seed": int(seed), "n": n, "min_cluster_size": m}
    check_cancel(cancel)
    if n == 0:
        return _trivial(X, params, "empty", progress, layout, seed, cancel)
    if n < 2 * m or _all_identical(X):
        return _trivial(X, params, "single", progress, layout, seed, cancel)

    first, inverse = _dedupe(X)
    Xu = X if first is None else X[first]
    knn, reduction = None, None
    if len(Xu) >= MIN_UMAP_N:
        reduction = reduce.reduce(Xu, seed=seed, n_components=N_COMPONENTS, with_map=layout, progress=progress,
                                  cancel=cancel)
        Zu, reduce_params, knn_u = reduction.Z, reduction.info, reduction.knn
        if knn_u is not None and first is not None:  # a copy's neighbours are its original's, as full rows
            knn_u = np.where(knn_u >= 0, first[np.maximum(knn_u, 0)], -1)[inverse]
        knn = knn_u  # None under 4096 photos (UMAP computed all distances): the tree finds them in X
    else:  # a handful of distinct vectors: nothing for UMAP to learn, cluster them as they are
        progress(0, 1, "reduce")
        Zu, reduce_params = Xu, {"reducer": "none"}
    Z = Zu if first is None else np.ascontiguousarray(Zu[inverse])
    params.update(reduce_params, n_unique=len(Xu))
    progress(1, 1, "reduce")
    check_cancel(cancel)

    progress(0, 1, "cluster")
    try:
        tree = hierarchy.build(Z, X, knn, min_size=m)
        params.update(path="umap+hierarchy", gap_ratio=hierarchy.GAP_RATIO, n_levels=len(tree.order) + 1,
                      default_level=tree.default, tree_seconds={k: round(v, 3) for k, v in tree.seconds.items()},
                      **_versions())
        result = cut_result(tree, Z, groups=groups, level=level, seed=seed, params=params)
        progress(1, 1, "cluster")
        check_cancel(cancel)
    except BaseException:
        if reduction is not None:
            reduction.stop()
        raise
    if layout:
        xy = reduction.layout(progress, cancel) if reduction is not None else None
        result.xy = _spread_copies(xy, first, inverse) if xy is not None else layout_2d(X, seed=seed, cancel=cancel)
    log.info("clustered %d photos: %d clusters, %.1f%% unsorted", n, result.metrics["n_clusters"],
             100 * result.metrics["noise_fraction"])
    return result


def cut_result(tree: hierarchy.Tree, Z: np.ndarray, *, groups: int | None = None, level: int | None = None,
               seed: int = 42, params: dict | None = None) -> ClusterResult:
    """One granularity of a built tree, without refitting: the default level, exactly
    ``groups`` clusters (the tree's first level with that many; k-means on Z when the tree
    never has that many), or ``level``."""
    params = dict(params or {})
    if level is not None:
        chosen = max(0, min(int(level), len(tree.order)))
        labels, mode = hierarchy.cut(tree, chosen), "level"
    elif groups is not None:
        chosen = hierarchy.level_for(tree, int(groups))
        if chosen is None:  # every count from 1 to the finest level's exists, so it is too many
            most = max(k for k, _ in hierarchy.stops(tree))
            raise TooManyGroups(f"These photos form at most {most} groups of {tree.min_size} or more; "
                                f"choose {most} or fewer (or a smaller minimum group size).")
        labels, mode = hierarchy.cut(tree, chosen), "groups"
    else:
        chosen, mode = tree.default, "auto"
        labels = hierarchy.cut(tree, chosen)
    params.update(mode=mode, level=None if chosen is None else int(chosen),
                  groups=None if groups is None else int(groups))
    probs = (labels >= 0).astype(np.float32)
    return ClusterResult(labels, probs, np.asarray(Z, dtype=np.float32), params, cluster_metrics(Z, labels, seed),
                         tree)


def _spread_copies(xy: np.ndarray, first: np.ndarray | None, inverse: np.ndarray | None) -> np.ndarray:
    """The map of the distinct vectors, for every photo: copies of a photo sit on a tiny
    spiral around it (0.2% of the map's extent), so each dot stays hoverable."""
    if first is None:
        return np.ascontiguousarray(xy, dtype=np.float32)
    out = np.asarray(xy, dtype=np.float64)[inverse]
    extent = float(np.ptp(xy, axis=0).max()) if len(xy) > 1 else 1.0
    seen = np.zeros(len(first), dtype=np.int64)
    rank = np.empty(len(inverse), dtype=np.int64)
    for row, u in enumerate(inverse.tolist()):  # the k-th copy of a vector, in input order
        rank[row] = seen[u]
        seen[u] += 1
    k = rank[rank > 0].astype(np.float64)
    theta = k * np.pi * (3 - np.sqrt(5))
    r = 0.002 * (extent or 1.0) * np.sqrt(k)
    out[rank > 0] += np.column_stack([r * np.cos(theta), r * np.sin(theta)])
    return np.ascontiguousarray(out, dtype=np.float32)


def cluster_metrics(Z: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    """Cluster count, noise share, silhouette (on a sample) and Davies-Bouldin on the
    clustered points of the reduced space (None where undefined: fewer than two clusters).
    Both stay under ~0.1 s at 100k photos, so every level change reports them."""
    n = len(labels)
    k = int(labels.max()) + 1 if n else 0
    out = {"n_clusters": k, "noise_fraction": float((labels < 0).mean()) if n else 0.0,
           "silhouette": None, "davies_bouldin": None}
    member = labels >= 0
    if k < 2 or member.sum() <= k:
        return out
    from sklearn.metrics import silhouette_score

    Zm, lm = np.asarray(Z, dtype=np.float64)[member], labels[member]
    sample = SILHOUETTE_SAMPLE if len(Zm) > SILHOUETTE_SAMPLE else None
    try:
        out["silhouette"] = float(silhouette_score(Zm, lm, sample_size=sample, random_state=seed))
    except ValueError:  # a sample holding a single label
        log.debug("silhouette undefined", exc_info=True)
    out["davies_bouldin"] = davies_bouldin(Zm, lm)
    return out


def davies_bouldin(Z: np.ndarray, labels: np.ndarray) -> float | None:
    """Davies-Bouldin index in O(n + k^2) (sklearn's loops over clusters: O(n k), 0.15 s at
    100k photos and 300 clusters). Same definition: mean over clusters of the worst
    (s_i + s_j) / d(c_i, c_j), s = mean distance to the centroid."""
    ids, pos, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if len(ids) < 2:
        return None
    cen = np.zeros((len(ids), Z.shape[1]))
    np.add.at(cen, pos, Z)
    cen /= counts[:, None]
    spread = np.bincount(pos, weights=np.linalg.norm(Z - cen[pos], axis=1), minlength=len(ids)) / counts
    d = np.sqrt(np.maximum((cen ** 2).sum(1)[:, None] + (cen ** 2).sum(1)[None, :] - 2 * cen @ cen.T, 0))
    np.fill_diagonal(d, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (spread[:, None] + spread[None, :]) / d
    r[~np.isfinite(r)] = 0.0
    return float(r.max(axis=1).mean())


def _as_matrix(vectors) -> np.ndarray:
    X = np.asarray(vectors, dtype=np.float32)
    if X.ndim == 1 and X.size == 0:
        return X.reshape(0, 0)
    if X.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array (n, dim), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("vectors contain NaN or infinite values")
    return np.ascontiguousarray(X)


def _dedupe(X: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Rows of the first copy of each distinct vector (in input order) and, per row, its
    distinct index; (None, None) when all rows differ.

    UMAP spreads exact copies apart at random, so a photo copied 98 times came out as 89%
    noise; embedding each distinct vector once and giving copies its coordinates makes copies
    one dense spot that HDBSCAN keeps together (umap's own ``unique=True`` does the same).
    """
    rows = np.ascontiguousarray(X).view(np.dtype((np.void, X.dtype.itemsize * X.shape[1]))).ravel()
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    if len(first) == len(X):
        return None, None
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[inverse.ravel()]


def _all_identical(X: np.ndarray) -> bool:
    """True when every vector points the same way (cosine distance < 1e-4 to the mean)."""
    mean = X.astype(np.float64).mean(axis=0)
    norm = np.linalg.norm(mean)
    norms = np.linalg.norm(X, axis=1)
    if norm == 0 or (norms == 0).any():
        return bool(np.ptp(X, axis=0).max() == 0)
    cos = (X @ (mean / norm)) / norms
    return bool((1.0 - cos).max() < IDENTICAL_COS_DIST)


def _trivial(X: np.ndarray, params: dict, path: str, progress: ProgressFn, layout: bool = False, seed: int = 42,
             cancel: CancelFn | None = None) -> ClusterResult:
    """Empty input, too few photos for two clusters, or no spread at all: one cluster."""
    n = len(X)
    for stage in ("reduce", "cluster"):
        progress(1, 1, stage)
    params.update(path=path)
    labels = np.zeros(n, dtype=np.int64)
    metrics = {"n_clusters": 1 if n else 0, "noise_fraction": 0.0, "silhouette": None,
               "davies_bouldin": None}
    xy = layout_2d(X, seed=seed, progress=progress, cancel=cancel) if layout else None
    return ClusterResult(labels, np.ones(n, dtype=np.float32), X.astype(np.float32), params, metrics, xy=xy)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("umap-learn", "hdbscan"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:  # pragma: no cover
            out[pkg] = None
    return {"versions": out}

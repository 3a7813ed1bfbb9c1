"""Representative photos of a cluster (the mosaic) and a suggested cluster for Unsorted photos.

Both work in the ORIGINAL embedding space with cosine similarity, not in UMAP space: UMAP
distorts distances and the mosaic should show what the embedder sees as typical.
"""
from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

CENTRAL_SHARE = 0.5  # mosaic picks come from the most central half of a cluster
CHUNK = 8192


def medoids(vectors: np.ndarray, labels: np.ndarray, k: int = 9) -> dict[int, list[int]]:
    """Per cluster (label >= 0): up to k row indices, medoid first, then spread-out members.

    The medoid maximises the summed cosine similarity to its cluster, which for unit vectors
    is ``argmax x_i . sum_j x_j``: exact and O(m * dim). The other k-1 come from the most
    central half of the cluster by farthest-point selection (each new pick is the one least
    similar to those already picked), so the mosaic shows the cluster's range without
    outliers and without near-duplicates. Deterministic: ties go to the lowest row index.
    """
    X = _unit(vectors)
    labels = np.asarray(labels)
    if len(X) != len(labels):
        raise ValueError("vectors and labels must have the same length")
    out: dict[int, list[int]] = {}
    if k <= 0:
        return out
    for c in np.unique(labels[labels >= 0]):
        rows = np.flatnonzero(labels == c)
        Xc = X[rows]
        centrality = Xc @ Xc.sum(axis=0, dtype=np.float64).astype(np.float32)
        order = np.lexsort((rows, -centrality))  # most central first, ties by row index
        pool = order[: max(k, int(np.ceil(len(rows) * CENTRAL_SHARE)))]
        picks = [int(pool[0])]
        if len(pool) > 1 and k > 1:
            Xp = Xc[pool]
            closest = Xp @ Xc[picks[0]]  # similarity of each candidate to its nearest pick
            closest[0] = np.inf
            while len(picks) < min(k, len(pool)):
                j = int(np.argmin(closest))  # argmin takes the first, i.e. more central, on ties
                picks.append(int(pool[j]))
                closest = np.maximum(closest, Xp @ Xp[j])
                closest[j] = np.inf
        out[int(c)] = [int(rows[p]) for p in picks]
    return out


def nearest_cluster(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """For every row, the cluster whose centroid direction is most cosine-similar (int64).

    Used to suggest a cluster for an Unsorted photo; all rows get an answer (members
    usually get their own cluster). -1 everywhere when there is no cluster.
    """
    return _nearest(vectors, labels)[1]


def nearest_cluster_similarity(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(label, cosine similarity to that centroid) per row, so a caller can skip weak
    suggestions; similarity is NaN where there is no cluster."""
    sims, best = _nearest(vectors, labels)
    return best, sims


def _nearest(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = _unit(vectors)
    labels = np.asarray(labels)
    if len(X) != len(labels):
        raise ValueError("vectors and labels must have the same length")
    ids = np.unique(labels[labels >= 0])
    best = np.full(len(X), -1, dtype=np.int64)
    sims = np.full(len(X), np.nan, dtype=np.float32)
    if len(ids) == 0 or len(X) == 0:
        return sims, best
    C = np.stack([X[labels == c].sum(axis=0, dtype=np.float64) for c in ids]).astype(np.float32)
    C = _unit(C)
    for start in range(0, len(X), CHUNK):
        S = X[start:start + CHUNK] @ C.T
        j = S.argmax(axis=1)
        best[start:start + CHUNK] = ids[j]
        sims[start:start + CHUNK] = S[np.arange(len(j)), j]
    return sims, best


def _unit(vectors: np.ndarray) -> np.ndarray:
    X = np.asarray(vectors, dtype=np.float32)
    if X.ndim == 1 and X.size == 0:
        return X.reshape(0, 0)
    if X.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array (n, dim), got shape {X.shape}")
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)

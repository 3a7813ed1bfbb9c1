"""Representative photos of a cluster (the mosaic) and a suggested cluster for Unsorted photos.

Both work in the ORIGINAL embedding space with cosine similarity, not in UMAP space: UMAP
distorts distances and the mosaic should show what the embedder sees as typical.
"""
from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

POOL_FACTOR = 4  # mosaic candidates: the 4k most central distinct members
DUPLICATE_SIM = 0.95  # cosine above this to a more central member: a near-duplicate
CHUNK = 8192


def medoids(vectors: np.ndarray, labels: np.ndarray, k: int = 9) -> dict[int, list[int]]:
    """Per cluster (label >= 0): up to k row indices, medoid first, then spread-out members.

    The medoid maximises the summed cosine similarity to its cluster, which for unit vectors
    is ``argmax x_i . sum_j x_j``: exact and O(m * dim). The others come from a pool of the
    4k most central members that are not near-duplicates of a more central one (a burst of
    20 shots counts once), by farthest-point selection: each pick is the pool member least
    similar to those already picked. The pool keeps outliers out; the spread keeps the
    mosaic from showing one scene k times. Clusters with fewer distinct members are topped up
    with the next most central rows. Deterministic: ties go to the lowest row index.
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
        pool = _distinct_central(Xc, order, POOL_FACTOR * k)
        picks = _farthest_points(Xc[pool], k)
        chosen = [int(pool[p]) for p in picks]
        if len(chosen) < min(k, len(rows)):  # top up with the most central remaining rows
            taken = set(chosen)
            chosen += [int(i) for i in order if int(i) not in taken][: min(k, len(rows)) - len(chosen)]
        out[int(c)] = [int(rows[p]) for p in chosen]
    return out


def _distinct_central(Xc: np.ndarray, order: np.ndarray, size: int) -> np.ndarray:
    """Walk members from most central on; keep those below DUPLICATE_SIM to every kept one."""
    kept = [int(order[0])]
    for i in order[1:]:
        if float((Xc[kept] @ Xc[i]).max()) < DUPLICATE_SIM:
            kept.append(int(i))
            if len(kept) >= size:
                break
    return np.array(kept)


def _farthest_points(P: np.ndarray, k: int) -> list[int]:
    """Greedy farthest-point order starting from P[0] (the medoid)."""
    picks = [0]
    closest = P @ P[0]  # similarity of each candidate to its most similar pick
    closest[0] = np.inf
    while len(picks) < min(k, len(P)):
        j = int(np.argmin(closest))  # first index, i.e. more central, on ties
        picks.append(j)
        closest = np.maximum(closest, P @ P[j])
        closest[picks] = np.inf
    return picks


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

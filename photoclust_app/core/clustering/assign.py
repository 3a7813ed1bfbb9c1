"""Assign Unsorted photos to their nearest cluster: the user's action that replaces 0.1's
forced 5% Unsorted target. Clustering leaves a photo Unsorted when it resembles no cluster;
when the user wants every photo somewhere anyway, each goes to the cluster whose centroid
(mean of its L2-normalised embeddings, in the original space where the outlier test runs) it
is most like, with that cosine as its membership."""
from __future__ import annotations

import numpy as np

from photoclust_app.core.clustering.vectors import unit_centroids


def nearest_clusters(vectors: np.ndarray, labels: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows ``query`` of VECTORS: (the label of the nearest cluster centroid, its cosine).
    LABELS (n,) give each row's cluster, -1 for none; with no cluster at all the labels are -1."""
    X = np.asarray(vectors, dtype=np.float32)
    labels = np.asarray(labels)
    query = np.asarray(query, dtype=np.int64)
    ids = np.unique(labels[labels >= 0])
    if len(ids) == 0 or len(query) == 0:
        return np.full(len(query), -1, np.int64), np.zeros(len(query), np.float32)
    Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    member = labels >= 0
    pos = np.searchsorted(ids, labels[member])
    cen = unit_centroids(Xn, np.flatnonzero(member), pos, len(ids))
    sims = Xn[query] @ cen.T
    best = sims.argmax(axis=1)
    return ids[best].astype(np.int64), sims[np.arange(len(query)), best].astype(np.float32)

"""2-D coordinates for the map view on their own: UMAP(2-d, cosine) of the embeddings.

A clustering lays its map out from its own neighbour graph (reduce.py, cluster_vectors with
``layout=True``); this is the map of photos nobody is clustering (tiny or identical sets). ``min_dist=0.1`` keeps dots of one cluster from
collapsing onto one pixel. Inputs too small for UMAP (< 32 photos) use PCA, and vectors that
all point the same way are laid out on a small sunflower spiral so every dot stays hoverable.
"""
from __future__ import annotations

import logging

import numpy as np

from photoclust_app.core.clustering.reduce import MAP_MIN_DIST as MIN_DIST
from photoclust_app.core.progress import CancelFn, ProgressFn, check_cancel, no_progress

log = logging.getLogger(__name__)

MIN_UMAP_N = 32


def layout_2d(vectors: np.ndarray, *, seed: int = 42, progress: ProgressFn | None = None,
              cancel: CancelFn | None = None) -> np.ndarray:
    """(n, 2) float32 map coordinates; deterministic for a given input and seed."""
    progress = progress or no_progress
    X = np.asarray(vectors, dtype=np.float32)
    if X.size == 0:
        progress(1, 1, "layout")
        return np.zeros((0 if X.ndim < 2 else len(X), 2), dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array (n, dim), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("vectors contain NaN or infinite values")
    check_cancel(cancel)
    progress(0, 1, "layout")
    n = len(X)
    if _spread(X) < 1e-6:
        xy = _spiral(n)
    elif n < MIN_UMAP_N:
        xy = _pca_2d(X)
    else:
        xy = _umap_2d(X, seed)
    check_cancel(cancel)
    progress(1, 1, "layout")
    return np.ascontiguousarray(xy, dtype=np.float32)


def _umap_2d(X: np.ndarray, seed: int) -> np.ndarray:
    from photoclust_app.core.clustering.reduce import reduce

    try:
        xy = reduce(X, seed=seed, n_components=2, min_dist=MIN_DIST).Z
    except ValueError:  # non-finite coordinates
        xy = np.full((len(X), 2), np.nan)
    if not np.isfinite(xy).all():  # pragma: no cover - defensive; fall back to something drawable
        log.warning("UMAP layout produced non-finite coordinates; using PCA")
        return _pca_2d(X)
    return xy


def _pca_2d(X: np.ndarray) -> np.ndarray:
    """Top two principal components, signs fixed so the output is deterministic."""
    Xc = X.astype(np.float64) - X.mean(axis=0)
    _, s, vt = np.linalg.svd(Xc, full_matrices=False)
    comps = vt[:2]
    if len(comps) < 2:  # a single photo
        comps = np.vstack([comps, np.zeros((2 - len(comps), X.shape[1]))])
    signs = np.sign(comps[np.arange(2), np.abs(comps).argmax(axis=1)])
    signs[signs == 0] = 1
    xy = Xc @ (comps * signs[:, None]).T
    scale = np.abs(xy).max()
    return xy / scale * 10 if scale > 0 else xy


def _spread(X: np.ndarray) -> float:
    return float(np.ptp(X, axis=0).max()) if len(X) > 1 else 0.0


def _spiral(n: int) -> np.ndarray:
    """Sunflower (golden-angle) spiral: evenly spread, deterministic, radius ~1."""
    i = np.arange(n, dtype=np.float64)
    r = np.sqrt((i + 0.5) / max(n, 1))
    theta = i * np.pi * (3 - np.sqrt(5))
    return np.column_stack([r * np.cos(theta), r * np.sin(theta)]) if n > 1 else np.zeros((n, 2))

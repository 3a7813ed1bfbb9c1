"""layout_2d: shapes, tiny inputs, determinism, separation, cancel."""
from __future__ import annotations

import numpy as np
import pytest

from photoclust_app.core.errors import Cancelled
from photoclust_app.core.clustering.layout import MIN_UMAP_N, layout_2d


def unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)


def two_groups(n_each: int, dim: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    c = unit(rng.normal(size=(2, dim)))
    X = np.concatenate([c[i] + 0.2 * rng.normal(size=(n_each, dim)) / np.sqrt(dim) for i in (0, 1)])
    return unit(X), np.repeat([0, 1], n_each)


def separated(xy: np.ndarray, truth: np.ndarray) -> bool:
    """Every point's nearest other point in 2-D belongs to its own group."""
    d = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return bool((truth[d.argmin(axis=1)] == truth).all())


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5])
def test_tiny_inputs(n):
    X = unit(np.random.default_rng(n).normal(size=(max(n, 1), 16)))[:n]
    xy = layout_2d(X)
    assert xy.shape == (n, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    if n >= 2:
        assert len({tuple(p) for p in xy.round(6)}) == n  # no two dots on top of each other


def test_identical_vectors_spread_on_spiral():
    X = np.repeat(unit(np.ones((1, 8))), 50, axis=0)
    xy = layout_2d(X)
    assert xy.shape == (50, 2) and len({tuple(p) for p in xy.round(6)}) == 50
    assert np.abs(xy).max() <= 1.0


def test_small_input_uses_pca_and_separates():
    X, truth = two_groups(10)
    assert len(X) < MIN_UMAP_N
    assert separated(layout_2d(X), truth)


def test_umap_layout_separates_deterministic_and_reports_progress():
    X, truth = two_groups(40, seed=1)
    seen = []
    xy = layout_2d(X, seed=7, progress=lambda d, t, s: seen.append((d, t, s)))
    assert xy.shape == (80, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    assert separated(xy, truth)
    assert seen[0] == (0, 1, "layout") and seen[-1] == (1, 1, "layout")
    np.testing.assert_array_equal(xy, layout_2d(X, seed=7))


def test_cancel():
    X, _ = two_groups(40)
    with pytest.raises(Cancelled):
        layout_2d(X, cancel=lambda: True)
    calls = []

    def cancel_after_fit():  # first check passes, the one after the fit cancels
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(Cancelled):
        layout_2d(X, cancel=cancel_after_fit)
    assert len(calls) == 2


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        layout_2d(np.full((40, 4), np.inf, dtype=np.float32))
    with pytest.raises(ValueError):
        layout_2d(np.zeros(5, dtype=np.float32))

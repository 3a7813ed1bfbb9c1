"""cluster.py and representatives.py on synthetic embeddings: fast, no shared data."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from photoclust_app.core.clustering import hierarchy
from photoclust_app.core.clustering.cluster import MIN_SIZE, ClusterResult, TooManyGroups, cluster_vectors, cut_result
from photoclust_app.core.errors import Cancelled
from photoclust_app.core.clustering.representatives import medoids, nearest_cluster, nearest_cluster_similarity

REPO = Path(__file__).resolve().parents[2]


def unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)


def blobs(sizes=(90, 70, 50, 40), dim=32, spread=0.25, seed=0):
    """Unit vectors around len(sizes) random directions; returns (X, truth)."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(len(sizes), dim)))
    X = np.concatenate([c + spread * rng.normal(size=(s, dim)) / np.sqrt(dim) for c, s in zip(centres, sizes)])
    truth = np.repeat(np.arange(len(sizes)), sizes)
    order = rng.permutation(len(X))
    return unit(X[order]), truth[order]


@pytest.fixture(scope="module")
def blob_result():
    X, truth = blobs()
    return X, truth, cluster_vectors(X, seed=3)


def test_blobs_are_recovered(blob_result):
    from sklearn.metrics import adjusted_rand_score

    X, truth, r = blob_result
    assert isinstance(r, ClusterResult)
    assert r.metrics["n_clusters"] == 4
    assert r.metrics["noise_fraction"] <= 0.05
    assert adjusted_rand_score(truth, r.labels) > 0.95
    assert r.metrics["silhouette"] is not None and r.metrics["silhouette"] > 0.5
    assert r.metrics["davies_bouldin"] is not None and r.metrics["davies_bouldin"] > 0


def test_result_types_and_numbering(blob_result):
    X, truth, r = blob_result
    n = len(X)
    assert r.labels.dtype == np.int64 and r.labels.shape == (n,)
    assert r.probabilities.dtype == np.float32 and r.probabilities.shape == (n,)
    assert r.reduced.dtype == np.float32 and r.reduced.shape == (n, 10)
    sizes = np.bincount(r.labels[r.labels >= 0])
    assert list(sizes) == sorted(sizes, reverse=True)  # 0 is the biggest cluster
    assert set(np.unique(r.labels[r.labels >= 0])) == set(range(len(sizes)))
    assert ((r.probabilities >= 0) & (r.probabilities <= 1)).all()
    assert (r.probabilities[r.labels < 0] == 0).all()
    assert (r.probabilities[r.labels >= 0] > 0).all()
    params = json.loads(json.dumps(r.params))  # JSON-serialisable
    assert params["seed"] == 3 and params["min_cluster_size"] == MIN_SIZE == 8
    assert params["path"] == "umap+hierarchy" and params["mode"] == "auto" and params["level"] == r.tree.default
    json.dumps(r.metrics)


def test_deterministic(blob_result):
    X, _, r = blob_result
    again = cluster_vectors(X, seed=3)
    np.testing.assert_array_equal(r.labels, again.labels)
    np.testing.assert_array_equal(r.reduced, again.reduced)
    np.testing.assert_array_equal(r.probabilities, again.probabilities)


def test_small_groups_beside_big_ones_and_no_forced_members():
    """The multi-scale default: three big groups and six of 10-14 photos each come out as
    their own clusters (0.1's min size sqrt(n) = 29 merged or dropped every small one), and
    two random directions stay Unsorted instead of being pushed into a cluster."""
    from sklearn.metrics import normalized_mutual_info_score

    sizes = (300, 250, 200, 14, 13, 12, 12, 11, 10)
    X, truth = blobs(sizes=sizes, dim=48, spread=0.35, seed=5)
    strays = unit(np.random.default_rng(9).normal(size=(2, 48)))
    r = cluster_vectors(np.concatenate([X, strays]), seed=0)
    lab = r.labels[:len(X)]
    assert r.metrics["n_clusters"] == len(sizes), r.metrics
    assert normalized_mutual_info_score(truth, lab) > 0.95
    assert (r.labels[len(X):] == -1).all()


def test_every_granularity_is_a_cut_of_one_tree(blob_result):
    X, truth, r = blob_result
    stops = hierarchy.stops(r.tree)
    assert [k for k, _ in stops] == list(range(1, len(stops) + 1))  # every count, fewest first
    for k, level in stops[:6]:
        exact = cut_result(r.tree, r.reduced, groups=k)
        assert exact.metrics["n_clusters"] == k and exact.params["mode"] == "groups" and exact.params["level"] == level
        at = cut_result(r.tree, r.reduced, level=level)
        np.testing.assert_array_equal(at.labels, exact.labels)
    two = cut_result(r.tree, r.reduced, groups=2).labels
    four = cut_result(r.tree, r.reduced, groups=4).labels
    for k in range(4):  # nested: each cluster of four lies inside one cluster of two
        inside = two[four == k]
        assert len(np.unique(inside[inside >= 0])) <= 1
    with pytest.raises(TooManyGroups, match="at most"):
        cut_result(r.tree, r.reduced, groups=len(stops) + 1)
    direct = cluster_vectors(X, seed=3, groups=2)
    np.testing.assert_array_equal(direct.labels, two)


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_tiny_inputs_give_one_cluster(n):
    X = unit(np.random.default_rng(n).normal(size=(max(n, 1), 16)))[:n]
    r = cluster_vectors(X)
    assert r.labels.shape == (n,) and r.probabilities.shape == (n,)
    assert (r.labels == 0).all()
    assert r.metrics["n_clusters"] == (1 if n else 0)
    assert r.metrics["noise_fraction"] == 0.0 and r.metrics["silhouette"] is None
    assert r.params["path"] == ("empty" if n == 0 else "single")


def test_three_near_identical_photos():
    base = unit(np.random.default_rng(1).normal(size=(1, 64)))
    X = unit(np.repeat(base, 3, axis=0) + 1e-3 * np.random.default_rng(2).normal(size=(3, 64)))
    r = cluster_vectors(X)
    assert r.labels.tolist() == [0, 0, 0]


def test_empty_1d_input():
    r = cluster_vectors(np.array([], dtype=np.float32))
    assert r.labels.shape == (0,) and r.metrics["n_clusters"] == 0


def test_all_identical_vectors_one_cluster():
    X = np.repeat(unit(np.ones((1, 32))), 200, axis=0)
    r = cluster_vectors(X)
    assert (r.labels == 0).all() and r.params["path"] == "single"


def test_twenty_photos_two_subjects():
    X, truth = blobs(sizes=(10, 10), dim=64, spread=0.3, seed=5)
    r = cluster_vectors(X, seed=0)
    assert r.metrics["n_clusters"] == 2
    for c in (0, 1):  # each cluster is one subject
        assert len(set(truth[r.labels == c])) == 1


def test_exact_copies_stay_together():
    base = unit(np.random.default_rng(4).normal(size=(3, 48)))
    X = np.repeat(base, [50, 40, 30], axis=0)
    r = cluster_vectors(X)
    assert r.metrics["n_clusters"] == 3 and r.metrics["noise_fraction"] == 0
    assert [len(set(r.labels[s])) for s in (slice(0, 50), slice(50, 90), slice(90, 120))] == [1, 1, 1]


def test_many_copies_plus_others_not_noise():
    rng = np.random.default_rng(6)
    X = np.concatenate([np.repeat(unit(rng.normal(size=(1, 32))), 98, axis=0), unit(rng.normal(size=(2, 32)))])
    r = cluster_vectors(X)
    assert (r.labels[:98] == 0).all()


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        cluster_vectors(np.full((20, 8), np.nan, dtype=np.float32))
    with pytest.raises(ValueError):
        cluster_vectors(np.zeros((4, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError):
        cluster_vectors(np.eye(20, dtype=np.float32), min_cluster_size=1)


def test_progress_stages_and_cancel_after_reduce():
    X, _ = blobs(sizes=(30, 30), seed=2)
    seen = []
    r = cluster_vectors(X, progress=lambda d, t, s: seen.append((d, t, s)))
    stages = [s for _, _, s in seen]
    assert stages.index("reduce") < stages.index("cluster")
    assert (1, 1, "reduce") in seen and (1, 1, "cluster") in seen and r.labels.shape == (60,)

    seen.clear()

    def cancel_once_reduced():  # the user presses Cancel while UMAP runs
        return (1, 1, "reduce") in seen

    with pytest.raises(Cancelled):
        cluster_vectors(X, progress=lambda d, t, s: seen.append((d, t, s)), cancel=cancel_once_reduced)
    assert (1, 1, "reduce") in seen
    assert not any(s == "cluster" for _, _, s in seen)  # stopped before clustering


def test_cancel_before_start():
    X, _ = blobs(sizes=(30, 30), seed=2)
    seen = []
    with pytest.raises(Cancelled):
        cluster_vectors(X, progress=lambda *a: seen.append(a), cancel=lambda: True)
    assert seen == []


def test_medoid_is_exact_and_first():
    X, truth = blobs(sizes=(40, 25), dim=16, spread=0.6, seed=1)
    labels = truth.copy()
    labels[:3] = -1  # noise has no representatives
    reps = medoids(X, labels, k=9)
    assert set(reps) == {0, 1}
    for c, rows in reps.items():
        members = np.flatnonzero(labels == c)
        cost = (1 - X[members] @ X[members].T).sum(axis=1)
        assert rows[0] == members[np.argmin(cost)]
        assert len(rows) == 9 and len(set(rows)) == 9 and set(rows) <= set(members)
    assert medoids(X, labels, k=9) == reps  # deterministic


def test_medoids_skip_near_duplicates_and_small_clusters():
    rng = np.random.default_rng(3)
    centre = unit(rng.normal(size=(1, 32)))
    dupes = unit(np.repeat(centre, 20, axis=0) + 1e-4 * rng.normal(size=(20, 32)))  # one burst
    varied = unit(centre + 0.5 * rng.normal(size=(20, 32)) / np.sqrt(32))
    X = np.concatenate([dupes, varied, unit(rng.normal(size=(3, 32)))])
    labels = np.array([0] * 40 + [1] * 3)
    reps = medoids(X, labels, k=6)
    assert sum(r < 20 for r in reps[0]) <= 2  # not a mosaic of the burst
    assert sorted(reps[1]) == [40, 41, 42]  # a cluster smaller than k gives all it has
    assert medoids(X, labels, k=0) == {}


def test_nearest_cluster_matches_brute_force():
    X, truth = blobs(sizes=(30, 30, 30), dim=24, spread=0.5, seed=7)
    labels = truth.copy()
    labels[::7] = -1
    got = nearest_cluster(X, labels)
    cents = unit(np.stack([X[labels == c].mean(axis=0) for c in range(3)]))
    np.testing.assert_array_equal(got, np.argmax(X @ cents.T, axis=1))
    assert (got[labels < 0] == truth[labels < 0]).mean() > 0.9  # suggestions are right
    best, sims = nearest_cluster_similarity(X, labels)
    np.testing.assert_array_equal(best, got)
    assert sims.dtype == np.float32 and (sims <= 1.0001).all()
    assert (nearest_cluster(X, np.full(len(X), -1)) == -1).all()


@pytest.mark.slow
def test_jit_cache_speeds_up_second_process(tmp_path):
    """The first fit of a new process is much faster once the numba cache is filled."""
    script = textwrap.dedent("""
        import time, numpy as np
        from photoclust_app.core.clustering.cluster import cluster_vectors
        X = np.random.default_rng(0).normal(size=(200, 32)).astype(np.float32)
        t = time.perf_counter(); cluster_vectors(X); print(time.perf_counter() - t)
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), PYTHONPATH=str(REPO))
    times = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                             timeout=600, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    assert any((tmp_path / "numba").rglob("*.nbi"))
    assert times[1] < 0.5 * times[0], times

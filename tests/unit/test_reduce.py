"""reduce.py: one neighbour graph for the clustering space and the map (issue 13 item 4)."""
import threading

import numpy as np
import pytest

from photoclust_app.core.clustering import reduce as R
from photoclust_app.core.clustering.cluster import cluster_vectors
from photoclust_app.core.clustering.numba_cache import import_umap
from photoclust_app.core.errors import Cancelled


def blobs(n=300, dim=24, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, dim)).astype(np.float32)
    X[: n // 2] += 3.0
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_clustering_space_is_bit_identical_to_umap():
    """Our epoch loop reproduces umap.UMAP exactly (same graph, init, random stream and kernel),
    so routing the fit through it changed no clustering; it also guards the private kernel."""
    X = blobs()
    umap = import_umap()
    ref = umap.UMAP(n_components=10, n_neighbors=15, min_dist=0.0, metric="cosine", random_state=3, n_jobs=1,
                    low_memory=True).fit_transform(X)
    red = R.reduce(X, seed=3, with_map=True)
    assert np.array_equal(ref.astype(np.float32), red.Z)
    assert red.info["n_epochs"] == 500 and red.info["shared_graph_map"]


def test_nn_descent_on_every_core_gives_umaps_single_thread_result():
    """From 4,096 photos umap uses NN-descent, which a seed holds to one thread there; ours
    runs it on every core and must still match the single-threaded fit exactly."""
    X = blobs(4200, dim=16, seed=4)
    umap = import_umap()
    ref = umap.UMAP(n_components=10, n_neighbors=15, min_dist=0.0, metric="cosine", random_state=3, n_jobs=1,
                    low_memory=True, n_epochs=30).fit_transform(X)
    red = R.reduce(X, seed=3, n_epochs=30)
    assert red.knn is not None and red.knn.shape == (4200, 15)
    assert np.array_equal(ref.astype(np.float32), red.Z)


def test_map_from_the_shared_graph_is_deterministic_and_separates():
    X = blobs()
    a, b = R.reduce(X, seed=5, with_map=True), R.reduce(X, seed=5, with_map=True)
    xy = a.layout()
    assert xy.shape == (300, 2) and np.isfinite(xy).all()
    assert np.array_equal(xy, b.layout())
    half = len(X) // 2
    gap = np.linalg.norm(xy[:half].mean(0) - xy[half:].mean(0))
    spread = max(xy[:half].std(0).max(), xy[half:].std(0).max())
    assert gap > 3 * spread  # the two looks are two islands on the map


def test_progress_counts_epochs_and_cancel_stops_both_runs():
    X = blobs()
    seen = []
    R.reduce(X, seed=1, with_map=True, progress=lambda d, t, s: seen.append((d, t, s))).layout(
        lambda d, t, s: seen.append((d, t, s)))
    stages = [s for _, _, s in seen]
    assert stages.index("neighbours") < stages.index("reduce") < stages.index("layout")
    done = [d for d, t, s in seen if s == "reduce"]
    assert done == sorted(done) and done[-1] == 500 and len(set(done)) > 50
    calls = {"n": 0}

    def cancel():
        calls["n"] += 1
        return calls["n"] > 20

    with pytest.raises(Cancelled):
        R.reduce(X, seed=1, with_map=True, cancel=cancel)
    assert not any(t.name == "photoclust-map-sgd" and t.is_alive() for t in threading.enumerate())


def test_epochs_capped_only_for_large_libraries():
    assert R.epochs_for(5000) is None and R.epochs_for(R.LARGE) is None
    assert R.epochs_for(R.LARGE + 1) == R.epochs_for(1_000_000) == R.LARGE_EPOCHS


def test_fast_spectral_solves_umaps_init_subspace_and_declines_a_split_graph():
    import scipy.sparse as sp

    from umap.spectral import spectral_layout
    from umap.umap_ import fuzzy_simplicial_set

    X = blobs(600, seed=2)
    X[:300] = blobs(300, seed=7)  # a second look, still joined to the first by a few neighbours
    G = fuzzy_simplicial_set(X, 15, np.random.RandomState(0), "cosine")[0]
    ours = R.fast_spectral(G, 10)
    ref = spectral_layout(X, G, 10, np.random.RandomState(0))
    q1, q2 = np.linalg.qr(ours)[0], np.linalg.qr(ref)[0]
    assert np.linalg.svd(q1.T @ q2, compute_uv=False).min() > 0.99
    split = sp.block_diag([G, G]).tocsr()
    assert R.fast_spectral(split, 10) is None


def test_cluster_vectors_lays_copies_out_beside_their_original():
    """Exact copies share the clustering space; on the map each copy gets its own dot, close by."""
    X = blobs(200)
    X = np.concatenate([X, X[:5], X[:5]])
    r = cluster_vectors(X, seed=0, layout=True)
    assert r.xy.shape == (210, 2) and np.isfinite(r.xy).all()
    assert len(np.unique(np.round(r.xy, 6), axis=0)) == 210
    extent = np.ptp(r.xy, axis=0).max()
    assert np.abs(r.xy[200:205] - r.xy[:5]).max() < 0.02 * extent
    assert (r.labels[200:205] == r.labels[:5]).all()


def test_bench_cluster_reports_new_and_old_path_side_by_side(capsys):
    import json

    from photoclust_app import cli

    assert cli.main(["bench", "cluster", "--n", "900", "--dim", "16", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert {"total_s", "cluster_and_layout_s", "jit_warmup_s", "neighbours_s", "umap_nd_s", "hierarchy_s",
            "layout_wait_s", "peak_rss_mb", "speedup_vs_old"} <= set(r)
    assert r["total_s"] >= r["cluster_and_layout_s"] > 0
    old = r["old_path"]
    assert {"umap_nd_s", "umap_2d_s", "total_s", "nmi"} <= set(old)
    assert r["nmi"] > 0.5 and old["nmi"] > 0.5


def test_engine_warm_up_compiles_the_epoch_kernel(monkeypatch):
    from photoclust_app.engine import ops

    monkeypatch.setattr(R, "_KERNEL", None)
    ops.warm()
    assert R._KERNEL is not None and R._KERNEL.signatures  # compiled (or loaded from the disk cache)

"""`photoclust bench cluster`: speed, peak memory and quality of the clustering stage.

Runs the public entry point (cluster_vectors with its map) on synthetic clustered embeddings
and times each stage from its progress reports, beside the old path (two UMAP fits, two kNN
graphs) in the same run; then what a granularity change costs on the
tree that run built (issue 9's targets at 100k: a level change <= 0.2 s, exactly N <= 10 s):
the bare cut, the cut with its quality figures (what the plan computes), the slider's stops,
exactly N at twice the automatic count, and the per-cluster cohesion the list shows. JIT compilation is paid once up front
(``jit_warmup_s``) so the stage timings are those of a warmed-up app. Peak memory is sampled
from the process RSS in a thread every 20 ms: tracemalloc and ru_maxrss deltas miss
numba/C allocations or report a peak reached before the benchmark started.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time

import numpy as np

from photoclust_app.core.progress import ProgressFn, no_progress

log = logging.getLogger(__name__)


def synthetic_embeddings(n: int, dim: int, seed: int = 0, n_blobs: int = 50,
                         noise_share: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors from ~50 anisotropic gaussian blobs of log-normal sizes, grouped into
    10 families of related blobs (like dog breeds vs cars), plus uniform noise on the sphere.

    Returns (vectors float32 (n, dim), truth int64 (n,) with -1 for the noise points).
    """
    rng = np.random.default_rng(seed)
    n_noise = int(round(n * noise_share))
    weights = rng.lognormal(0.0, 0.8, n_blobs)
    sizes = rng.multinomial(n - n_noise, weights / weights.sum())
    families = _unit(rng.normal(size=(10, dim)))
    shared = _unit(rng.normal(size=dim))  # real embeddings share a common direction
    X = np.empty((n, dim), dtype=np.float32)
    truth = np.full(n, -1, dtype=np.int64)
    start = 0
    for b, size in enumerate(sizes):
        centre = _unit(1.2 * shared + families[b % 10] + 0.8 * _unit(rng.normal(size=dim)))
        rank = 8
        axes = rng.normal(size=(rank, dim)) / np.sqrt(dim)
        scales = rng.uniform(0.1, 0.45, rank)
        pts = centre + (rng.normal(size=(size, rank)) * scales) @ axes
        pts += rng.normal(scale=0.25 / np.sqrt(dim), size=(size, dim))
        X[start:start + size] = pts
        truth[start:start + size] = b
        start += size
    X[start:] = rng.normal(size=(n - start, dim))
    order = rng.permutation(n)
    return _unit(X[order]).astype(np.float32), truth[order]


def bench_cluster(n: int = 20000, dim: int = 512, seed: int = 0, old: bool = True,
                  progress: ProgressFn | None = None) -> dict:
    """Time the clustering with its map (one shared neighbour graph, reduce.py) on n synthetic
    embeddings, stage by stage, then level changes; with OLD also the previous path in the
    same run (UMAP 10-d, the tree, a second UMAP 2-D, each building its own kNN graph)."""
    from photoclust_app.core.clustering.cluster import cluster_vectors
    from photoclust_app.core.clustering.numba_cache import warm_up

    progress = progress or no_progress
    progress(0, 4, "generate")
    X, truth = synthetic_embeddings(n, dim, seed)
    progress(1, 4, "generate")
    jit_s = warm_up()
    marks: dict[str, float] = {}

    def mark(done: int, total: int, stage: str) -> None:
        now = time.perf_counter()
        marks.setdefault(f"{stage}:start", now)
        marks[f"{stage}:end"] = now
        progress(2, 4, stage)

    with RssSampler() as rss:
        t0 = time.perf_counter()
        result = cluster_vectors(X, seed=seed, layout=True, progress=mark)
        t1 = time.perf_counter()
    progress(3, 4, "old path")

    def span(stage: str) -> float | None:
        return round(marks[f"{stage}:end"] - marks[f"{stage}:start"], 2) if f"{stage}:start" in marks else None

    out = {
        "n": n, "dim": dim, "seed": seed,
        "jit_warmup_s": round(jit_s, 2),
        "neighbours_s": span("neighbours"),
        "umap_nd_s": span("reduce"),
        "hierarchy_s": span("cluster"),
        "hierarchy_parts_s": result.params.get("tree_seconds"),
        "layout_wait_s": span("layout"),
        "n_epochs": result.params.get("n_epochs"),
        "cluster_and_layout_s": round(t1 - t0, 2),
        "total_s": round(t1 - t0 + jit_s, 2),
        "rss_before_mb": rss.before_mb, "peak_rss_mb": rss.peak_mb,
        "peak_rss_source": rss.source,
        "n_clusters": result.metrics["n_clusters"], "true_clusters": int(truth.max()) + 1,
        "noise_fraction": round(result.metrics["noise_fraction"], 4),
        "true_noise_fraction": round(float((truth < 0).mean()), 4),
        "min_cluster_size": result.params["min_cluster_size"],
    }
    if result.tree is not None:
        out.update(granularity_timings(result.tree, result.reduced, X))
    out.update(_scores(truth, result.labels))
    if old:
        out["old_path"] = old_path(X, truth, seed)
        out["speedup_vs_old"] = round(out["old_path"]["total_s"] / max(out["cluster_and_layout_s"], 1e-9), 2)
    progress(4, 4, "done")
    log.info("bench_cluster %s", out)
    return out


def old_path(X: np.ndarray, truth: np.ndarray, seed: int) -> dict:
    """The path before issue 13, for comparison in the same run: umap.UMAP 10-d (its own kNN
    graph, 200 epochs above 10k photos), the same tree, then a second umap.UMAP 2-D fit."""
    import warnings

    from photoclust_app.core.clustering import hierarchy
    from photoclust_app.core.clustering.numba_cache import import_umap

    umap = import_umap()
    with RssSampler() as rss, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        r10 = umap.UMAP(n_components=10, n_neighbors=15, min_dist=0.0, metric="cosine", random_state=seed,
                        n_jobs=1, low_memory=True)
        Z = np.ascontiguousarray(r10.fit_transform(X), dtype=np.float32)
        t1 = time.perf_counter()
        knn = getattr(r10, "_knn_indices", None)
        tree = hierarchy.build(Z, X, None if knn is None else np.asarray(knn, np.int64), min_size=hierarchy.MIN_SIZE)
        labels = hierarchy.cut(tree, tree.default)
        t2 = time.perf_counter()
        umap.UMAP(n_components=2, n_neighbors=15, min_dist=0.1, metric="cosine", random_state=seed, n_jobs=1,
                  low_memory=True).fit_transform(X)
        t3 = time.perf_counter()
    return {"umap_nd_s": round(t1 - t0, 2), "hierarchy_s": round(t2 - t1, 2), "umap_2d_s": round(t3 - t2, 2),
            "total_s": round(t3 - t0, 2), "peak_rss_mb": rss.peak_mb,
            "n_clusters": int(labels.max()) + 1, **_scores(truth, labels)}


def _scores(truth: np.ndarray, labels: np.ndarray) -> dict:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {"nmi": round(float(normalized_mutual_info_score(truth, labels)), 4),
            "ari": round(float(adjusted_rand_score(truth, labels)), 4)}


def granularity_timings(tree, Z: np.ndarray, X: np.ndarray) -> dict:
    """Milliseconds for what the slider and "exactly N" do on a built tree."""
    from photoclust_app.core.clustering import hierarchy
    from photoclust_app.core.clustering.cluster import cut_result
    from photoclust_app.core.clustering.cohesion import cohesion

    def ms(fn) -> tuple[float, object]:
        t = time.perf_counter()
        value = fn()
        return (time.perf_counter() - t) * 1000, value

    stops_ms, stops = ms(lambda: hierarchy.stops(tree))
    picks = [stops[i][1] for i in np.linspace(0, len(stops) - 1, min(21, len(stops))).round().astype(int)]
    cuts = [ms(lambda lv=lv: hierarchy.cut(tree, lv))[0] for lv in picks]
    with_metrics = [ms(lambda lv=lv: cut_result(tree, Z, level=lv))[0] for lv in picks[::4]]
    auto = hierarchy.levels(tree)[tree.default][1]
    n_exact = min(2 * auto, stops[-1][0])
    exact_ms, exact = ms(lambda: cut_result(tree, Z, groups=n_exact))
    cohesion_ms, _ = ms(lambda: cohesion(X, exact.labels))
    return {"levels": len(tree.order) + 1, "stops": len(stops), "auto_clusters": auto,
            "level_change_cut_ms_median": round(float(np.median(cuts)), 2),
            "level_change_cut_ms_max": round(float(np.max(cuts)), 2),
            "level_change_with_metrics_ms_max": round(float(np.max(with_metrics)), 1),
            "stops_ms": round(stops_ms, 2), "exactly_n": n_exact, "exactly_n_ms": round(exact_ms, 1),
            "cohesion_ms": round(cohesion_ms, 1)}


class RssSampler:
    """Peak resident set size of this process while the block runs (MB)."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.before_mb = self.peak_mb = 0.0
        self.source = "proc" if os.path.exists("/proc/self/statm") else "psutil"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "RssSampler":
        self.before_mb = self.peak_mb = self._rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = round(max(self.peak_mb, self._rss_mb()), 1)
        self.before_mb = round(self.before_mb, 1)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mb = max(self.peak_mb, self._rss_mb())

    def _rss_mb(self) -> float:
        if self.source == "proc":
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        try:
            import psutil

            return psutil.Process().memory_info().rss / 2**20
        except ImportError:  # last resort: lifetime peak, may predate the block
            import resource  # POSIX only

            self.source = "ru_maxrss"
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


if __name__ == "__main__":  # python -m photoclust_app.core.bench.cluster_bench [n] [dim]
    import json

    logging.basicConfig(level=logging.INFO)
    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(bench_cluster(*args), indent=1))

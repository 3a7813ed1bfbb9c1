"""One neighbour graph, two embeddings: the 10-d space clustering runs in, and the 2-D map.

Why. Clustering reduced the photos with UMAP 10-d and the map fitted a second UMAP 2-D on the
same vectors, so the 15-NN graph of the 512-d vectors was built twice, its spectral init was
solved twice, and the two SGD runs, each held to one thread by the seed, ran one after the
other (100k photos: ~200 s). Here umap's own fit builds the graph once (exact neighbours below
4,096 photos, NN-descent above, as umap does), the spectral init is solved once and the map
starts from its first two coordinates (spectral embeddings are nested: the 2-D one is the
first two eigenvectors of the 10-d one), and the two SGD runs go side by side in two threads.
Each runs umap's own epoch kernel compiled with ``nogil``, single-threaded and seeded, so both
cores work and the result stays deterministic. The 10-d result is bit-identical to
``umap.UMAP(...).fit_transform`` with the same settings (a test checks); the epoch loop is
ours, so it reports progress per epoch and stops between epochs when cancelled.

The epoch kernel is umap's ``_optimize_layout_euclidean_single_epoch`` (a private function:
the umap-learn <0.6 bound in pyproject.toml and the bit-identity test guard it).
"""
from __future__ import annotations

import logging
import threading
import types
import warnings
from dataclasses import dataclass, field

import numpy as np

from photoclust_app.core.clustering.numba_cache import import_umap
from photoclust_app.core.errors import Cancelled
from photoclust_app.core.progress import CancelFn, ProgressFn, check_cancel, no_progress

log = logging.getLogger(__name__)

N_NEIGHBORS = 15
MAP_MIN_DIST = 0.1  # the map: dots of one cluster must not collapse onto one pixel
LARGE = 10_000  # above this many photos: LARGE_EPOCHS, and the faster spectral solve (see epochs_for)
LARGE_EPOCHS = 100
SPECTRAL_NCV = 64

_KERNEL = None
_CLASS = None
_KERNEL_LOCK = threading.Lock()


def epochs_for(n: int) -> int | None:
    """SGD epochs for N photos: umap's own default up to LARGE photos (None: 500), LARGE_EPOCHS
    above (umap: 200). Each epoch samples every edge in proportion to its weight, so a photo's
    updates per epoch do not shrink as the library grows. Forcing 100 epochs on the shared
    sets (lite, seeds 0-2) moved NMI by +0.002 (flowers12), -0.008 (clothing10), -0.005 /
    +0.005 (the mixfl / mix composites) against 500; 60 epochs lost up to 0.019."""
    return None if n <= LARGE else LARGE_EPOCHS


@dataclass
class Reduction:
    Z: np.ndarray                    # (n, n_components) float32
    knn: np.ndarray | None           # (n, k) umap's own neighbour lists (None when it computed all distances)
    info: dict = field(default_factory=dict)
    _map: "_MapRun | None" = None

    def layout(self, progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> np.ndarray | None:
        """The 2-D map of the same graph (waits for its thread), or None when none was asked."""
        return None if self._map is None else self._map.result(progress, cancel)

    def stop(self) -> None:
        """End the map's run (an error or cancel after the reduction): no thread outlives it."""
        if self._map is not None:
            self._map.stop()


def reduce(X: np.ndarray, *, seed: int = 42, n_components: int = 10, min_dist: float = 0.0,
           with_map: bool = False, n_epochs: int | None = None, progress: ProgressFn | None = None,
           cancel: CancelFn | None = None) -> Reduction:
    """UMAP (cosine) of X into N_COMPONENTS dims; with WITH_MAP also the 2-D map from the same
    graph and init, computed in a second thread (``Reduction.layout()``). Shrinks the
    neighbour count and dims for tiny inputs as umap needs (n_neighbors < n, n_components + 1 < n)."""
    progress = progress or no_progress
    n = len(X)
    nn = max(2, min(N_NEIGHBORS, n - 1))
    nc = max(1, min(n_components, n - 2))
    epochs = n_epochs if n_epochs is not None else epochs_for(n)
    reducer = _umap_class()(n_components=nc, n_neighbors=nn, min_dist=min_dist, metric="cosine",
                               random_state=int(seed), n_jobs=1, low_memory=True, verbose=False, n_epochs=epochs)
    reducer._photoclust = {"seed": int(seed), "with_map": with_map, "progress": progress, "cancel": cancel,
                           "jobs": _cores()}
    progress(0, 1, "neighbours")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")
        warnings.filterwarnings("ignore", message=".*[Gg]raph is not fully connected.*")
        warnings.filterwarnings("ignore", category=UserWarning, module="umap")
        try:
            Z = reducer.fit_transform(X)
        except BaseException:
            run = getattr(reducer, "_map_run", None)
            if run is not None:
                run.stop()
            raise
    Z = np.ascontiguousarray(Z, dtype=np.float32)
    if not np.isfinite(Z).all():  # never seen, but HDBSCAN would crash on it
        raise ValueError("UMAP produced non-finite coordinates")
    knn = getattr(reducer, "_knn_indices", None)
    knn = None if knn is None or len(knn) != n else np.asarray(knn, dtype=np.int64)
    info = {"reducer": "umap", "n_components": nc, "n_neighbors": nn, "min_dist": min_dist, "metric": "cosine",
            "n_epochs": reducer._photoclust.get("epochs"), "shared_graph_map": bool(with_map)}
    return Reduction(Z, knn, info, getattr(reducer, "_map_run", None))


def _umap_class():
    """The UMAP subclass, built on first use (importing umap costs seconds)."""
    global _CLASS
    if _CLASS is None:
        _CLASS = _make_class()
    return _CLASS


def _make_class():
    umap = import_umap()
    from umap.umap_ import INT32_MAX, INT32_MIN, find_ab_params, make_epochs_per_sample, noisy_scale_coords
    from umap.spectral import spectral_layout

    class SharedGraphUMAP(umap.UMAP):
        """umap.UMAP whose embedding step (``_fit_embed_data``, umap's documented override
        point) runs simplicial_set_embedding's own steps for the Euclidean, non-densMAP case
        with our epoch loop, and starts the map's run on the same graph."""

        def _validate_parameters(self):
            """umap holds a seeded fit to one thread; its NN-descent and graph steps give the
            same result on every core (pynndescent draws per-tree seeds up front; at 100k the
            graphs were identical), so those run on all cores. Our SGD stays single-threaded."""
            super()._validate_parameters()
            self.n_jobs = max(1, int(self._photoclust.get("jobs", 1)))

        def _fit_embed_data(self, X, n_epochs, init, random_state, **kwargs):
            opts = self._photoclust
            progress, cancel = opts["progress"], opts["cancel"]
            progress(1, 1, "neighbours")
            check_cancel(cancel)
            graph = self.graph_.tocoo()
            graph.sum_duplicates()
            default = 500 if graph.shape[0] <= 10000 else 200
            epochs = int(n_epochs) if n_epochs is not None else default
            opts["epochs"] = epochs
            graph.data[graph.data < (graph.data.max() / float(epochs if epochs > 10 else default))] = 0.0
            graph.eliminate_zeros()
            progress(0, epochs, "reduce")
            start = None
            if graph.shape[0] > LARGE:
                start = fast_spectral(graph, self.n_components)
            if start is None:
                start = spectral_layout(X, graph, self.n_components, random_state,
                                        metric=self._input_distance_func, metric_kwds=self._metric_kwds)
            check_cancel(cancel)
            head = graph.row
            tail = graph.col
            eps = make_epochs_per_sample(graph.data, epochs)
            emb = noisy_scale_coords(start, random_state, max_coord=10, noise=0.0001)
            rng = random_state.randint(INT32_MIN, INT32_MAX, 3).astype(np.int64)
            if opts["with_map"]:
                # the map's own seeded stream: its start and negative samples never depend on the 10-d run
                rs = np.random.RandomState(opts["seed"])
                start2 = np.ascontiguousarray(start[:, :2] if start.shape[1] >= 2 else np.c_[start, start])
                emb2 = noisy_scale_coords(start2, rs, max_coord=10, noise=0.0001)
                a2, b2 = find_ab_params(self.spread, MAP_MIN_DIST)
                self._map_run = _MapRun(_unit_box(emb2), head, tail, eps, float(a2), float(b2),
                                        rs.randint(INT32_MIN, INT32_MAX, 3).astype(np.int64), epochs,
                                        float(self._initial_alpha), float(self.repulsion_strength),
                                        float(self.negative_sample_rate))
            out = sgd(_unit_box(emb), head, tail, eps, float(self._a), float(self._b), rng, epochs,
                      initial_alpha=float(self._initial_alpha), gamma=float(self.repulsion_strength),
                      negative_sample_rate=float(self.negative_sample_rate),
                      progress=lambda d, t: progress(d, t, "reduce"), cancel=cancel)
            return out, {}

    return SharedGraphUMAP


def fast_spectral(graph, dim: int) -> np.ndarray | None:
    """umap's spectral init (the DIM smallest non-trivial eigenvectors of the normalised graph
    Laplacian I - D^-1/2 A D^-1/2), solved as the largest of D^-1/2 A D^-1/2: ARPACK reaches
    the top of a spectrum in far fewer iterations than its bottom ("SM"), and the eigenvectors
    are the same (at 100k photos the subspaces agreed to cosine 1.0000; 23 s against 48 s on a
    busy machine). SPECTRAL_NCV Lanczos vectors, not umap's sqrt(n) = 316: 2.7 s against 5.5 s
    quiet at 100k, subspace cosine 0.99995. None (use umap's) when the graph falls apart in pieces, which umap lays
    out piece by piece, or when the solver fails."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components
    from scipy.sparse.linalg import eigsh

    n = graph.shape[0]
    if connected_components(graph, directed=False)[0] > 1:
        return None
    deg = np.asarray(graph.sum(axis=0)).ravel()
    if (deg <= 0).any():
        return None
    inv = sp.diags(1.0 / np.sqrt(deg))
    N = inv @ graph @ inv
    try:
        vals, vecs = eigsh(N, dim + 1, which="LA", tol=1e-4, v0=np.ones(n),
                           ncv=min(n - 1, max(2 * dim + 1, SPECTRAL_NCV)), maxiter=n * 5)
    except Exception:  # ArpackNoConvergence or worse: umap's own path handles it
        log.debug("fast spectral init failed; using umap's", exc_info=True)
        return None
    order = np.argsort(vals)[::-1][1:dim + 1]
    return np.ascontiguousarray(vecs[:, order])


def _cores() -> int:
    from photoclust_app.core.embed.device import cpu_count

    return cpu_count()


def _unit_box(emb: np.ndarray) -> np.ndarray:
    """simplicial_set_embedding's last step before SGD: every axis scaled to [0, 10]."""
    lo, hi = np.min(emb, 0), np.max(emb, 0)
    return (10.0 * (emb - lo) / (hi - lo)).astype(np.float32, order="C")


def kernel():
    """umap's single-epoch SGD kernel, compiled nopython with ``nogil`` (and cached on disk),
    under its own name so its cache entry never mixes with umap's GIL-holding copy."""
    global _KERNEL
    with _KERNEL_LOCK:
        if _KERNEL is None:
            import numba

            import_umap()
            from umap import layouts

            src = layouts._optimize_layout_euclidean_single_epoch
            fn = types.FunctionType(src.__code__, src.__globals__, "photoclust_sgd_epoch", src.__defaults__,
                                    src.__closure__)
            fn.__qualname__ = "photoclust_sgd_epoch"
            _KERNEL = numba.njit(fn, fastmath=True, parallel=False, nogil=True, cache=True)
        return _KERNEL


def sgd(emb: np.ndarray, head, tail, eps, a: float, b: float, rng_state: np.ndarray, n_epochs: int, *,
        initial_alpha: float = 1.0, gamma: float = 1.0, negative_sample_rate: float = 5.0,
        progress=None, cancel: CancelFn | None = None, stop: threading.Event | None = None) -> np.ndarray:
    """optimize_layout_euclidean (move_other, no densMAP) with the same arithmetic, epoch by
    epoch: EMB is optimised in place and returned. PROGRESS(done, total) after each epoch;
    CANCEL or STOP end it between epochs (Cancelled)."""
    epoch = kernel()
    dim = emb.shape[1]
    n_vertices = emb.shape[0]
    eps_neg = eps / negative_sample_rate
    next_neg = eps_neg.copy()
    next_s = eps.copy()
    rng_per_sample = (np.full((n_vertices, len(rng_state)), rng_state, dtype=np.int64)
                      + emb[:, 0].astype(np.float64).view(np.int64).reshape(-1, 1))
    none = np.zeros(1, dtype=np.float32)
    alpha = initial_alpha
    step = max(1, n_epochs // 100)
    for n in range(n_epochs):
        if stop is not None and stop.is_set():
            raise Cancelled("Cancelled; the work done so far is kept.")
        epoch(emb, emb, head, tail, n_vertices, eps, a, b, rng_per_sample, gamma, dim, True, alpha, eps_neg,
              next_neg, next_s, n, False, none, none, 0.0, 0.0, 0.0, 0.0, none, none, 0.0)
        alpha = initial_alpha * (1.0 - (float(n) / float(n_epochs)))
        if progress is not None and ((n + 1) % step == 0 or n + 1 == n_epochs):
            progress(n + 1, n_epochs)
        check_cancel(cancel)
    return emb


class _MapRun:
    """The 2-D map's SGD in a thread of its own, started as soon as the graph exists."""

    def __init__(self, emb, head, tail, eps, a, b, rng_state, epochs, alpha, gamma, negative_sample_rate):
        self.done_epochs = 0
        self.epochs = epochs
        self._stop = threading.Event()
        self._xy: np.ndarray | None = None
        self._error: BaseException | None = None

        def tick(done: int, total: int) -> None:
            self.done_epochs = done

        def run() -> None:
            try:
                self._xy = sgd(emb, head, tail, eps, a, b, rng_state, epochs, initial_alpha=alpha, gamma=gamma,
                               negative_sample_rate=negative_sample_rate, progress=tick, stop=self._stop)
            except BaseException as exc:  # handed to whoever waits for the map
                self._error = exc

        self._thread = threading.Thread(target=run, name="photoclust-map-sgd", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def result(self, progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> np.ndarray:
        progress = progress or no_progress
        while self._thread.is_alive():
            self._thread.join(0.2)
            progress(self.done_epochs, self.epochs, "layout")
            try:
                check_cancel(cancel)
            except Cancelled:
                self.stop()
                raise
        progress(self.epochs, self.epochs, "layout")
        if self._error is not None:
            raise self._error
        xy = self._xy
        if xy is None or not np.isfinite(xy).all():  # pragma: no cover - defensive
            raise ValueError("the map's layout produced non-finite coordinates")
        return xy

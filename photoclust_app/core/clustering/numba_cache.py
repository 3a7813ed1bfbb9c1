"""Make umap's numba JIT a one-time cost: a writable cache dir, and caching switched on.

Measured here (umap-learn 0.5.12, pynndescent 0.7.0, numba 0.68): pynndescent compiles with
``cache=True`` but umap's own kernels (layout optimiser, smooth_knn_dist, membership
strengths...) do not, so every new process paid ~12 s of JIT on its first fit even with
NUMBA_CACHE_DIR set. ``import_umap()`` points NUMBA_CACHE_DIR at the user cache dir and
calls numba's ``Dispatcher.enable_caching()`` on every not-yet-cached kernel in umap and
pynndescent: a second process's first 300-point fit then takes 0.8 s instead of 12-16 s.
Left: from 4096 points on, pynndescent's ``nn_descent`` takes the distance function as an
argument and numba cannot load that from the cache, so a big first fit still pays ~14 s.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

ENV = "NUMBA_CACHE_DIR"


def default_numba_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("photoclust")) / "numba"


def ensure_numba_cache_dir() -> Path | None:
    """Set NUMBA_CACHE_DIR (unless the user already did) and return the dir in use.

    Returns None when no writable dir could be had; numba then falls back to its own
    default and JIT still works, only slower on each new process.
    """
    current = os.environ.get(ENV)
    if current:
        return Path(current)
    path = default_numba_cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        log.warning("numba JIT cache disabled: %s is not writable (%s)", path, exc)
        return None
    os.environ[ENV] = str(path)
    if "numba" in sys.modules:  # numba read its config already: make it re-read the env
        try:
            from numba.core import config

            config.reload_config()
        except Exception:  # pragma: no cover - only a speed-up, never fatal
            log.debug("could not reload numba config", exc_info=True)
    log.debug("numba JIT cache at %s", path)
    return path


def import_umap():
    """Import umap with the JIT cache dir set and caching enabled on its kernels."""
    ensure_numba_cache_dir()
    import umap

    if not getattr(import_umap, "_done", False):
        import_umap._done = True  # type: ignore[attr-defined]
        n = enable_caching(("umap", "pynndescent"))
        log.debug("numba caching enabled on %d umap/pynndescent kernels", n)
    return umap


def enable_caching(packages: tuple[str, ...]) -> int:
    """Switch on on-disk caching for the numba kernels of these packages that lack it."""
    try:
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # pragma: no cover - numba internals moved
        return 0
    count = 0
    for name, module in list(sys.modules.items()):
        if module is None or not (name in packages or name.startswith(tuple(p + "." for p in packages))):
            continue
        for obj in list(vars(module).values()):
            if isinstance(obj, Dispatcher) and isinstance(getattr(obj, "_cache", None), NullCache):
                try:
                    obj.enable_caching()
                    count += 1
                except Exception:  # no usable cache locator: keep compiling in memory
                    log.debug("cannot cache %r", obj, exc_info=True)
    return count


def warm_up() -> float:
    """Compile (or load from the cache) the kernels a fit needs, on tiny data; returns seconds.

    Meant for a background thread at start-up, so the user's first clustering does not pay
    the JIT. Covers both UMAP paths: exact neighbours (< 4096 points) and NN-descent.
    """
    import time
    import warnings

    import numpy as np

    t0 = time.perf_counter()
    import_umap()
    from photoclust_app.core.clustering.reduce import reduce

    rng = np.random.default_rng(0)
    small = rng.normal(size=(64, 16)).astype(np.float32)
    big = rng.normal(size=(4200, 4)).astype(np.float32)  # >= 4096 rows: the NN-descent path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for X in (small, big):  # the path every clustering and map takes (reduce.py)
            reduce(X, seed=0, with_map=True, n_epochs=2).layout()
    return time.perf_counter() - t0

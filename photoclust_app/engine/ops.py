"""What the engine process does on request: index, cluster, split, each through the
Qt-free pipeline. A handler takes (progress, cancel, *args) and returns a picklable result."""
from __future__ import annotations

# Imports stay inside the handlers: the window imports this module for GRACE, and must not
# load numpy-heavy clustering code on its start-up path.

# How long a cancelled index may take to stop at its next batch boundary before it is killed.
INDEX_CANCEL_GRACE_S = 1.0


def warm() -> None:
    """At engine start, in a background thread: load (or, once per install, compile) the
    clustering's numba kernels and the placement's imports, so the first clustering and the
    first placement after an index do not pay them (~15 s and ~1 s on 2 cores). Never fatal."""
    import logging

    try:
        from photoclust_app.core import pipeline
        from photoclust_app.core.clustering.numba_cache import warm_up

        pipeline.warm_placement()
        logging.getLogger(__name__).debug("engine warm-up: %.1f s", warm_up())
    except Exception:  # only a speed-up
        logging.getLogger(__name__).debug("engine warm-up failed", exc_info=True)


def index(progress, cancel, folder: str, model: str, device: str, options: dict, live: bool = False):
    """Index on behalf of the window, which holds the library's writer lock (delegate). LIVE:
    the photos of each committed batch go back as "live" partials (ingest/live_batches.py),
    the last of them just before the result."""
    from photoclust_app.core.ingest.index import index_folder
    from photoclust_app.core.store.library import Library
    from photoclust_app.engine.engine import send_partial

    with Library.open(folder, delegate=True) as lib:
        batches = None
        if live:
            from photoclust_app.core.ingest.live_batches import LiveBatches

            batches = LiveBatches(lib, lambda batch: send_partial("live", batch))
        try:
            return index_folder(folder, model=model, device=device, progress=progress, cancel=cancel, library=lib,
                                on_commit=batches.committed if batches else None, **options)
        finally:
            if batches is not None:
                batches.flush()


def refine(progress, cancel, folder: str, device: str, options: dict):
    """Full decodes for the photos a first pass embedded from their previews (ingest/refine.py),
    with the library's own model."""
    from photoclust_app.core.ingest.refine import refine_previews
    from photoclust_app.core.store.library import Library

    with Library.open(folder, delegate=True) as lib:
        return refine_previews(lib, device=device, progress=progress, cancel=cancel,
                               **{k: v for k, v in options.items() if k in ("batch_size", "workers")})


def cluster(progress, cancel, folder: str, device: str, **kw):
    """A clustering plan (applied by the window, undoably); KW is pipeline.compute's (groups,
    level, min_cluster_size, reuse)."""
    from photoclust_app.core import pipeline
    from photoclust_app.core.store.library import Library

    with Library.open(folder, readonly=True) as lib:
        return pipeline.compute(lib, device=device, progress=progress, cancel=cancel, **kw)


def split(progress, cancel, folder: str, device: str, cluster_id: int):
    from photoclust_app.core import pipeline
    from photoclust_app.core.store.library import Library

    with Library.open(folder, readonly=True) as lib:
        return pipeline.split(lib, cluster_id, device=device, progress=progress, cancel=cancel)


def split_by_example(progress, cancel, folder: str, device: str, cluster_id: int, sides: list[list[int]]):
    """A split of one cluster by the photos the user picked for each side, named (the window's
    Split by Example applies it)."""
    from photoclust_app.core import pipeline
    from photoclust_app.core.store.library import Library

    with Library.open(folder, readonly=True) as lib:
        return pipeline.split_by_example(lib, cluster_id, sides, device=device)


def place(progress, cancel, folder: str):
    """Where new photos go in the clusters as they are (applied by the window, undoably)."""
    from photoclust_app.core import pipeline
    from photoclust_app.core.store.library import Library

    with Library.open(folder, readonly=True) as lib:
        return pipeline.compute_placement(lib)


HANDLERS = {"index": index, "refine": refine, "cluster": cluster, "split": split, "place": place, "split_by_example": split_by_example}
# Ops that check cancel between batches get a grace period; the others are killed at once.
GRACE = {"index": INDEX_CANCEL_GRACE_S, "refine": INDEX_CANCEL_GRACE_S}

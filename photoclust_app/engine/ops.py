"""What the engine process does on request: index, cluster, split, each through the
Qt-free pipeline. A handler takes (progress, cancel, *args) and returns a picklable result."""
from __future__ import annotations

# Imports stay inside the handlers: the window imports this module for GRACE, and must not
# load numpy-heavy clustering code on its start-up path.

# How long a cancelled index may take to stop at its next batch boundary before it is killed.
INDEX_CANCEL_GRACE_S = 1.0


def index(progress, cancel, folder: str, model: str, device: str, options: dict):
    """Index on behalf of the window, which holds the library's writer lock (delegate)."""
    from photoclust_app.core.ingest.index import index_folder
    from photoclust_app.core.store.library import Library

    with Library.open(folder, delegate=True) as lib:
        return index_folder(folder, model=model, device=device, progress=progress, cancel=cancel, library=lib,
                            **options)


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

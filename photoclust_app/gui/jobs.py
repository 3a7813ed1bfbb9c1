"""The work the window hands to its worker thread, as plain ``job(ctx)`` functions.

The worker thread mostly waits: indexing and clustering run in the engine process (see
engine.py for why), and the thread relays their progress and reads the library state for
the views. Nothing here imports torch, umap or hdbscan into the GUI process.
"""
from __future__ import annotations

import logging
from typing import Callable

from photoclust_app.core.errors import Cancelled, PhotoclustError
from photoclust_app.core.store.library import Library
from photoclust_app.core import pipeline
from photoclust_app.core.editing.state import read_state
from photoclust_app.engine.engine import Engine

log = logging.getLogger(__name__)


def _send_state(ctx, lib: Library, generation: Callable[[], int]) -> None:
    """Read the library on this worker thread's own connection, in one snapshot."""
    g = generation()
    with lib.reader() as reader:
        ctx.partial("state", (g, read_state(reader)))
        ctx.partial("skipped", reader.skipped())


def _warm_map_imports() -> None:
    """The map builds a KD-tree (scipy) on the GUI thread, and the granularity control reads
    the stored tree's stops (clustering.hierarchy, scikit-learn): import them here, off it."""
    try:
        import scipy.spatial  # noqa: F401

        import photoclust_app.core.clustering.hierarchy  # noqa: F401
    except ImportError:
        pass


def open_folder_job(lib: Library, generation: Callable[[], int], engine: Engine, *, model: str, device: str,
                    index: bool = True, cluster: bool = True, index_options: dict | None = None):
    """Saved state first (shown at once), then index what changed, then cluster if needed, then
    (after a first pass from embedded previews) refine the vectors by full decodes, which
    changes nothing on screen. Partial results: "state" (generation, SessionState), "live"
    (LiveBatch: photos committed by the index so far, with provisional map positions),
    "skipped" [Skip], "index_report", "plan" (ClusteringPlan, undoable), "placement"
    (PlacementPlan: a few new photos join the clusters as they are), "cluster_error" sentence."""

    def job(ctx):
        report = first_pass(ctx)
        if report is not None and not ctx.cancelled():  # this run's previews, or an interrupted run's
            try:
                engine.call("refine", str(lib.folder), device, dict(index_options or {}), progress=ctx.progress,
                            cancel=ctx.cancelled)
            except PhotoclustError as err:  # Cancelled included: the rest is refined next time
                log.info("Refining preview vectors stopped: %s", err)
        return report

    def first_pass(ctx):
        _warm_map_imports()
        _send_state(ctx, lib, generation)
        if not index:
            return None
        ctx.progress(0, 0, "scan")
        try:
            report = engine.call("index", str(lib.folder), model, device, dict(index_options or {}), live=True,
                                 progress=ctx.progress, cancel=ctx.cancelled, partial=ctx.partial)
        except PhotoclustError:  # Cancelled included: what was indexed before is kept, show it
            _send_state(ctx, lib, generation)
            raise
        ctx.partial("index_report", report)
        _send_state(ctx, lib, generation)
        with lib.reader() as reader:
            due, undoable = pipeline.after_index(reader), reader.last_clustering() is not None
        wanted = due == "cluster"
        if cluster and due == "place" and not ctx.cancelled():  # a few new photos join the clusters as they are
            try:
                ctx.partial("placement", engine.call("place", str(lib.folder), progress=ctx.progress,
                                                     cancel=ctx.cancelled))
            except Cancelled:
                raise
            except PhotoclustError as err:
                ctx.partial("cluster_error", str(err))
            return report
        if cluster and wanted and not ctx.cancelled():
            try:
                plan = engine.call("cluster", str(lib.folder), device, progress=ctx.progress, cancel=ctx.cancelled)
            except Cancelled:
                raise
            except PhotoclustError as err:
                ctx.partial("cluster_error", str(err))
                return report
            except Exception as err:
                log.error("Clustering after indexing failed: %s", err)
                ctx.partial("cluster_error", f"Clustering failed ({type(err).__name__}: {err}).")
                return report
            ctx.check_cancel()
            ctx.partial("plan", (plan, undoable))
        return report

    return job


def recluster_job(lib: Library, engine: Engine, *, device: str, reuse: bool = True, **choice):
    """The whole library at a granularity; returns the plan (applied by the GUI, which stores
    the choice with it, so undo restores both). CHOICE is pipeline.compute's: groups=None
    (automatic) or N (exactly N), level=L; none given: the stored choice. With REUSE a stored
    tree that covers the library is cut (no refit); else, or without one, UMAP and a new tree."""
    kwargs = {k: choice[k] for k in ("groups", "level", "min_cluster_size") if k in choice}

    def job(ctx):
        ctx.progress(0, 0, "cluster")
        plan = engine.call("cluster", str(lib.folder), device, reuse=reuse, **kwargs,
                           progress=ctx.progress, cancel=ctx.cancelled)
        ctx.check_cancel()
        return plan

    return job


def split_job(lib: Library, engine: Engine, cluster_id: int, *, device: str):
    """Re-cluster one cluster on its own; returns the split plan."""

    def job(ctx):
        ctx.progress(0, 0, "split")
        plan = engine.call("split", str(lib.folder), device, cluster_id, progress=ctx.progress,
                           cancel=ctx.cancelled)
        ctx.check_cancel()
        return plan

    return job

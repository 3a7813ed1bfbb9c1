"""Second pass of a two-pass index: full decodes replace the vectors a first pass took from
embedded previews (index_folder(previews=...)), after the library is browsable and clustered.

Nothing is re-clustered here, and clusters, names, hand placements and the stored tree stay as
they are: the user keeps working on what they see, and the refined vectors count from the next
re-cluster (or placement) on. A vector is replaced only while the file is the one its preview
came from; a changed file is the next index's business. A photo whose full decode fails keeps
its preview vector and is tried again next time. Batches commit one by one, so a cancel keeps
what is done.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np

from photoclust_app.core.ingest.decode_pool import DecodeJob, DecodePool
from photoclust_app.core.progress import CancelFn, ProgressFn, check_cancel, no_progress
from photoclust_app.core.records import PhotoRecord
from photoclust_app.core.store.library import Library

log = logging.getLogger(__name__)


@dataclass
class RefineReport:
    pending: int = 0  # preview vectors found
    refined: int = 0  # replaced by full-decode vectors
    failed: int = 0  # full decode failed: the preview vector stays
    seconds: float = 0.0


def refine_previews(lib: Library, *, embedder=None, model: str | None = None, device: str = "auto",
                    batch_size: int = 32, workers: int | None = None, progress: ProgressFn | None = None,
                    cancel: CancelFn | None = None) -> RefineReport:
    """Decode in full every present photo whose vector came from a preview, and store its vector."""
    from photoclust_app.core.embed import create_embedder
    from photoclust_app.core.embed.device import torch_threads
    from photoclust_app.core.ingest.index import THUMB_SIZE, cpu_plan

    t0 = time.perf_counter()
    progress = progress or no_progress
    name = embedder.name if embedder is not None else (model or lib.model)
    pending = lib.preview_embedded(name)
    report = RefineReport(pending=len(pending))
    if not pending:
        return report
    if embedder is None:
        embedder = create_embedder(model or lib.model, device, fallback=False)
    n_workers, threads = cpu_plan(workers, embedder.device)
    by_path = {rel: (pid, PhotoRecord(rel, size, mtime)) for pid, (rel, size, mtime) in pending.items()}
    jobs = (DecodeJob(os.path.join(lib.folder, rel), rel, embedder.input_size, THUMB_SIZE) for rel in by_path)
    batch: list[tuple[int, PhotoRecord, np.ndarray]] = []

    def commit() -> None:
        if batch:
            vectors = embedder.embed(np.stack([px for _, _, px in batch]))
            report.refined += lib.refine_vectors([(pid, rec, v) for (pid, rec, _), v in zip(batch, vectors)],
                                                 embedder.name)
            batch.clear()

    progress(0, len(by_path), "refine")
    with torch_threads(threads), DecodePool(n_workers, max(2 * batch_size, 4 * max(1, n_workers))) as pool:
        for done, res in enumerate(pool.imap(jobs), 1):
            pid, stored = by_path[res.relpath]
            if res.decoded is None:
                report.failed += 1
                log.info("Keeping the preview vector of %s: %s", res.relpath, res.reason)
            elif res.record is not None and (res.record.size, res.record.mtime_ns) == (stored.size, stored.mtime_ns) \
                    and not res.changed_while_reading:
                batch.append((pid, stored, res.decoded.pixels))
            progress(done, len(by_path), "refine")
            if len(batch) >= batch_size:
                commit()
                check_cancel(cancel)
        commit()
    report.seconds = time.perf_counter() - t0
    log.info("Refined %d of %d preview vectors in %.1f s", report.refined, report.pending, report.seconds)
    return report

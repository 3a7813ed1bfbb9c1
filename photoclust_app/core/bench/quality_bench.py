"""`bench quality`: cluster a labelled photo set with default settings and score it.

DATASET has one subfolder per true class. The index goes into a temporary library, so the
dataset folder may be read-only and is never written to.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np


def bench_quality(dataset: str | Path, *, model: str = "clip", device: str = "auto",
                  progress=None, notify=None) -> dict:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from photoclust_app.core.ingest.index import index_folder
    from photoclust_app.core.store.library import Library
    from photoclust_app.core.clustering.plan import compute_clustering

    dataset = Path(dataset)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="photoclust-bench-") as tmp:
        lib = Library.open(dataset, location=Path(tmp) / "library.sqlite")
        try:
            report = index_folder(dataset, model=model, device=device, library=lib, progress=progress)
            t_index = time.perf_counter() - t0
            plan = compute_clustering(lib, layout=False, namer=None, progress=progress)
            relpath = {p.id: p.relpath for p in lib.photos()}
        finally:
            lib.close()
    truth = [relpath[int(pid)].split("/", 1)[0] for pid in plan.photo_ids]
    pred = plan.labels  # -1 (Unsorted) counts as one more cluster
    return {
        "dataset": str(dataset),
        "model": report.model,
        "notice": report.notice,
        "n_photos": int(len(pred)),
        "n_classes": len(set(truth)),
        "n_skipped": len(report.skipped),
        "n_clusters": int(len({int(x) for x in pred if x >= 0})),
        "noise_fraction": float(np.mean(pred < 0)) if len(pred) else 0.0,
        "nmi": float(normalized_mutual_info_score(truth, pred)) if len(pred) else 0.0,
        "ari": float(adjusted_rand_score(truth, pred)) if len(pred) else 0.0,
        "params": plan.params,
        "index_seconds": round(t_index, 2),
        "cluster_seconds": round(plan.seconds, 2),
        "seconds": round(time.perf_counter() - t0, 2),
    }

"""`photoclust bench edits`: how long the session's edits take on a large library.

Builds a library of N photos in a temporary folder (rows only: small vectors, no files),
applies a synthetic clustering of ~N/200 clusters, opens a Session on it and times each
edit as a user makes it, with its undo and redo: a rename, a move of 1 and of 1,000 photos,
a merge, a dissolve, and a whole re-cluster (the apply step: what the window runs after
the engine computed the plan). The figures are median milliseconds over REPEAT runs.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from photoclust_app.core.progress import ProgressFn, no_progress


def _library(folder: Path, n: int, seed: int):
    from photoclust_app.core.clustering.plan import ClusteringPlan, apply_clustering
    from photoclust_app.core.records import PhotoMeta, PhotoRecord
    from photoclust_app.core.store.library import IndexedPhoto, Library

    lib = Library.open(folder)
    lib.set_meta("model", "bench")
    vec = np.ones(4, np.float32)
    for start in range(0, n, 5000):
        lib.add_photos([IndexedPhoto(PhotoRecord(f"{i // 1000:03d}/{i:06d}.jpg", 1, 1), str(i), PhotoMeta(1, 1),
                                     b"", vec) for i in range(start, min(n, start + 5000))], "bench")
    ids = np.array(sorted(p for p in lib.relpaths()), dtype=np.int64)
    rng = np.random.default_rng(seed)
    k = max(2, n // 200)
    labels = rng.integers(0, k, len(ids))
    labels[rng.random(len(ids)) < 0.05] = -1

    def plan(lab):
        reps = {int(c): ids[lab == c][:9].tolist() for c in np.unique(lab[lab >= 0])}
        return ClusteringPlan("bench", ids, lab, np.ones(len(ids), np.float32), reps, {c: f"c{c}" for c in reps},
                              {}, {}, rng.normal(size=(len(ids), 2)).astype(np.float32))

    apply_clustering(lib, plan(labels))
    relabel = labels.copy()  # a re-cluster that moves a tenth of the photos
    moved = rng.random(len(ids)) < 0.1
    relabel[moved] = rng.integers(0, k, int(moved.sum()))
    return lib, plan, relabel


def _ms(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def bench_edits(n: int = 100_000, repeat: int = 3, seed: int = 0, progress: ProgressFn | None = None) -> dict:
    from photoclust_app.core.editing.session import Session

    progress = progress or no_progress
    with tempfile.TemporaryDirectory(prefix="photoclust-bench-edits-") as tmp:
        t0 = time.perf_counter()
        lib, plan, relabel = _library(Path(tmp), n, seed)
        build_s = time.perf_counter() - t0
        try:
            t = time.perf_counter()
            s = Session(lib)
            open_ms = (time.perf_counter() - t) * 1000
            times: dict[str, list[float]] = {}

            def timed(name, fn):
                times.setdefault(name, []).append(_ms(fn))

            for r in range(repeat):
                progress(r, repeat, "edits")
                a, b, c = s.cluster_ids()[:3]
                timed("rename_ms", lambda: s.rename(a, f"Name {r}"))
                timed("move_1_ms", lambda: s.move(s.members(b)[:1], a))
                many = [p for cid in s.cluster_ids()[3:] for p in s.members(cid)][:1000]
                timed("move_1000_ms", lambda: s.move(many, a))
                timed("undo_move_1000_ms", s.undo)
                timed("redo_move_1000_ms", s.redo)
                timed("merge_ms", lambda: s.merge([b], c))
                timed("undo_merge_ms", s.undo)
                timed("dissolve_ms", lambda: s.dissolve(c))
                timed("undo_dissolve_ms", s.undo)
            p = plan(relabel)
            timed("recluster_apply_ms", lambda: s.recluster(p))
            timed("undo_recluster_ms", s.undo)
            progress(repeat, repeat, "edits")
        finally:
            lib.close()
    out = {"n": n, "clusters": len(s.cluster_ids()), "build_s": round(build_s, 2), "open_session_ms": round(open_ms, 1)}
    out.update({k: round(statistics.median(v), 1) for k, v in times.items()})
    return out

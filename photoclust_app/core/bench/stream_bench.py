"""`photoclust bench stream`: new photos join the clusters without reshuffling (issue 10).

A labelled set is indexed once; a fresh library then receives half of it, is clustered, and
takes the other half in STEPS batches, as a folder does that a phone syncs into. After each
batch the new photos are placed the way `photoclust index` places them (pipeline's
placement: a vote of their neighbours, low-confidence ones to review), and the bench
reports, per step: NMI of the placed library against a full re-cluster of the same photos
(computed, not applied), how many were placed or sent to review, what `after_index` would
call for, the placement's time, and how far any existing map point moved (it must be 0).
Photos are added from the vectors the index computed (decode and embed are deterministic),
so the steps time placement, not decoding.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np


def bench_stream(dataset: str | Path, *, model: str = "clip", device: str = "auto", steps: int = 10,
                 composite: str | None = None, composite_seed: int = 0, seed: int = 0, progress=None) -> dict:
    from photoclust_app.core.bench.composites import indexed_library

    t0 = time.perf_counter()
    with indexed_library(dataset, composite=composite, composite_seed=composite_seed, model=model, device=device,
                         prefix="photoclust-stream-", progress=progress) as (lib, report):
        ids, X = lib.embedding_matrix()
        relpath = lib.relpaths()
        paths = [relpath[int(p)] for p in ids.tolist()]
        rows = stream(paths, X, model=lib.model, steps=steps, seed=seed, device=device)
    last = rows[-1] if rows else {}
    return {"dataset": str(dataset), "composite": composite, "model": report.model, "steps": rows,
            "nmi_placement_final": last.get("nmi_placement"), "nmi_full_final": last.get("nmi_full_recluster"),
            "map_max_move": max((r["map_max_move"] for r in rows), default=0.0),
            "seconds": round(time.perf_counter() - t0, 1)}


def stream(paths: list[str], X: np.ndarray, *, model: str, steps: int = 10, seed: int = 0,
           device: str = "auto") -> list[dict]:
    """Half of the photos (PATHS, one class folder each, with vectors X) clustered, then the
    rest added in STEPS batches and placed; one row of figures per batch."""
    from photoclust_app.core import pipeline
    from photoclust_app.core.bench.composites import OUTLIER_CLASS
    from photoclust_app.core.bench.quality_bench import score
    from photoclust_app.core.clustering.place import apply_placement
    from photoclust_app.core.clustering.plan import apply_clustering
    from photoclust_app.core.records import PhotoMeta, PhotoRecord
    from photoclust_app.core.store.library import IndexedPhoto, Library

    truth_of = {p: p.split("/", 1)[0] for p in paths}
    order = np.random.default_rng(seed).permutation(len(paths))
    half = len(paths) // 2
    batches = np.array_split(order[half:], max(1, int(steps)))
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="photoclust-stream-lib-") as tmp:
        lib = Library.open(Path(tmp))
        try:
            lib.set_meta("model", model)

            def add(rows_: np.ndarray) -> None:
                lib.add_photos([IndexedPhoto(PhotoRecord(paths[i], 1, 1.0), f"s{i}", PhotoMeta(1, 1), b"", X[i])
                                for i in rows_.tolist()], model)

            def scored(pids, labels) -> float:
                rel = lib.relpaths()
                truth = np.array([truth_of[rel[int(p)]] for p in pids])
                real = truth != OUTLIER_CLASS
                return round(score(truth[real], np.asarray(labels)[real])["nmi"], 4)

            add(order[:half])
            apply_clustering(lib, pipeline.compute(lib, names=False, device=device))
            for k, batch in enumerate(batches, 1):
                ids0, xy0 = lib.layout()
                add(batch)
                due = pipeline.after_index(lib)
                t = time.perf_counter()
                plan = pipeline.compute_placement(lib)
                apply_placement(lib, plan)
                place_s = time.perf_counter() - t
                ids1, xy1 = lib.layout()
                pos = {int(p): r for r, p in enumerate(ids1.tolist())}
                back = np.array([pos[int(p)] for p in ids0.tolist()], dtype=np.int64)
                moved = float(np.abs(xy1[back] - xy0).max()) if len(back) else 0.0
                table = lib.assignment_table()
                pids = sorted(table)
                placed_nmi = scored(pids, [table[p][0] if table[p][0] is not None else -1 for p in pids])
                full = pipeline.compute(lib, names=False, reuse=False, device=device)
                rows.append({"step": k, "photos": len(pids), "added": len(batch), "due": due,
                             "placed": plan.n_placed, "to_review": len(plan.photo_ids) - plan.n_placed,
                             "place_s": round(place_s, 3), "nmi_placement": placed_nmi,
                             "nmi_full_recluster": scored(full.photo_ids, full.labels), "map_max_move": moved})
        finally:
            lib.close()
    return rows

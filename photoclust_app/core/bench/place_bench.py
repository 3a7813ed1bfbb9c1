"""`photoclust bench place`: new photos and suggestions at library scale (issue 10's targets:
1,000 new photos placed in a 100k library <= 2 s including the first call; suggestions
refreshed <= 0.2 s).

A synthetic library (cluster_bench's clustered embeddings, 512-d, each photo in its true
group, a map of one blob per group) is written through the Library API; then NEW more photos
are added and placed exactly as `photoclust index` places them (pipeline.place_new: the
library's matrix read, the neighbour vote, the write), timed from a cold start of this code
path in this process (placement has no JIT; its imports are warmed in the background at
start, as the index and the window do). Suggestions: a user places 5 photos
by hand into a cluster, then the window's refresh (Session.suggestions) is timed, first call
and repeats.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def bench_place(n: int = 100_000, new: int = 1000, dim: int = 512, seed: int = 0, progress=None) -> dict:
    from photoclust_app.core import pipeline
    from photoclust_app.core.bench.cluster_bench import synthetic_embeddings
    from photoclust_app.core.clustering.plan import ClusteringPlan, apply_clustering
    from photoclust_app.core.editing.session import Session
    from photoclust_app.core.records import PhotoMeta, PhotoRecord
    from photoclust_app.core.store.library import IndexedPhoto, Library

    pipeline.warm_placement()  # as `photoclust index` and the window do when they start
    X, truth = synthetic_embeddings(n + new, dim, seed)
    rng = np.random.default_rng(seed)
    out: dict = {"n": n, "new": new, "dim": dim}
    with tempfile.TemporaryDirectory(prefix="photoclust-place-") as tmp:
        lib = Library.open(Path(tmp))
        try:
            lib.set_meta("model", "m")
            t = time.perf_counter()

            def add(rows):
                for a in range(0, len(rows), 5000):
                    lib.add_photos([IndexedPhoto(PhotoRecord(f"p{i:07d}.jpg", 1, 1.0), f"h{i}", PhotoMeta(1, 1), b"",
                                                 X[i]) for i in rows[a:a + 5000]], "m")

            add(list(range(n)))
            ids, _ = lib.embedding_matrix()
            labels = truth[:n].copy()
            centres = rng.normal(scale=20, size=(int(labels.max()) + 1, 2))
            xy = (centres[np.maximum(labels, 0)] + rng.normal(size=(n, 2))).astype(np.float32)
            k = int(labels.max()) + 1
            plan = ClusteringPlan(model="m", photo_ids=ids, labels=labels, probabilities=(labels >= 0).astype(np.float32),
                                  representatives={c: [] for c in range(k)}, names={c: "" for c in range(k)},
                                  params={"path": "bench"}, metrics={}, xy=xy)
            apply_clustering(lib, plan)
            out["build_s"] = round(time.perf_counter() - t, 1)
            add(list(range(n, n + new)))
            t = time.perf_counter()
            placed = pipeline.place_new(lib, text=None)
            out["place_first_s"] = round(time.perf_counter() - t, 3)
            out["placed"] = int(placed.n_placed) if placed is not None else 0
            out["to_review"] = int(len(placed.photo_ids) - placed.n_placed) if placed is not None else 0
            new_ids = set(ids.tolist())
            all_ids, _ = lib.embedding_matrix()
            added = [int(p) for p in all_ids.tolist() if int(p) not in new_ids]
            truth_of = dict(zip(all_ids.tolist(), truth.tolist()))
            table = lib.assignment_table()
            home = {}  # true group -> the cluster holding most of it
            for pid, (cid, _, _) in table.items():
                if cid is not None and truth_of[pid] >= 0:
                    home.setdefault(truth_of[pid], {}).setdefault(cid, 0)
                    home[truth_of[pid]][cid] += 1
            right = [table[p][0] == max(home[truth_of[p]], key=home[truth_of[p]].get) for p in added
                     if table[p][0] is not None and truth_of[p] >= 0 and truth_of[p] in home]
            out["placed_right"] = round(float(np.mean(right)), 4) if right else None

            s = Session(lib)
            target = max(home[0], key=home[0].get)
            elsewhere = [p for p, (cid, _, _) in table.items() if truth_of[p] == 0 and cid != target][:5]
            if len(elsewhere) < 5:  # everything is home already: place look-alikes from another group
                elsewhere = [p for p, (cid, _, _) in table.items() if cid is not None and cid != target][:5]
            s.move(elsewhere, target)
            times = []
            for _ in range(6):
                t = time.perf_counter()
                got = s.suggestions(target)
                times.append(time.perf_counter() - t)
            out["suggestions_first_ms"] = round(1000 * times[0], 1)
            out["suggestions_ms_median"] = round(1000 * statistics.median(times[1:]), 1)
            out["suggestions_ms_max"] = round(1000 * max(times[1:]), 1)
            out["suggested"] = len(got)
        finally:
            lib.close()
    return out

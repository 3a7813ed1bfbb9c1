"""`photoclust bench learn`: does the clustering learn from a user's corrections?

A simulated user, on a labelled set (one subfolder per class; ``--composite`` as in bench
quality): after the default clustering, for each true class, largest first, picks "its"
cluster (the one holding most of the class among those the class is at least half of and
that no bigger class took; else a new cluster),
places K photos of the class that are elsewhere there by hand, and rejects up to K suggestions of that cluster
that belong to another class. Then the library is re-clustered exactly as the window's
Re-cluster does (the same tree, the constraints honoured). Reports NMI/ARI before and after
(Unsorted counts as one more cluster; the hand-placed photos are scored too) and whether
every hand-placed photo ended where it was placed (it must).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def bench_learn(dataset: str | Path, *, model: str = "clip", device: str = "auto", examples: int = 5,
                composite: str | None = None, composite_seed: int = 0, seed: int = 0, progress=None) -> dict:
    from photoclust_app.core.bench.composites import indexed_library

    t0 = time.perf_counter()
    with indexed_library(dataset, composite=composite, composite_seed=composite_seed, model=model, device=device,
                         prefix="photoclust-learn-", progress=progress) as (lib, report):
        result = simulate_user(lib, examples=examples, seed=seed, device=device)
    return {"dataset": str(dataset), "composite": composite, "model": report.model, **result,
            "seconds": round(time.perf_counter() - t0, 1)}


def simulate_user(lib, *, examples: int = 5, seed: int = 0, device: str = "auto") -> dict:
    """The simulated user on an indexed library whose photos sit in one folder per class."""
    from photoclust_app.core import pipeline
    from photoclust_app.core.bench.composites import OUTLIER_CLASS
    from photoclust_app.core.bench.quality_bench import score
    from photoclust_app.core.editing.session import Session

    rng = np.random.default_rng(seed)
    s = Session(lib)
    s.recluster(pipeline.compute(lib, names=False, device=device), undoable=False)
    relpath = lib.relpaths()
    pids = np.array(sorted(s.photo_ids()), dtype=np.int64)
    truth = np.array([relpath[int(p)].split("/", 1)[0] for p in pids])
    real = truth != OUTLIER_CLASS

    def labels():
        return np.array([s.cluster_of(int(p)) or -1 for p in pids], dtype=np.int64)

    before = score(truth[real], labels()[real])
    placed: dict[int, int] = {}
    rejected = 0
    taken: set[int] = set()
    classes, counts = np.unique(truth[real], return_counts=True)
    for cls in classes[np.argsort(-counts, kind="stable")]:
        rows = np.flatnonzero(truth == cls)
        lab = labels()[rows]
        ks, n = np.unique(lab[lab >= 0], return_counts=True)
        # "its" cluster: one the class is the biggest part of (a user does not file dandelions
        # under a cluster of roses); else the user starts a new cluster for it
        free = [(int(c), int(k)) for k, c in sorted(zip(n, ks), reverse=True)
                if int(c) not in taken and k >= 0.5 * s.cluster(int(c)).size]
        target = free[0][0] if free else None
        # the user places photos that are not in that cluster yet (a drag of one already there is nothing)
        away = rows[labels()[rows] != (target if target is not None else -2)]
        pick = away[rng.choice(len(away), size=min(examples, len(away)), replace=False)] if len(away) else away
        photos = [int(p) for p in pids[pick]]
        if not photos:
            taken.add(target)
            continue
        if target is not None:
            s.move(photos, target)
        else:
            target = s.new_cluster(photos)
        taken.add(target)
        placed.update({p: target for p in photos})
        wrong = [p for p, _ in s.suggestions(target, limit=200)
                 if truth[np.searchsorted(pids, p)] != cls][:examples]
        rejected += s.reject(target, wrong)
    plan = pipeline.compute(lib, names=False, device=device)
    s.recluster(plan)
    after = score(truth[real], labels()[real])
    kept = sum(s.cluster_of(p) == c for p, c in placed.items())
    return {"examples": examples, "n_photos": len(pids), "n_classes": int(len(classes)),
            "nmi_before": round(before["nmi"], 4), "nmi_after": round(after["nmi"], 4),
            "ari_before": round(before["ari"], 4), "ari_after": round(after["ari"], 4),
            "clusters_before": before["n_clusters"], "clusters_after": after["n_clusters"],
            "found_before": before["classes_found"], "found_after": after["classes_found"],
            "placed": len(placed), "placed_kept": int(kept), "rejected": int(rejected)}

"""`bench quality`: cluster a labelled photo set with default settings and score it.

DATASET has one subfolder per true class (``--composite RECIPE``: DATASET is the root that
holds clothing10/ and oxford_flowers12/, and the unbalanced set is built from it; see
composites.py). The index goes into a temporary library, so the dataset folder may be
read-only and is never written to. The photos are embedded once; each seed re-clusters.

Scores per seed: NMI and ARI (Unsorted counts as one more cluster), clusters / true classes,
``classes_found`` (the share of true classes that some cluster finds: it holds at least half
of the class, and the class is at least half of it), the Unsorted share, and how many outlier
images were put into a cluster. Baselines on the same reduced space, same run: HDBSCAN eom
with min size sqrt(n) and with min size 8 (the two flat settings that each win at one scale),
and k-means told the true number of classes (the oracle). The default is the hierarchy of
clustering/hierarchy.py (docs/research/clustering-hierarchy.md has why).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np


def classes_found(truth: np.ndarray, labels: np.ndarray) -> float:
    """Share of true classes c with a cluster k: |c & k| >= |c| / 2 and >= |k| / 2."""
    classes = np.unique(truth)
    if len(classes) == 0:
        return 0.0
    found = 0
    for c in classes:
        in_c = truth == c
        ks, counts = np.unique(labels[in_c & (labels >= 0)], return_counts=True)
        found += any(n >= in_c.sum() / 2 and n >= (labels == k).sum() / 2 for k, n in zip(ks, counts))
    return found / len(classes)


def score(truth: np.ndarray, labels: np.ndarray) -> dict:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    k = len({int(x) for x in labels if x >= 0})
    n_classes = len(set(truth.tolist()))
    return {"nmi": float(normalized_mutual_info_score(truth, labels)) if len(labels) else 0.0,
            "ari": float(adjusted_rand_score(truth, labels)) if len(labels) else 0.0,
            "n_clusters": k, "n_classes": n_classes, "clusters_per_class": round(k / max(1, n_classes), 3),
            "classes_found": round(classes_found(truth, labels), 3),
            "noise_fraction": float(np.mean(labels < 0)) if len(labels) else 0.0}


def _baselines(Z: np.ndarray, truth: np.ndarray, seed: int) -> dict:
    import hdbscan
    from sklearn.cluster import KMeans

    mcs = max(5, int(round(math.sqrt(len(Z)))))
    eom = hdbscan.HDBSCAN(min_cluster_size=mcs, cluster_selection_method="eom").fit(Z).labels_
    eom8 = hdbscan.HDBSCAN(min_cluster_size=8, cluster_selection_method="eom").fit(Z).labels_
    km = KMeans(n_clusters=len(set(truth.tolist())), n_init=10, random_state=seed).fit(Z).labels_
    return {"eom_sqrt_n": score(truth, eom), "eom_8": score(truth, eom8), "kmeans_true_k": score(truth, km)}


def bench_quality(dataset: str | Path, *, model: str = "clip", device: str = "auto", seeds=(42,),
                  composite: str | None = None, composite_seed: int = 0, baselines: bool = True,
                  progress=None, notify=None) -> dict:
    from photoclust_app.core.bench.composites import OUTLIER_CLASS, indexed_library
    from photoclust_app.core.clustering.plan import compute_clustering

    t0 = time.perf_counter()
    with indexed_library(dataset, composite=composite, composite_seed=composite_seed, model=model, device=device,
                         progress=progress) as (lib, report):
        t_index = time.perf_counter() - t0
        relpath = lib.relpaths()
        runs = []
        for seed in seeds:
            plan = compute_clustering(lib, layout=False, namer=None, seed=int(seed), progress=progress)
            classes = np.array([relpath[int(pid)].split("/", 1)[0] for pid in plan.photo_ids])
            real = classes != OUTLIER_CLASS
            run = {"seed": int(seed), **score(classes[real], plan.labels[real]),
                   "outliers": int((~real).sum()), "outliers_clustered": int((plan.labels[~real] >= 0).sum()),
                   "cluster_seconds": round(plan.seconds, 2), "params": plan.params}
            if baselines and plan.reduced is not None and len(plan.reduced) == len(classes):
                run["baselines"] = _baselines(plan.reduced[real], classes[real], int(seed))
            runs.append(run)
    first = runs[0]
    out = {"dataset": str(dataset), "composite": composite, "model": report.model, "notice": report.notice,
           "n_photos": len(relpath), "n_skipped": len(report.skipped),
           **{k: first[k] for k in ("nmi", "ari", "n_clusters", "n_classes", "clusters_per_class",
                                    "classes_found", "noise_fraction", "outliers_clustered")},
           "params": first["params"], "index_seconds": round(t_index, 2),
           "cluster_seconds": first["cluster_seconds"], "seconds": round(time.perf_counter() - t0, 2)}
    if len(runs) > 1 or baselines:
        out["runs"] = runs
    for key in ("nmi", "ari", "classes_found"):
        values = [r[key] for r in runs]
        out[f"{key}_mean"], out[f"{key}_min"] = round(float(np.mean(values)), 4), round(float(np.min(values)), 4)
    return out

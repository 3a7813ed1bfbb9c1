"""Suggested cluster names that are distinct and not confidently wrong.

The embedder scores its vocabulary for each cluster's centroid (CLIP: zero-shot prompts over
resources/vocabulary.txt; lite: ImageNet's 1,000 classes). A name is shown only when its
score clears the embedder's threshold and no more confident cluster took it; otherwise the
cluster keeps a neutral name ("Cluster 12") and the candidates are offered in the rename
editor instead.

Why a threshold, measured with lite on the centroids of the shared sets' true classes: the
right or near-right labels scored 0.47-0.99 (daisy 0.99, jersey for t-shirts 0.98, jean for
pants 0.87, Loafer for shoes 0.47, sweatshirt for long sleeves 0.55), the confidently wrong
ones 0.03-0.21 (tiger lily -> "barn spider" 0.03, bluebell -> "daisy" 0.13, iris -> "pot"
0.06, hat -> "knee pad" 0.06, fritillary -> "strawberry" 0.17, buttercup -> "rapeseed" 0.21).
0.4 keeps every right one and drops every wrong one but dress -> "velvet" (0.36, dropped too)
and shorts -> "swimming trunks" (0.84, kept). Five daisy-like flowers all score "daisy" at
0.45-0.93: only the most confident gets it; 0.1 numbered them "daisy (2)", "daisy (3)".
CLIP's softmax runs over fewer, broader subjects; its threshold (0.2) could not be measured
offline (no weights here) and is set by the same reasoning.
"""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from photoclust_app.core.errors import PhotoclustError

log = logging.getLogger(__name__)

# centroids -> for each, candidate names best first with scores
Namer = Callable[[np.ndarray], list[list[tuple[str, float]]]]
N_NAME_CANDIDATES = 5
RUNNER_UP_SHARE = 0.5  # a runner-up name counts only when nearly as likely as the best
MIN_SCORE = {"lite": 0.4, "clip": 0.2, "tiny-test": 0.0}


def min_score(model: str | None) -> float:
    """The score a suggested name must reach for MODEL (see the module docstring)."""
    base = (model or "").split(":", 1)[0]
    return MIN_SCORE.get(base, MIN_SCORE["clip"])


def make_namer(model: str | None, device: str = "auto") -> Namer | None:
    """Candidate names from the embedder the vectors came from."""
    if not model:
        return None

    def namer(centroids: np.ndarray) -> list[list[tuple[str, float]]]:
        from photoclust_app.core.embed import create_embedder

        try:
            embedder = create_embedder(model, device, fallback=False)
            return embedder.describe(centroids, top=N_NAME_CANDIDATES)
        except PhotoclustError as err:
            log.warning("No suggested names: %s", err)
            return [[] for _ in range(len(centroids))]

    namer.min_score = min_score(model)
    return namer


def suggest_names(vectors: np.ndarray, labels: np.ndarray,
                  namer: Namer | None) -> tuple[dict[int, str], dict[int, list[str]]]:
    """(label -> suggested name or "", label -> alternatives for the rename editor)."""
    present = sorted(int(x) for x in np.unique(labels) if x >= 0)
    if not present or namer is None:
        return {lab: "" for lab in present}, {lab: [] for lab in present}
    centroids = np.stack([vectors[labels == lab].mean(axis=0) for lab in present])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    candidates = namer(centroids)
    names = distinct_names(present, candidates, getattr(namer, "min_score", 0.0))
    others = {k: [n.strip() for n, _ in c if n and n.strip() and n.strip() != names[k]]
              for k, c in zip(present, candidates)}
    return names, others


def distinct_names(keys: list[int], candidates: list[list[tuple[str, float]]],
                   threshold: float = 0.0) -> dict[int, str]:
    """One name per cluster or "": the most confident (cluster, name) pairs are taken first,
    a name is used once, and only names scoring at least THRESHOLD (and, for a runner-up, at
    least RUNNER_UP_SHARE of the cluster's best) are used at all."""
    pairs = sorted(((score, -rank, k, name.strip()) for k, cands in zip(keys, candidates)
                    for rank, (name, score) in enumerate(cands)
                    if name and name.strip() and score >= threshold and score >= RUNNER_UP_SHARE * cands[0][1]),
                   reverse=True)
    names: dict[int, str] = {k: "" for k in keys}
    taken: set[str] = set()
    for _, _, k, name in pairs:
        if not names[k] and name not in taken:
            names[k] = name
            taken.add(name)
    return names

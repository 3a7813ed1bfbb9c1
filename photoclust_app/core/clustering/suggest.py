"""Suggestions: "N more photos look like Beach", learnt from the photos the user placed.

A cluster's examples are the photos placed in it by hand; a candidate scores the mean of its
TOP_K best cosines to them, so a few examples of one look pull in that look even when the
cluster's centre is elsewhere. A cluster without examples scores by
cosine to its members' centroid. Candidates: photos outside the cluster that are neither
placed elsewhere by hand nor kept out of it. A candidate is suggested when it scores at least
the cluster's own typical member (the FLOOR quantile of the members' scores, examples left
out; with fewer than FEW, RELAX lower: three examples are a thin sample of a look), best first. One matrix product over the library: ~0.1 s at 100k photos x 50 examples.
"""
from __future__ import annotations

import numpy as np


TOP_K = 3
MAX_EXAMPLES = 256  # per cluster, evenly spread over its examples (bounded time at 100k)
FLOOR = 0.25  # members' score quantile a candidate must reach
FEW = 10  # fewer scored members than this: the threshold is relaxed by RELAX (cosine)
RELAX = 0.1


def suggest(Xn: np.ndarray, members: np.ndarray, examples: np.ndarray, candidates: np.ndarray,
            limit: int = 200) -> list[tuple[int, float]]:
    """(row, score) of the suggested candidates, best first. Xn: L2-normalised vectors; the
    other arguments are row indices into it."""
    members, examples, candidates = (np.asarray(a, dtype=np.int64) for a in (members, examples, candidates))
    if len(candidates) == 0 or (len(members) == 0 and len(examples) == 0):
        return []
    if len(examples):
        E = Xn[evenly(examples, MAX_EXAMPLES)]
        A = _affinity_all(Xn, E)  # every photo's score in contiguous blocks: no gathered copy of the library
        others = np.setdiff1d(members, examples)
        if len(others):
            base = A[others]
        else:  # only examples: how alike they are to each other (leave-one-out)
            S = Xn[examples] @ E.T
            S[S >= 1 - 1e-6] = -np.inf
            k = min(3, max(1, S.shape[1] - 1))
            base = np.sort(S, axis=1)[:, -k:].mean(axis=1) if S.shape[1] > 1 else np.zeros(0)
    else:
        cen = Xn[members].sum(0)
        cen /= max(float(np.linalg.norm(cen)), 1e-12)
        A = Xn @ cen
        base = A[members]
    s = A[candidates]
    floor = float(np.quantile(base, FLOOR)) if len(base) else 1.0
    if len(base) < FEW:  # a handful of examples says little about the look's spread
        floor -= RELAX
    keep = np.flatnonzero(s >= floor)
    keep = keep[np.lexsort((candidates[keep], -s[keep]))][:limit]
    return [(int(candidates[k]), float(s[k])) for k in keep]



def evenly(rows, cap: int) -> np.ndarray:
    """At most CAP of ROWS (ascending), evenly spread: a bounded sample that still covers them."""
    rows = np.sort(np.asarray(rows))
    if len(rows) <= cap:
        return rows
    return rows[np.linspace(0, len(rows) - 1, cap).round().astype(int)]


def _affinity_all(Xn: np.ndarray, E: np.ndarray, block: int = 16384) -> np.ndarray:
    """_affinity of every row of XN, block by block (slices, not fancy-indexed copies)."""
    from photoclust_app.core.clustering.vectors import single_thread_blas

    out = np.empty(len(Xn), np.float32)
    with single_thread_blas():  # skinny products: BLAS threads only wait for each other
        for a in range(0, len(Xn), block):
            out[a:a + block] = _affinity(Xn[a:a + block], E)
    return out


def _affinity(Q: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Mean of each query's TOP_K highest cosines to the examples E."""
    S = Q @ E.T
    k = min(TOP_K, S.shape[1])
    return np.sort(np.partition(S, S.shape[1] - k, axis=1)[:, -k:], axis=1).mean(axis=1)

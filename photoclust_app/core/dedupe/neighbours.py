"""Pairs of embeddings above a cosine threshold, exactly for a personal library and with a
coarse inverted file above EXACT_LIMIT photos.

Exact: blocked float32 matrix products of the upper triangle (10k x 1280-d: ~1.3e11 flops).
Inverted file (100k+): spherical k-means on a sample gives ~3 sqrt(n) centroids; each
vector is filed under its PROBES nearest centroids and pairs are only looked for within a
cell. Two vectors with cosine >= 0.85 almost always share one of their two nearest
centroids (test_dedupe and the bench measure what is lost against the exact search); the
cost is sum(cell size^2) * d.
"""
from __future__ import annotations

import numpy as np

EXACT_LIMIT = 20_000
PROBES = 2
_BLOCK = 2048


def _normalised(vecs: np.ndarray) -> np.ndarray:
    v = np.ascontiguousarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(norms, 1e-12)


def exact_pairs(v: np.ndarray, threshold: float, rows: np.ndarray | None = None) -> np.ndarray:
    """(i, j) index pairs, i < j, with v[i] . v[j] >= threshold (v rows L2-normalised).
    With ``rows``, v is a subset and the pairs are mapped back through it."""
    n = len(v)
    out = []
    for a in range(0, n, _BLOCK):
        b = min(n, a + _BLOCK)
        s = v[a:b] @ v[a:].T
        i, j = np.nonzero(s >= threshold)
        j = j + a
        keep = j > i + a
        out.append(np.stack([i[keep] + a, j[keep]], axis=1))
    pairs = np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)
    return rows[pairs] if rows is not None and len(pairs) else pairs.astype(np.int64)


def _kmeans(v: np.ndarray, k: int, iters: int, rng: np.random.Generator) -> np.ndarray:
    sample = v[rng.choice(len(v), size=min(len(v), max(20 * k, 10_000)), replace=False)]
    cent = sample[rng.choice(len(sample), size=k, replace=False)].copy()
    for _ in range(iters):
        lab = np.argmax(sample @ cent.T, axis=1)
        for c in range(k):
            members = sample[lab == c]
            if len(members):
                cent[c] = members.sum(0)
        cent = _normalised(cent)
    return cent


def ivf_pairs(v: np.ndarray, threshold: float, *, probes: int = PROBES, seed: int = 0) -> np.ndarray:
    n = len(v)
    rng = np.random.default_rng(seed)
    k = max(8, int(3 * np.sqrt(n)))
    cent = _kmeans(v, k, iters=5, rng=rng)
    cells: list[list[np.ndarray]] = [[] for _ in range(k)]
    for a in range(0, n, 8192):
        sims = v[a:a + 8192] @ cent.T
        rows = np.arange(len(sims))
        for p in range(min(probes, k)):
            lab = np.argmax(sims, axis=1)
            sims[rows, lab] = -np.inf
            order = np.argsort(lab, kind="stable")
            bounds = np.searchsorted(lab[order], np.arange(k + 1))
            for c in range(k):
                if bounds[c + 1] > bounds[c]:
                    cells[c].append(order[bounds[c]:bounds[c + 1]] + a)
    found = []
    for parts in cells:
        if not parts:
            continue
        idx = np.unique(np.concatenate(parts))
        if len(idx) >= 2:
            found.append(exact_pairs(v[idx], threshold, rows=idx))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(found)
    pairs = np.sort(pairs, axis=1)
    return np.unique(pairs, axis=0)


def cosine_pairs(vecs: np.ndarray, threshold: float, *, exact_limit: int = EXACT_LIMIT) -> tuple[np.ndarray, np.ndarray]:
    """((m, 2) index pairs i < j, (m,) cosines) of every pair with cosine >= threshold."""
    if len(vecs) < 2:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float32)
    v = _normalised(vecs)
    pairs = exact_pairs(v, threshold) if len(v) <= exact_limit else ivf_pairs(v, threshold)
    sims = np.einsum("ij,ij->i", v[pairs[:, 0]], v[pairs[:, 1]]) if len(pairs) else np.zeros(0, dtype=np.float32)
    return pairs, sims


def phash_pairs(codes: np.ndarray, max_distance: int) -> np.ndarray:
    """(i, j) pairs, i < j, of 64-bit codes at Hamming distance <= max_distance.

    Multi-index hashing: the 64 bits are cut into max_distance + 1 bands, so two codes that
    close agree exactly on at least one band (pigeonhole); only codes sharing a band value
    are compared. Exact, and sub-quadratic while the codes spread over the band values."""
    codes = np.ascontiguousarray(codes, dtype=np.uint64)
    n = len(codes)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    bands = max_distance + 1
    edges = np.linspace(0, 64, bands + 1).round().astype(int)
    found = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi <= lo:
            continue
        key = (codes >> np.uint64(lo)) & np.uint64((1 << (hi - lo)) - 1)
        order = np.argsort(key, kind="stable")
        ks = key[order]
        starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
        ends = np.r_[starts[1:], n]
        for a, b in zip(starts[(ends - starts) > 1], ends[(ends - starts) > 1]):
            idx = order[a:b]
            c = codes[idx]
            for r in range(0, len(idx), 1024):    # row blocks bound the memory of a big bucket
                d = _popcount(c[r:r + 1024, None] ^ c[None, :])
                i, j = np.nonzero(d <= max_distance)
                keep = j > i + r
                if keep.any():
                    found.append(np.stack([idx[i[keep] + r], idx[j[keep]]], axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.sort(np.concatenate(found), axis=1)
    return np.unique(pairs, axis=0).astype(np.int64)


_M1, _M2, _M4, _H01 = (np.uint64(0x5555555555555555), np.uint64(0x3333333333333333),
                       np.uint64(0x0F0F0F0F0F0F0F0F), np.uint64(0x0101010101010101))


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return (x * _H01) >> np.uint64(56)

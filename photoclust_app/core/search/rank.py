"""Brute-force cosine ranking over the library's vectors, held in memory once.

At personal-library scale (100k photos) an exact scan is fast enough (FIELD-NOTES: ~23 ms
per query over 100k x 512 float32) and needs no approximate index to build or keep in step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VectorIndex:
    """Photo ids and their L2-normalised float32 vectors (row i belongs to ids[i])."""

    ids: np.ndarray      # int64 (n,)
    vectors: np.ndarray  # float32 (n, d), C-contiguous
    model: str = ""

    @classmethod
    def from_library(cls, lib, model: str | None = None) -> "VectorIndex":
        ids, vecs = lib.embedding_matrix(model)
        return cls.from_arrays(ids, vecs, model or lib.model or "")

    @classmethod
    def from_arrays(cls, ids, vectors, model: str = "") -> "VectorIndex":
        v = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        if v.ndim != 2:
            v = v.reshape(len(v), -1)
        norms = np.linalg.norm(v, axis=1, keepdims=True) if v.size else np.ones((len(v), 1), np.float32)
        v = v / np.maximum(norms, 1e-12)
        ids = np.asarray(ids, dtype=np.int64)
        order = np.argsort(ids, kind="stable")  # rows() looks ids up by bisection
        return cls(ids[order], np.ascontiguousarray(v[order], dtype=np.float32), model)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1]) if self.vectors.ndim == 2 and len(self.vectors) else 0

    def rows(self, photo_ids) -> np.ndarray:
        """Row numbers of PHOTO_IDS (ids not in the index are left out)."""
        wanted = np.asarray(list(photo_ids), dtype=np.int64)
        if len(wanted) == 0 or len(self.ids) == 0:
            return np.zeros(0, dtype=np.int64)
        pos = np.clip(np.searchsorted(self.ids, wanted), 0, len(self.ids) - 1)
        return pos[self.ids[pos] == wanted]

    def cosine(self, query: np.ndarray) -> np.ndarray:
        """Cosine of every row with QUERY (any norm)."""
        q = np.asarray(query, dtype=np.float32).ravel()
        n = float(np.linalg.norm(q))
        if len(self.ids) == 0 or n == 0.0 or not np.isfinite(n):
            return np.zeros(len(self.ids), dtype=np.float32)
        return self.vectors @ (q / n)


def top_k(scores: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Row numbers of the K best SCORES, best first (ties by row number); ALLOWED (a bool
    mask) restricts the candidates. argpartition keeps it O(n), not O(n log n)."""
    scores = np.asarray(scores)
    if allowed is not None:
        cand = np.flatnonzero(allowed)
        sub = scores[cand]
    else:
        cand, sub = None, scores
    k = max(0, min(int(k), len(sub)))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-sub, k - 1)[:k] if k < len(sub) else np.arange(len(sub))
    order = part[np.lexsort((part, -sub[part]))]
    return order if cand is None else cand[order]

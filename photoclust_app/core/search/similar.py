"""More like this: the photos nearest one photo, or the mean of a selection, by cosine."""
from __future__ import annotations

import numpy as np

from photoclust_app.core.errors import PhotoclustError
from photoclust_app.core.search.rank import VectorIndex, top_k


class NothingToCompare(PhotoclustError):
    """The photos asked about have no embedding (not indexed yet, or skipped)."""


def query_vector(index: VectorIndex, photo_ids) -> np.ndarray:
    """The normalised mean of the photos' vectors: the centre of a selection."""
    rows = index.rows(photo_ids)
    if len(rows) == 0:
        raise NothingToCompare("None of these photos has been indexed yet, so there is nothing to compare them with.")
    q = index.vectors[rows].mean(axis=0)
    n = float(np.linalg.norm(q))
    if n < 1e-6:  # opposite vectors cancel out: fall back to the first photo
        q = index.vectors[rows[0]]
        n = 1.0
    return q / n


def more_like_this(index: VectorIndex, photo_ids, limit: int = 50,
                   allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
    """[(photo id, cosine)] best first, the query photos themselves left out."""
    photo_ids = list(photo_ids)
    q = query_vector(index, photo_ids)
    scores = index.cosine(q)
    mask = np.ones(len(index), dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool).copy()
    mask[index.rows(photo_ids)] = False
    rows = top_k(scores, limit, mask)
    return [(int(index.ids[r]), float(scores[r])) for r in rows]

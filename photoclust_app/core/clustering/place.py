"""New photos join the existing clusters without reshuffling them, or wait in To review.

After a re-index, a photo that was never clustered is placed by a vote of its K nearest
clustered photos in the original embedding space (cosine): the cluster with the largest
similarity-weighted vote wins, and the vote share is its confidence. It joins only when it
is also not an outlier of that cluster (its cosine to the centroid above Tukey's fence, Q1 -
FENCE IQRs of the members' own cosines: a 5% quantile, used before, sent one typical new
photo in twenty to review by construction) and the share reaches MIN_SHARE; otherwise it stays
Unsorted and goes to the To-review list with the cluster it would join. Kept-out clusters
never win. Its map position is the mean of its nearest neighbours' positions: existing
points never move. The search is two-stage (the best CANDIDATES clusters by centroid, then
exact neighbours among at most MAX_POOL members of each, one matrix product per cluster), so
1,000 new photos in a 100k library take about a second, with no index to build or JIT to warm.

A full re-cluster happens only when the user asks, or when the new photos are more than
MAX_SHARE of the library (then the old clusters no longer describe it; the caller says so).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from photoclust_app.core.clustering.vectors import single_thread_blas, unit_centroids
from photoclust_app.core.clustering.suggest import evenly  # a theme of 30,000 photos votes as well through 2,048

K = 15
CANDIDATES = 4
MIN_SHARE = 0.6
FENCE = 1.5
MAX_SHARE = 0.25
MAX_POOL = 2048  # members per candidate cluster the neighbours are sought among (evenly spread)


@dataclass
class PlacementPlan:
    """Computed placements, not yet written."""

    photo_ids: np.ndarray          # the new photos
    cluster_ids: list[int | None]  # where each goes (None: stays Unsorted, to review)
    suggested: list[int | None]    # the cluster each would join (for To review)
    confidence: np.ndarray         # vote share, 0..1
    xy: np.ndarray                 # (n, 2) map positions
    params: dict = field(default_factory=dict)

    @property
    def n_placed(self) -> int:
        return sum(c is not None for c in self.cluster_ids)

    @property
    def n_review(self) -> int:
        return len(self.cluster_ids) - self.n_placed


def place(Xn: np.ndarray, cluster_of: np.ndarray, new_rows: np.ndarray, xy: np.ndarray | None = None,
          kept_out: list[set[int]] | None = None) -> tuple[list, list, np.ndarray, np.ndarray]:
    """For rows NEW_ROWS of the L2-normalised XN, given CLUSTER_OF (cluster id per row, -1 for
    none): (cluster or None, suggested cluster or None, confidence, xy) per new row. XY (n, 2)
    are the current map positions (rows without one: nan)."""
    new_rows = np.asarray(new_rows, dtype=np.int64)
    member = np.flatnonzero(cluster_of >= 0)
    if len(new_rows) == 0 or len(member) == 0:
        return [None] * len(new_rows), [None] * len(new_rows), np.zeros(len(new_rows)), _fallback_xy(xy, len(new_rows))
    ids, pos = np.unique(cluster_of[member], return_inverse=True)
    cen = unit_centroids(Xn, member, pos, len(ids))
    own = np.empty(len(member), np.float32)
    for a in range(0, len(member), 8192):  # row by row in blocks: no (n, d) temporaries
        rows = member[a:a + 8192]
        own[a:a + 8192] = np.einsum("ij,ij->i", Xn[rows], cen[pos[a:a + 8192]])
    order = np.argsort(pos, kind="stable")
    bounds = np.searchsorted(pos[order], np.arange(len(ids) + 1))
    groups = [order[bounds[j]:bounds[j + 1]] for j in range(len(ids))]
    fence = np.array([_fence(own[g]) for g in groups])
    by_cluster = [evenly(member[g], MAX_POOL) for g in groups]
    out_c, out_s, conf = [], [], np.zeros(len(new_rows))
    out_xy = np.full((len(new_rows), 2), np.nan, np.float32)
    Q = Xn[new_rows]
    near = np.argsort(-(Q @ cen.T), axis=1)[:, :CANDIDATES]
    # exact K nearest among the candidate clusters' members, one matrix product per cluster
    # for all the new photos that consider it (0.1 s per 1,000 new photos in 100k, where a
    # product per photo took 50 s)
    best_s = np.full((len(new_rows), CANDIDATES * K), -np.inf, np.float32)
    best_r = np.zeros((len(new_rows), CANDIDATES * K), np.int64)
    with single_thread_blas():
        for j in np.unique(near):
            qi, slot = np.nonzero(near == j)
            rows = by_cluster[j]
            S = Q[qi] @ Xn[rows].T
            kk = min(K, len(rows))
            top = np.argpartition(-S, kk - 1, axis=1)[:, :kk]
            cols = slot[:, None] * K + np.arange(kk)[None, :]
            best_s[qi[:, None], cols] = np.take_along_axis(S, top, axis=1)
            best_r[qi[:, None], cols] = rows[top]
    order = np.argsort(-best_s, axis=1)[:, :K]
    for i, r in enumerate(new_rows):
        sims, pool = best_s[i, order[i]], best_r[i, order[i]]
        ok = np.isfinite(sims)
        sims, pool = sims[ok], pool[ok]
        votes: dict[int, float] = {}
        for sv, pr in zip(sims.tolist(), pool.tolist()):
            c = int(cluster_of[pr])
            votes[c] = votes.get(c, 0.0) + max(sv, 0.0)
        banned = kept_out[i] if kept_out else set()
        ranked = sorted(((v, c) for c, v in votes.items() if c not in banned), reverse=True)
        total = sum(votes.values()) or 1.0
        if not ranked:
            out_c.append(None), out_s.append(None)
        else:
            share, c = ranked[0][0] / total, ranked[0][1]
            j = int(np.searchsorted(ids, c))
            ok = share >= MIN_SHARE and float(Xn[r] @ cen[j]) >= fence[j]
            out_c.append(c if ok else None)
            out_s.append(c)
            conf[i] = share
        if xy is not None and len(pool):
            nb = xy[pool[:5]]
            nb = nb[np.isfinite(nb).all(axis=1)]
            if len(nb):
                out_xy[i] = nb.mean(axis=0)
    missing = ~np.isfinite(out_xy).all(axis=1)
    if missing.any():
        out_xy[missing] = _fallback_xy(xy, int(missing.sum()))
    return out_c, out_s, conf, out_xy


def _fence(cos: np.ndarray) -> float:
    """Tukey's lower fence of a cluster's cosines to its centroid."""
    q1, q3 = np.quantile(cos, [0.25, 0.75])
    return float(q1 - FENCE * (q3 - q1))


def _fallback_xy(xy: np.ndarray | None, n: int) -> np.ndarray:
    """Where a photo with no placed neighbour goes on the map: the map's lower-left corner."""
    if xy is None or not np.isfinite(xy).any():
        return np.zeros((n, 2), np.float32)
    lo = np.nanmin(xy, axis=0)
    return np.tile(lo, (n, 1)).astype(np.float32)


def compute_placement(lib) -> PlacementPlan:
    """Placements for every embedded photo that was never clustered. Writes nothing."""
    import time

    from photoclust_app.core.store.clusters import cluster_labels

    t0 = time.perf_counter()
    ids, X = lib.embedding_matrix()
    X /= np.maximum(np.sqrt(np.einsum("ij,ij->i", X, X))[:, None], 1e-12)  # in place: no second 100k x d copy
    Xn = X
    table = lib.assignment_table()
    cluster_of = cluster_labels(table, ids)
    new_rows = np.array([r for r, p in enumerate(ids.tolist()) if p not in table], dtype=np.int64)
    lids, lxy = lib.layout()
    xy = np.full((len(ids), 2), np.nan, np.float32)
    if len(lids):
        at = np.searchsorted(ids, lids)
        ok = (at < len(ids)) & (ids[np.minimum(at, len(ids) - 1)] == lids)
        xy[at[ok]] = lxy[ok]
    kept = lib.kept_out()
    banned = [kept.get(int(ids[r]), set()) for r in new_rows]
    clusters, suggested, conf, new_xy = place(Xn, cluster_of, new_rows, xy, banned)
    return PlacementPlan(ids[new_rows], clusters, suggested, conf, new_xy,
                         {"k": K, "min_share": MIN_SHARE, "fence": FENCE, "seconds": round(time.perf_counter() - t0, 3)})


def apply_placement(lib, plan: PlacementPlan, *, text: str | None = None) -> None:
    """Write placements in one transaction (one undoable entry named TEXT, None: not
    undoable): placed photos join their cluster (not by hand), the others stay Unsorted
    and enter To review; each gets its map position. Photos that meanwhile got a cluster
    (or left the library) are left alone."""
    import contextlib

    pids = [int(p) for p in plan.photo_ids.tolist()]
    ctx = lib.record(text) if text else contextlib.nullcontext(None)
    with lib.transaction(), ctx as rec:
        if rec is not None:
            for table in ("assignments", "layout", "review"):
                rec.touch(table, pids)
        current = lib.assignment_table()
        live = {c.id for c in lib.clusters()}
        todo = [i for i, p in enumerate(pids) if p not in current]
        lib.assign_many((pids[i], plan.cluster_ids[i] if plan.cluster_ids[i] in live else None,
                         float(plan.confidence[i]), False) for i in todo)
        lib.add_review((pids[i], plan.suggested[i] if plan.suggested[i] in live else None, float(plan.confidence[i]))
                       for i in todo if plan.cluster_ids[i] not in live)
        lib.add_layout_points([pids[i] for i in todo], plan.xy[todo] if todo else np.zeros((0, 2)))

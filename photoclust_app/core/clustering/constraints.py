"""Honour the user's corrections in every clustering: photos placed by hand pull their
look-alikes along, "not this one" keeps a photo out.

A photo placed by hand is an example of its cluster (a must-link). After the tree is cut,
counting only clusters with at least MIN_SUPPORT examples in a group (one stray example must
not drag a whole group along; that photo simply stays where it was put), the examples of a
cluster pull the smallest node of the hierarchy that holds them all, within their group: the
look the user pointed at, as the tree sees it. So two t-shirts dragged from a piece the cut
split off into "T-shirts" bring the whole piece when they were spread over it, and three
bees dragged out of a "Garden" group that mixes bees and flowers bring the bees' branch, not
the flowers. The rest of a group goes to the usual overlap matching at apply time; several
groups pulled into one cluster become that one cluster. Where two clusters' examples pull the
same node, its photos are divided by affinity (the mean of a photo's TOP_K best cosines to a
cluster's examples). Without a tree (tiny libraries), a group with examples of one cluster
becomes it and a group with examples of several is divided by affinity. A photo never lands
in a cluster it was moved out of by hand (kept out: it stays Unsorted). Hand-placed photos
themselves never move (plan.apply_clustering skips them).
"""
from __future__ import annotations

import numpy as np

TOP_K = 3
MIN_SUPPORT = 2
MAX_EXAMPLES = 256  # per cluster, evenly spread over its examples (bounded time at 100k)


def honour(labels: np.ndarray, ids: np.ndarray, vectors: np.ndarray, manual: dict[int, int],
           kept_out: dict[int, set[int]], tree=None) -> tuple[np.ndarray, dict[int, int]]:
    """(new labels, label -> cluster id it must become). MANUAL: photo -> the cluster it was
    placed in by hand; KEPT_OUT: photo -> clusters it must not join; TREE: the hierarchy the
    labels were cut from (rows = ids), or None."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    ids = np.asarray(ids, dtype=np.int64)
    row_of = {int(p): r for r, p in enumerate(ids.tolist())}
    ex_rows: dict[int, list[int]] = {}
    for pid, cid in manual.items():
        r = row_of.get(int(pid))
        if r is not None and cid is not None:
            ex_rows.setdefault(int(cid), []).append(r)
    forced: dict[int, int] = {}
    if ex_rows:
        X = np.asarray(vectors, dtype=np.float32)
        Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        euler = _Euler(tree) if tree is not None and len(tree.atom_of) == len(ids) else None
        next_label = int(labels.max(initial=-1)) + 1
        by_label: dict[int, dict[int, np.ndarray]] = {}
        for c, rows in ex_rows.items():
            rows = np.asarray(rows)
            for lab in np.unique(labels[rows]):
                mine = rows[labels[rows] == lab]
                if lab >= 0 and len(mine) >= MIN_SUPPORT:
                    by_label.setdefault(int(lab), {})[c] = mine
        for lab in sorted(by_label):
            group = np.flatnonzero(labels == lab)
            owner = np.full(len(group), -1, np.int64)  # cluster id pulling each photo, -1: none
            if euler is None:
                pulls = {c: np.ones(len(group), bool) for c in by_label[lab]}
            else:
                atoms = tree.atom_of[group]
                pulls = {c: euler.under(euler.lca(tree.atom_of[ex]), atoms) for c, ex in by_label[lab].items()}
            # bigger pulls first, so a nested smaller pull wins its part; equal pulls share by affinity
            order = sorted(pulls, key=lambda c: (-int(pulls[c].sum()), c))
            for i, c in enumerate(order):
                same = [d for d in order if np.array_equal(pulls[d], pulls[c])]
                if len(same) > 1 and c == same[0]:
                    where = np.flatnonzero(pulls[c])
                    best = np.argmax(np.stack([_affinity(Xn[group[where]], Xn[_spread(ex_rows[d])])
                                               for d in same]), axis=0)
                    owner[where] = np.asarray(same)[best]
                elif len(same) == 1:
                    owner[pulls[c]] = c
            for c in order:
                part = group[owner == c]
                if len(part):
                    labels[part] = next_label
                    forced[next_label] = c
                    next_label += 1
        # several groups that must be one cluster become one label
        first: dict[int, int] = {}
        for lab, c in sorted(forced.items()):
            if c in first:
                labels[labels == lab] = first[c]
            else:
                first[c] = lab
        forced = {lab: c for c, lab in first.items()}
    if kept_out and forced:
        for pid, cids in kept_out.items():
            r = row_of.get(int(pid))
            if r is not None and forced.get(int(labels[r])) in cids and int(pid) not in manual:
                labels[r] = -1
    return labels, forced


class _Euler:
    """Entry/exit times of the hierarchy's nodes: "is atom a under node v" in O(1)."""

    def __init__(self, tree):
        parent = tree.parent
        n = len(parent)
        kids = [[] for _ in range(n)]
        for v in range(n):
            if parent[v] >= 0:
                kids[parent[v]].append(v)
        self.parent, self.depth = parent, tree.depth
        self.tin, self.tout = np.zeros(n, np.int64), np.zeros(n, np.int64)
        t, stack = 0, [(int(np.flatnonzero(parent < 0)[0]), False)]
        while stack:
            v, done = stack.pop()
            if done:
                self.tout[v] = t
                continue
            self.tin[v] = t
            t += 1
            stack.append((v, True))
            stack.extend((k, False) for k in kids[v])

    def lca(self, nodes: np.ndarray) -> int:
        nodes = np.unique(nodes)
        a, b = int(nodes[np.argmin(self.tin[nodes])]), int(nodes[np.argmax(self.tin[nodes])])
        while self.depth[a] > self.depth[b]:
            a = int(self.parent[a])
        while self.depth[b] > self.depth[a]:
            b = int(self.parent[b])
        while a != b:
            a, b = int(self.parent[a]), int(self.parent[b])
        return a

    def under(self, v: int, atoms: np.ndarray) -> np.ndarray:
        return (self.tin[atoms] >= self.tin[v]) & (self.tin[atoms] < self.tout[v])


def _spread(rows: list[int]) -> np.ndarray:
    rows = np.asarray(sorted(rows))
    if len(rows) <= MAX_EXAMPLES:
        return rows
    return rows[np.linspace(0, len(rows) - 1, MAX_EXAMPLES).round().astype(int)]


def _affinity(Q: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Mean of each query's TOP_K highest cosines to the examples E."""
    S = Q @ E.T
    k = min(TOP_K, S.shape[1])
    return np.sort(np.partition(S, S.shape[1] - k, axis=1)[:, -k:], axis=1).mean(axis=1)

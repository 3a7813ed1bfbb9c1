"""Stored cluster trees: the hierarchy a clustering run built, with the photo order and the
reduced space it was built in, so a level change or "exactly N groups" is a cut of it, not a
new UMAP + HDBSCAN. The blob's format belongs to clustering/hierarchy.py; the store keeps bytes.
Only the newest KEEP trees are kept (older undo entries then re-cluster instead of cutting)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

KEEP = 4


@dataclass
class StoredTree:
    id: int
    model: str
    photo_ids: np.ndarray  # int64 (n,), the rows of the tree
    reduced: np.ndarray  # float32 (n, d)
    blob: bytes


class TreeStore:
    def save_tree(self, model: str, photo_ids: np.ndarray, reduced: np.ndarray, blob: bytes) -> int:
        ids = np.ascontiguousarray(photo_ids, dtype=np.int64)
        Z = np.ascontiguousarray(reduced, dtype=np.float32)
        if Z.ndim != 2 or len(Z) != len(ids):
            raise ValueError("a tree's reduced space needs one row per photo")
        with self.transaction() as c:
            cur = c.execute("INSERT INTO cluster_trees(created_at, model, photo_ids, reduced, dims, tree)"
                            " VALUES(?,?,?,?,?,?)", (time.time(), model, ids.tobytes(), Z.tobytes(), Z.shape[1], blob))
            new = cur.lastrowid
            c.execute("DELETE FROM cluster_trees WHERE id NOT IN (SELECT id FROM cluster_trees ORDER BY id DESC LIMIT ?)",
                      (KEEP,))
            return new

    def load_tree(self, tree_id: int | str | None) -> StoredTree | None:
        """The stored tree, or None when it is gone or does not hold together (a damaged row
        only costs a re-cluster)."""
        try:
            tid = int(tree_id)
        except (TypeError, ValueError):
            return None
        r = self._q("SELECT id, model, photo_ids, reduced, dims, tree FROM cluster_trees WHERE id=?", (tid,)).fetchone()
        if r is None or not all(isinstance(v, (bytes, memoryview)) for v in (r[2], r[3], r[5])):
            return None
        ids = np.frombuffer(bytes(r[2]), dtype=np.int64) if len(r[2]) % 8 == 0 else None
        dims = int(r[4]) if isinstance(r[4], int) and r[4] > 0 else 0
        if ids is None or not dims or len(r[3]) != 4 * dims * len(ids):
            return None
        Z = np.frombuffer(bytes(r[3]), dtype=np.float32).reshape(len(ids), dims)
        return StoredTree(int(r[0]), str(r[1]), ids, Z, bytes(r[5]))

"""Clusters, assignments, mosaics, the 2-D layout and the record of clustering runs."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterable

import numpy as np

from photoclust_app.core.records import Cluster

# Column lists shared with the history's row capture (store/rows.py).
CLUSTER_COLS = "id, name, suggested_name, user_named, created_at, alternatives"
ASSIGNMENT_COLS = "photo_id, cluster_id, probability, manual"


def _text(value) -> str:
    """A name column as text, whatever a damaged or hand-edited library put there."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


class ClusterStore:
    """Mixin of Library: everything a clustering or an edit writes."""

    # -- reads ---------------------------------------------------------------------------
    def clusters(self) -> list[Cluster]:
        """Every cluster with its size and representatives, largest first."""
        sizes = dict(self._q(
            "SELECT cluster_id, COUNT(*) FROM assignments WHERE cluster_id IS NOT NULL GROUP BY cluster_id"))
        reps: dict[int, list[int]] = {}
        for cid, pid in self._q("SELECT cluster_id, photo_id FROM representatives ORDER BY cluster_id, rank"):
            reps.setdefault(cid, []).append(pid)
        out = [Cluster(r[0], _text(r[1]), _text(r[2]), bool(r[3]), sizes.get(r[0], 0), reps.get(r[0], []),
                       alternatives(r[4]))
               for r in self._q("SELECT id, name, suggested_name, user_named, alternatives FROM clusters")]
        out.sort(key=lambda c: (-c.size, c.id))
        return out

    def cluster(self, cluster_id: int) -> Cluster | None:
        return next((c for c in self.clusters() if c.id == cluster_id), None)

    def assignments(self) -> dict[int, int | None]:
        """photo id -> cluster id (None: Unsorted). Photos never clustered are absent."""
        return dict(self._q("SELECT photo_id, cluster_id FROM assignments"))

    def assignment_table(self) -> dict[int, tuple[int | None, float, bool]]:
        """photo id -> (cluster id or None, membership probability, placed by hand)."""
        return {r[0]: (r[1], r[2], bool(r[3])) for r in self._q(f"SELECT {ASSIGNMENT_COLS} FROM assignments")}

    def manual_photos(self) -> set[int]:
        """Photos the user placed by hand: a re-clustering never moves them."""
        return {r[0] for r in self._q("SELECT photo_id FROM assignments WHERE manual=1")}

    def cluster_members(self, cluster_id: int | None) -> list[int]:
        """Photo ids in a cluster; None means Unsorted, including photos not clustered yet."""
        if cluster_id is None:
            rows = self._q("SELECT id FROM photos WHERE id NOT IN"
                           " (SELECT photo_id FROM assignments WHERE cluster_id IS NOT NULL) ORDER BY id")
        else:
            rows = self._q("SELECT photo_id FROM assignments WHERE cluster_id=? ORDER BY photo_id", (cluster_id,))
        return [r[0] for r in rows]

    def cluster_paths(self) -> tuple[list[tuple[str, list[Path]]], list[Path]]:
        """(display name, absolute member paths) per non-empty cluster, largest first, and the
        Unsorted paths: what an export needs, read in one snapshot. Missing photos are left out."""
        with self.snapshot():
            missing = self.missing()
            paths = {pid: self.folder / rel for pid, rel in self.relpaths().items() if pid not in missing}
            groups = []
            for c in self.clusters():
                members = [paths[i] for i in self.cluster_members(c.id) if i in paths]
                if members:
                    groups.append((c.display_name, members))
            return groups, [paths[i] for i in self.cluster_members(None) if i in paths]

    def count_unsorted(self) -> int:
        return self._q("SELECT COUNT(*) FROM photos WHERE id NOT IN"
                       " (SELECT photo_id FROM assignments WHERE cluster_id IS NOT NULL)").fetchone()[0]

    # -- writes --------------------------------------------------------------------------
    def create_cluster(self, name: str = "", suggested_name: str = "") -> int:
        with self.transaction() as c:
            cur = c.execute("INSERT INTO clusters(name, suggested_name, user_named, created_at) VALUES(?,?,?,?)",
                            (name, suggested_name, int(bool(name)), time.time()))
            return cur.lastrowid

    def rename_cluster(self, cluster_id: int, name: str) -> None:
        """A user's name wins over suggestions; an empty name goes back to the suggestion."""
        name = name.strip()
        with self.transaction() as c:
            c.execute("UPDATE clusters SET name=?, user_named=? WHERE id=?", (name, int(bool(name)), cluster_id))

    def set_suggested_name(self, cluster_id: int, suggested: str, others: list[str] = ()) -> None:
        """The suggested name, and the other names the rename editor offers."""
        with self.transaction() as c:
            c.execute("UPDATE clusters SET suggested_name=?, alternatives=? WHERE id=?",
                      (suggested, json.dumps(list(others)), cluster_id))

    def delete_cluster(self, cluster_id: int) -> None:
        """Members go to Unsorted (ON DELETE SET NULL)."""
        with self.transaction() as c:
            c.execute("DELETE FROM clusters WHERE id=?", (cluster_id,))

    def assign(self, photo_ids: Iterable[int], cluster_id: int | None, *, manual: bool = True,
               probability: float = 1.0) -> None:
        with self.transaction() as c:
            c.executemany(f"INSERT OR REPLACE INTO assignments({ASSIGNMENT_COLS}) VALUES(?,?,?,?)",
                          [(int(p), cluster_id, probability, int(manual)) for p in photo_ids])

    def assign_many(self, rows: Iterable[tuple[int, int | None, float, bool]]) -> None:
        """(photo, cluster or None, probability, manual) rows in one statement."""
        with self.transaction() as c:
            c.executemany(f"INSERT OR REPLACE INTO assignments({ASSIGNMENT_COLS}) VALUES(?,?,?,?)",
                          [(int(p), cid, float(pr), int(m)) for p, cid, pr, m in rows])

    def set_representatives(self, cluster_id: int, photo_ids: Iterable[int]) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM representatives WHERE cluster_id=?", (cluster_id,))
            c.executemany("INSERT INTO representatives(cluster_id, rank, photo_id) VALUES(?,?,?)",
                          [(cluster_id, i, int(p)) for i, p in enumerate(photo_ids)])

    # -- layout and clustering runs ------------------------------------------------------
    def layout(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self._q("SELECT photo_id, x, y FROM layout ORDER BY photo_id").fetchall()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        xy = np.array([(r[1], r[2]) for r in rows], dtype=np.float32).reshape(-1, 2)
        return ids, xy

    def set_layout(self, photo_ids: np.ndarray, xy: np.ndarray) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM layout")
            c.executemany("INSERT INTO layout(photo_id, x, y) VALUES(?,?,?)",
                          [(int(p), float(x), float(y)) for p, (x, y) in zip(photo_ids, xy)])

    def add_layout_points(self, photo_ids, xy) -> None:
        """Map positions for some photos; every other photo keeps its place."""
        with self.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO layout(photo_id, x, y) VALUES(?,?,?)",
                          [(int(p), float(x), float(y)) for p, (x, y) in zip(photo_ids, xy)])

    def record_clustering(self, model: str, n_photos: int, params: dict, metrics: dict) -> int:
        with self.transaction() as c:
            cur = c.execute("INSERT INTO clusterings(created_at, model, n_photos, params, metrics) VALUES(?,?,?,?,?)",
                            (time.time(), model, n_photos, json.dumps(params), json.dumps(metrics)))
            return cur.lastrowid

    def last_clustering(self) -> dict | None:
        r = self._q("SELECT id, created_at, model, n_photos, params, metrics FROM clusterings"
                    " ORDER BY id DESC LIMIT 1").fetchone()
        if not r:
            return None
        return {"id": r[0], "created_at": r[1], "model": r[2], "n_photos": r[3],
                "params": _json(r[4]), "metrics": _json(r[5])}


def cluster_labels(table: dict, photo_ids) -> np.ndarray:
    """The cluster id of each photo of PHOTO_IDS in an assignment_table(), -1 for Unsorted or
    never clustered: the label array the numpy code (cohesion, placement, suggestions) wants."""
    return np.array([(table.get(int(p)) or (None,))[0] or -1 for p in np.asarray(photo_ids).tolist()], dtype=np.int64)


def alternatives(text) -> list[str]:
    """The stored alternatives, as a list of names (anything else: none)."""
    try:
        value = json.loads(text) if isinstance(text, str) else []
    except ValueError:
        return []
    return [str(v) for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _json(text) -> dict:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}

"""The user's corrections as lasting constraints, and the To-review list.

Must-links are the hand placements already in `assignments` (manual = 1). A cannot-link is
`kept_out`: the clusters a photo was moved out of by hand, which no re-cluster, level change or
placement may put it back into. The pieces of a split are kept apart (meta KEPT_APART_KEY): a
re-cluster that would join them again keeps each piece's photos where the split put them. `review` holds new photos placed with low confidence, with the
cluster they would join. Both tables are in the edit history (store/rows.py), so undo covers them.
"""
from __future__ import annotations

import json
import time
from typing import Iterable


KEPT_APART_KEY = "clusters.kept_apart"  # library meta: JSON list of cluster ids


def _ids(text) -> set[int]:
    try:
        value = json.loads(text) if isinstance(text, str) else []
    except ValueError:
        return set()
    return {int(v) for v in value if isinstance(v, int)} if isinstance(value, list) else set()


class ConstraintStore:
    def kept_out(self) -> dict[int, set[int]]:
        """photo id -> the clusters it was moved out of by hand (still existing ones)."""
        live = {r[0] for r in self._q("SELECT id FROM clusters")}
        out = {}
        for pid, text in self._q("SELECT photo_id, clusters FROM kept_out"):
            ids = _ids(text) & live
            if ids:
                out[int(pid)] = ids
        return out

    def keep_out(self, pairs: Iterable[tuple[int, int]]) -> None:
        """Record (photo, cluster) cannot-links."""
        want: dict[int, set[int]] = {}
        for pid, cid in pairs:
            want.setdefault(int(pid), set()).add(int(cid))
        if not want:
            return
        with self.transaction() as c:
            for pid, cids in want.items():
                row = c.execute("SELECT clusters FROM kept_out WHERE photo_id=?", (pid,)).fetchone()
                merged = sorted(_ids(row[0] if row else None) | cids)
                c.execute("INSERT OR REPLACE INTO kept_out(photo_id, clusters) VALUES(?,?)", (pid, json.dumps(merged)))

    def let_in(self, photo_ids: Iterable[int], cluster_id: int) -> None:
        """The user put these photos into CLUSTER_ID by hand: it is no longer kept from them."""
        with self.transaction() as c:
            for pid in photo_ids:
                row = c.execute("SELECT clusters FROM kept_out WHERE photo_id=?", (int(pid),)).fetchone()
                if row is None:
                    continue
                rest = sorted(_ids(row[0]) - {int(cluster_id)})
                if rest:
                    c.execute("UPDATE kept_out SET clusters=? WHERE photo_id=?", (json.dumps(rest), int(pid)))
                else:
                    c.execute("DELETE FROM kept_out WHERE photo_id=?", (int(pid),))

    def kept_out_photos(self, cluster_id: int | None = None) -> list[int]:
        """Photos with a cannot-link (to CLUSTER_ID, or to any cluster)."""
        return sorted(p for p, cids in self.kept_out().items() if cluster_id is None or cluster_id in cids)

    def constraint_counts(self) -> dict[int, tuple[int, int]]:
        """cluster id -> (photos placed in it by hand, photos kept out of it)."""
        out: dict[int, list[int]] = {}
        for cid, n in self._q("SELECT cluster_id, COUNT(*) FROM assignments WHERE manual=1 AND cluster_id IS NOT NULL"
                              " GROUP BY cluster_id"):
            out.setdefault(int(cid), [0, 0])[0] = int(n)
        for cids in self.kept_out().values():
            for cid in cids:
                out.setdefault(cid, [0, 0])[1] += 1
        return {c: (v[0], v[1]) for c, v in out.items()}

    def kept_apart(self) -> set[int]:
        """Clusters a split made or cut (existing ones): a re-cluster never joins them again."""
        live = {r[0] for r in self._q("SELECT id FROM clusters")}
        return _ids(self.get_meta(KEPT_APART_KEY)) & live

    def keep_apart(self, cluster_ids: Iterable[int]) -> None:
        """Record the pieces of a split (inside the caller's history entry, which touches
        KEPT_APART_KEY in meta)."""
        self.set_meta(KEPT_APART_KEY, json.dumps(sorted(self.kept_apart() | {int(c) for c in cluster_ids})))

    def let_apart(self, cluster_ids: Iterable[int] | None = None) -> None:
        """Forget that CLUSTER_IDS (None: all) were split apart."""
        rest = set() if cluster_ids is None else self.kept_apart() - {int(c) for c in cluster_ids}
        self.set_meta(KEPT_APART_KEY, json.dumps(sorted(rest)) if rest else None)

    def clear_kept_out(self) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM kept_out")

    # -- To review -----------------------------------------------------------------------
    def review_items(self) -> list[tuple[int, int | None, float]]:
        """(photo, the cluster it would join or None, confidence), least confident first."""
        return [(int(p), c, float(conf)) for p, c, conf in self._q(
            "SELECT photo_id, cluster_id, confidence FROM review ORDER BY confidence, photo_id")]

    def add_review(self, rows: Iterable[tuple[int, int | None, float]]) -> None:
        now = time.time()
        with self.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO review(photo_id, cluster_id, confidence, added_at) VALUES(?,?,?,?)",
                          [(int(p), cid, float(conf), now) for p, cid, conf in rows])

    def resolve_review(self, photo_ids: Iterable[int]) -> None:
        with self.transaction() as c:
            c.executemany("DELETE FROM review WHERE photo_id=?", [(int(p),) for p in photo_ids])

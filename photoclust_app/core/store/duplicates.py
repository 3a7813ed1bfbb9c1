"""What the duplicate finder reads and caches, and how the library forgets removed copies.

``photo_facts`` caches, per photo, the full content hash, the perceptual hash and the
sharpness of the thumbnail, each valid only while the photo's size and mtime are the
recorded ones (a re-saved file is looked at afresh). ``duplicate_members`` holds the last
duplicate groups found, which export ("one per duplicate group") and the mosaic use.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from photoclust_app.core.store.photos import dec

_CHUNK = 500


@dataclass(frozen=True)
class DupeRow:
    """A present photo as the duplicate finder sees it."""

    id: int
    relpath: str
    size: int
    mtime_ns: int
    quick_hash: str
    width: int
    height: int
    taken_at: str | None
    camera: str | None


@dataclass(frozen=True)
class Facts:
    sha256: str | None = None
    phash: str | None = None
    sharpness: float | None = None


def _chunks(keys: list) -> Iterable[list]:
    for i in range(0, len(keys), _CHUNK):
        yield keys[i:i + _CHUNK]


class DuplicateStore:
    """Mixin of Library: the duplicate finder's reads, its cache, and forgetting copies."""

    def dupe_rows(self) -> list[DupeRow]:
        """Every photo that the last scan saw (missing ones are left out), by id."""
        rows = self._q("SELECT id, relpath, size, mtime_ns, quick_hash, width, height, taken_at, camera"
                       " FROM photos WHERE missing_since IS NULL ORDER BY id")
        return [DupeRow(r[0], dec(r[1]), r[2], r[3], str(r[4]), r[5], r[6],
                        r[7] if isinstance(r[7], str) else None, r[8] if isinstance(r[8], str) else None)
                for r in rows]

    def embedding_block(self, model: str | None = None):
        """(photo ids, float32 vectors) like embedding_matrix, read as one buffer: at 100k photos
        the per-row arrays and np.stack cost more than the query."""
        import numpy as np

        model = model or self.model
        rows = self._q("SELECT photo_id, vector FROM embeddings WHERE model=? ORDER BY photo_id", (model,)).fetchall()
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        sizes = {len(r[1]) for r in rows}
        if len(sizes) != 1:           # a damaged row: fall back to the careful reader
            return self.embedding_matrix(model)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        flat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float16)
        return ids, flat.reshape(len(rows), -1).astype(np.float32)

    def photo_facts(self, photo_ids: Iterable[int]) -> dict[int, Facts]:
        """Cached facts still valid for the photo's current size and mtime."""
        out: dict[int, Facts] = {}
        for part in _chunks(list(dict.fromkeys(int(p) for p in photo_ids))):
            marks = ",".join("?" * len(part))
            for r in self._q("SELECT f.photo_id, f.sha256, f.phash, f.sharpness FROM photo_facts f"
                             " JOIN photos p ON p.id = f.photo_id AND p.size = f.size AND p.mtime_ns = f.mtime_ns"
                             f" WHERE f.photo_id IN ({marks})", part):
                out[r[0]] = Facts(r[1], r[2], r[3])
        return out

    def set_photo_facts(self, rows: Iterable[tuple[int, int, int, Facts]]) -> None:
        """(photo id, size, mtime_ns, facts) rows; a known fact for the same stat is kept
        where the new row leaves it None."""
        with self.transaction() as c:
            c.executemany(
                "INSERT INTO photo_facts(photo_id, size, mtime_ns, sha256, phash, sharpness) VALUES(?,?,?,?,?,?)"
                " ON CONFLICT(photo_id) DO UPDATE SET"
                " sha256=CASE WHEN size=excluded.size AND mtime_ns=excluded.mtime_ns"
                "   THEN COALESCE(excluded.sha256, sha256) ELSE excluded.sha256 END,"
                " phash=CASE WHEN size=excluded.size AND mtime_ns=excluded.mtime_ns"
                "   THEN COALESCE(excluded.phash, phash) ELSE excluded.phash END,"
                " sharpness=CASE WHEN size=excluded.size AND mtime_ns=excluded.mtime_ns"
                "   THEN COALESCE(excluded.sharpness, sharpness) ELSE excluded.sharpness END,"
                " size=excluded.size, mtime_ns=excluded.mtime_ns",
                [(int(p), int(s), int(m), f.sha256, f.phash, f.sharpness) for p, s, m, f in rows])

    # -- the last groups found -------------------------------------------------------------
    def set_duplicate_groups(self, groups: Iterable[tuple[str, int, list[int]]]) -> None:
        """Replace the stored groups: (kind, keeper id, member ids incl. the keeper)."""
        with self.transaction() as c:
            c.execute("DELETE FROM duplicate_members")
            live = {r[0] for r in c.execute("SELECT id FROM photos")}
            rows = []
            for gid, (kind, keeper, members) in enumerate(groups, 1):
                rows += [(int(p), gid, str(kind), int(p == keeper)) for p in dict.fromkeys(members) if p in live]
            c.executemany("INSERT OR IGNORE INTO duplicate_members(photo_id, group_id, kind, keeper)"
                          " VALUES(?,?,?,?)", rows)

    def duplicate_groups(self) -> list[tuple[str, int, list[int]]]:
        """The stored groups still holding two photos or more: (kind, keeper, members)."""
        groups: dict[int, tuple[str, list[int], list[int]]] = {}
        for pid, gid, kind, keeper in self._q("SELECT photo_id, group_id, kind, keeper FROM duplicate_members"
                                              " ORDER BY group_id, photo_id"):
            g = groups.setdefault(gid, (str(kind), [], []))
            g[1].append(pid)
            if keeper:
                g[2].append(pid)
        out = []
        for kind, members, keepers in groups.values():
            if len(members) >= 2:
                out.append((kind, keepers[0] if keepers else members[0], members))
        return out

    # -- removed copies --------------------------------------------------------------------
    def forget_copies(self, copy_to_keeper: dict[int, int]) -> int:
        """Forget photos whose files were removed as copies of a keeper, in one transaction.

        The keeper keeps its own cluster and hand placement. When it has no hand placement
        and a removed copy had one, the keeper takes the copy's (the user put that picture
        there); when it was never clustered, it takes the copy's cluster. A copy that stood
        in a cluster's mosaic is replaced there by its keeper. Returns how many were forgotten."""
        if not copy_to_keeper:
            return 0
        with self.transaction() as c:
            assign = {r[0]: (r[1], r[2]) for r in c.execute("SELECT photo_id, cluster_id, manual FROM assignments")}
            reps = c.execute("SELECT cluster_id, rank, photo_id FROM representatives").fetchall()
            rep_sets: dict[int, set[int]] = {}
            for cid, _, pid in reps:
                rep_sets.setdefault(cid, set()).add(pid)
            for copy, keeper in copy_to_keeper.items():
                if copy == keeper or keeper in copy_to_keeper:
                    continue
                mine, theirs = assign.get(keeper), assign.get(copy)
                if theirs is not None and theirs[0] is not None and (
                        mine is None or (theirs[1] and not mine[1])):
                    c.execute("INSERT OR REPLACE INTO assignments(photo_id, cluster_id, probability, manual)"
                              " VALUES(?,?,1.0,?)", (keeper, theirs[0], int(theirs[1])))
                    assign[keeper] = theirs
                for cid, rank, pid in reps:
                    if pid == copy and keeper not in rep_sets.get(cid, set()) and \
                            assign.get(keeper, (None, 0))[0] == cid:
                        c.execute("UPDATE representatives SET photo_id=? WHERE cluster_id=? AND rank=?",
                                  (keeper, cid, rank))
                        rep_sets[cid].add(keeper)
            gone = [k for k, v in copy_to_keeper.items() if k != v]
            n = 0
            for part in _chunks(gone):
                marks = ",".join("?" * len(part))
                n += c.execute(f"DELETE FROM photos WHERE id IN ({marks})", part).rowcount
            return n

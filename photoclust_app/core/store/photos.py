"""Photos, their embeddings, thumbnails and skip reasons: what the index writes."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from photoclust_app.core.errors import LibraryError
from photoclust_app.core.records import Photo, PhotoMeta, PhotoRecord, Skip


def enc(relpath: str) -> bytes:
    return os.fsencode(relpath)


def dec(blob) -> str:
    if isinstance(blob, str):  # a hand-edited library may hold TEXT where BLOBs belong
        return blob
    return os.fsdecode(bytes(blob))


@dataclass(frozen=True)
class IndexedPhoto:
    """Everything one decode + embed produces for a photo, stored in one go."""

    record: PhotoRecord
    quick_hash: str
    meta: PhotoMeta
    thumbnail: bytes
    vector: np.ndarray
    colour: np.ndarray | None = None  # ingest/colour.py's histogram, when the decode made one
    from_preview: bool = False  # decoded from the file's embedded preview (ingest/refine.py)


@dataclass(frozen=True)
class FileState:
    photo_id: int
    size: int
    mtime_ns: int
    quick_hash: str


_PHOTO_COLS = "id, relpath, size, mtime_ns, width, height, taken_at"


class PhotoStore:
    """Mixin of Library: photo rows and what hangs off them."""

    def file_states(self) -> dict[str, FileState]:
        rows = self._q("SELECT relpath, id, size, mtime_ns, quick_hash FROM photos")
        return {dec(r[0]): FileState(r[1], r[2], r[3], r[4]) for r in rows}

    def skipped_states(self) -> dict[str, tuple[int, int, str]]:
        rows = self._q("SELECT relpath, size, mtime_ns, reason FROM skipped")
        return {dec(r[0]): (r[1], r[2], r[3]) for r in rows}

    def add_photos(self, items: Iterable[IndexedPhoto], model: str) -> list[int]:
        """Insert or refresh photos with their embedding and thumbnail, in one transaction.
        A photo already known by path keeps its id (and so its cluster and edits)."""
        ids = []
        now = time.time()
        with self.transaction() as c:
            for it in items:
                r, m = it.record, it.meta
                key = enc(r.relpath)
                pid = c.execute(
                    "INSERT INTO photos(relpath, size, mtime_ns, quick_hash, width, height, orientation,"
                    " taken_at, camera, added_at, taken_source) VALUES(?,?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT(relpath) DO UPDATE SET size=excluded.size, mtime_ns=excluded.mtime_ns,"
                    " quick_hash=excluded.quick_hash, width=excluded.width, height=excluded.height,"
                    " orientation=excluded.orientation, taken_at=excluded.taken_at, camera=excluded.camera, missing_since=NULL,"
                    " taken_source=excluded.taken_source"
                    " RETURNING id",
                    (key, r.size, r.mtime_ns, it.quick_hash, m.width, m.height, m.orientation,
                     m.taken_at, m.camera, now, m.taken_source),
                ).fetchone()[0]
                vec = np.ascontiguousarray(it.vector, dtype=np.float16)
                c.execute("INSERT OR REPLACE INTO embeddings(photo_id, model, vector, from_preview) VALUES(?,?,?,?)",
                          (pid, model, vec.tobytes(), int(it.from_preview)))
                c.execute("INSERT OR REPLACE INTO thumbnails(photo_id, jpeg) VALUES(?,?)", (pid, it.thumbnail))
                if it.colour is not None:
                    c.execute("INSERT OR REPLACE INTO colours(photo_id, hist) VALUES(?,?)",
                              (pid, np.ascontiguousarray(it.colour, dtype=np.float16).tobytes()))
                c.execute("DELETE FROM skipped WHERE relpath=?", (key,))
                ids.append(pid)
            if ids:  # embedding_version: a refreshed vector keeps its row, so count it here
                self._bump_generation(c)
        return ids

    @staticmethod
    def _bump_generation(c) -> None:
        c.execute("INSERT INTO meta(key, value) VALUES(?, '1') ON CONFLICT(key) DO UPDATE"
                  " SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)", (GENERATION_KEY,))

    def move_photo(self, photo_id: int, record: PhotoRecord) -> None:
        """A renamed/moved file: same content, new path; keeps embedding and edits."""
        with self.transaction() as c:
            c.execute("DELETE FROM skipped WHERE relpath=?", (enc(record.relpath),))
            c.execute("UPDATE photos SET relpath=?, size=?, mtime_ns=?, missing_since=NULL WHERE id=?",
                      (enc(record.relpath), record.size, record.mtime_ns, photo_id))

    def mark_missing(self, photo_ids: Iterable[int], when: float | None = None) -> None:
        """Photos a scan did not see: kept with their edits, shown as missing."""
        when = time.time() if when is None else when
        with self.transaction() as c:
            c.executemany("UPDATE photos SET missing_since=? WHERE id=? AND missing_since IS NULL",
                          [(when, int(p)) for p in photo_ids])

    def mark_present(self, photo_ids: Iterable[int]) -> None:
        with self.transaction() as c:
            c.executemany("UPDATE photos SET missing_since=NULL WHERE id=? AND missing_since IS NOT NULL",
                          [(int(p),) for p in photo_ids])

    def missing(self) -> dict[int, str]:
        """photo id -> relpath of every photo last seen missing."""
        return {r[0]: dec(r[1]) for r in self._q("SELECT id, relpath FROM photos WHERE missing_since IS NOT NULL")}

    def forget_missing(self, photo_ids: Iterable[int] | None = None) -> int:
        """Forget missing photos (all of them, or PHOTO_IDS among them), with their edits;
        only the user asks for this. Returns how many were forgotten."""
        with self.transaction() as c:
            if photo_ids is None:
                return c.execute("DELETE FROM photos WHERE missing_since IS NOT NULL").rowcount
            return sum(c.execute("DELETE FROM photos WHERE id=? AND missing_since IS NOT NULL", (int(p),)).rowcount
                       for p in photo_ids)

    def remove_photos(self, photo_ids: Iterable[int]) -> None:
        with self.transaction() as c:
            c.executemany("DELETE FROM photos WHERE id=?", [(int(p),) for p in photo_ids])

    def record_skips(self, skips: Iterable[tuple[PhotoRecord, str]]) -> None:
        with self.transaction() as c:
            for rec, reason in skips:
                key = enc(rec.relpath)
                c.execute("DELETE FROM photos WHERE relpath=?", (key,))
                c.execute("INSERT OR REPLACE INTO skipped(relpath, size, mtime_ns, reason) VALUES(?,?,?,?)",
                          (key, rec.size, rec.mtime_ns, reason))

    def forget_skips(self, relpaths: Iterable[str]) -> None:
        with self.transaction() as c:
            c.executemany("DELETE FROM skipped WHERE relpath=?", [(enc(p),) for p in relpaths])

    def skipped(self) -> list[Skip]:
        rows = self._q("SELECT relpath, reason FROM skipped ORDER BY relpath")
        return [Skip(dec(r[0]), str(r[1])) for r in rows]

    def photos(self) -> list[Photo]:
        return [_photo(r) for r in self._q(f"SELECT {_PHOTO_COLS} FROM photos ORDER BY id")]

    def photo(self, photo_id: int) -> Photo | None:
        r = self._q(f"SELECT {_PHOTO_COLS} FROM photos WHERE id=?", (photo_id,)).fetchone()
        return _photo(r) if r else None

    def relpaths(self) -> dict[int, str]:
        """photo id -> relpath, for every photo."""
        return {r[0]: dec(r[1]) for r in self._q("SELECT id, relpath FROM photos")}

    def photo_path(self, photo_id: int) -> Path:
        p = self.photo(photo_id)
        if p is None:
            raise LibraryError(f"Photo {photo_id} is not in the library.")
        return self.folder / p.relpath

    def count_photos(self) -> int:
        return self._q("SELECT COUNT(*) FROM photos").fetchone()[0]

    def count_embedded(self, model: str | None = None) -> int:
        model = model or self.model
        return self._q("SELECT COUNT(*) FROM embeddings WHERE model=?", (model,)).fetchone()[0]

    def photos_missing_embedding(self, model: str) -> list[int]:
        rows = self._q("SELECT id FROM photos WHERE id NOT IN (SELECT photo_id FROM embeddings WHERE model=?)",
                       (model,))
        return [r[0] for r in rows]

    def has_unclustered(self, model: str | None = None) -> bool:
        """True when some photo embedded with MODEL has never been clustered."""
        return self._q(
            "SELECT 1 FROM embeddings e WHERE e.model=? AND NOT EXISTS"
            " (SELECT 1 FROM assignments a WHERE a.photo_id=e.photo_id) LIMIT 1",
            (model or self.model,)).fetchone() is not None

    def count_unclustered(self, model: str | None = None) -> int:
        """How many photos embedded with MODEL were never clustered (new since the last run)."""
        return self._q("SELECT COUNT(*) FROM embeddings e WHERE e.model=? AND NOT EXISTS"
                       " (SELECT 1 FROM assignments a WHERE a.photo_id=e.photo_id)", (model or self.model,)).fetchone()[0]

    def preview_embedded(self, model: str | None = None) -> dict[int, tuple[str, int, int]]:
        """photo id -> (relpath, size, mtime_ns) of the present photos whose MODEL vector came
        from an embedded preview: what a refinement pass decodes in full."""
        rows = self._q("SELECT p.id, p.relpath, p.size, p.mtime_ns FROM embeddings e JOIN photos p ON p.id=e.photo_id"
                       " WHERE e.model=? AND e.from_preview=1 AND p.missing_since IS NULL ORDER BY p.relpath",
                       (model or self.model,))
        return {r[0]: (dec(r[1]), r[2], r[3]) for r in rows}

    def refine_vectors(self, items: Iterable[tuple[int, PhotoRecord, np.ndarray]], model: str) -> int:
        """Replace preview vectors by full-decode ones, only where the file is still the one the
        preview came from (same size and mtime) and the vector is still a preview's. Clusters,
        trees and placements are not touched: the new vectors count from the next re-cluster."""
        n = 0
        with self.transaction() as c:
            for pid, rec, vector in items:
                vec = np.ascontiguousarray(vector, dtype=np.float16)
                n += c.execute(
                    "UPDATE embeddings SET vector=?, from_preview=0 WHERE photo_id=? AND model=? AND from_preview=1"
                    " AND EXISTS (SELECT 1 FROM photos WHERE id=? AND size=? AND mtime_ns=?)",
                    (vec.tobytes(), int(pid), model, int(pid), rec.size, rec.mtime_ns)).rowcount
            if n:  # embedding_version: cached matrices (suggestions, assign-rest) reload
                self._bump_generation(c)
        return n

    def embedded_ids(self, model: str | None = None) -> np.ndarray:
        """Ids of the photos embedded with MODEL, ascending (the rows embedding_matrix returns)."""
        rows = self._q("SELECT photo_id FROM embeddings WHERE model=? ORDER BY photo_id", (model or self.model,))
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def embedding_matrix(self, model: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids, float32 vectors) for every photo embedded with MODEL, ordered by id."""
        model = model or self.model
        rows = self._q("SELECT photo_id, vector FROM embeddings WHERE model=? ORDER BY photo_id", (model,)).fetchall()
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        dim = len(rows[0][1]) // 2
        if all(len(r[1]) == 2 * dim for r in rows):  # one buffer, one conversion (100k: 0.2 s, not 2 s)
            vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float16).reshape(len(rows), dim)
            return ids, vecs.astype(np.float32)
        vecs = np.stack([np.frombuffer(r[1], dtype=np.float16) for r in rows]).astype(np.float32)
        return ids, vecs

    def embedding_version(self) -> tuple[int, str | None]:
        """(photo count, embedding write generation): changes whenever an embedding is added
        or refreshed (add_photos counts its writes) or removed (with its photo), for one count
        of the small photo rows, where comparing every id took 0.24 s at 100k photos and
        counting the embeddings' rows 0.1 s."""
        count = self._q("SELECT COUNT(*) FROM photos").fetchone()[0]
        return int(count), self.get_meta(GENERATION_KEY)

    def thumbnail(self, photo_id: int) -> bytes | None:
        row = self._q("SELECT jpeg FROM thumbnails WHERE photo_id=?", (photo_id,)).fetchone()
        return bytes(row[0]) if row and isinstance(row[0], (bytes, memoryview)) else None


GENERATION_KEY = "embeddings.generation"  # bumped by every add_photos


def _photo(r) -> Photo:
    return Photo(r[0], dec(r[1]), r[2], r[3], r[4], r[5], r[6])

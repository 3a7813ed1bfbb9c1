"""The photo library: one SQLite file per photo folder, the single store of truth.

Where it lives: ``FOLDER/.photoclust/library.sqlite`` so the library travels with the
photos; when FOLDER is read-only, ``<user data dir>/libraries/<name>-<hash>/library.sqlite``
(platformdirs). WAL mode, one transaction per batch: a kill loses at most the batch in
flight. One writer at a time, enforced by an flock on a lock file next to the database;
readers (``readonly=True``) never block and are never blocked.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from photoclust_app.core.errors import LibraryError, LibraryLocked
from photoclust_app.core.store.schema import check_readable, migrate
from photoclust_app.core.records import Cluster, Photo, PhotoMeta, PhotoRecord, Skip

log = logging.getLogger(__name__)

LIBRARY_DIRNAME = ".photoclust"
LIBRARY_FILENAME = "library.sqlite"


def _enc(relpath: str) -> bytes:
    return os.fsencode(relpath)


def _dec(blob: bytes) -> str:
    return os.fsdecode(bytes(blob))


def _fallback_dir(folder: Path) -> Path:
    from platformdirs import user_data_dir

    digest = hashlib.sha1(os.fsencode(str(folder))).hexdigest()[:12]
    return Path(user_data_dir("photoclust")) / "libraries" / f"{folder.name or 'root'}-{digest}"


def library_path_for(folder: Path) -> Path:
    """Where FOLDER's library is, or would be created."""
    folder = Path(folder).resolve()
    inside = folder / LIBRARY_DIRNAME / LIBRARY_FILENAME
    if inside.exists():
        return inside
    fallback = _fallback_dir(folder) / LIBRARY_FILENAME
    if fallback.exists() or not _writable(folder):
        return fallback
    return inside


def _writable(folder: Path) -> bool:
    """Writable, and not marked read-only: root may write anywhere, but a folder without
    write bits says its owner wants it left alone (a shared or archived photo set)."""
    try:
        return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & 0o222)
    except OSError:
        return False


@dataclass(frozen=True)
class IndexedPhoto:
    """Everything one decode + embed produces for a photo, stored in one go."""

    record: PhotoRecord
    quick_hash: str
    meta: PhotoMeta
    thumbnail: bytes
    vector: np.ndarray


@dataclass(frozen=True)
class FileState:
    photo_id: int
    size: int
    mtime_ns: int
    quick_hash: str


class Library:
    """A photo folder's library. Open with ``Library.open(folder)``; close when done."""

    def __init__(self, folder: Path, path: Path, conn: sqlite3.Connection, lock_fd: int | None,
                 readonly: bool = False):
        self.folder = folder
        self.path = path
        self.conn = conn
        self.readonly = readonly
        self._lock_fd = lock_fd
        # One connection serves the GUI thread and a worker; writers take turns here so one
        # thread never silently joins another's open transaction.
        self._tx_lock = threading.RLock()

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: str | os.PathLike, *, readonly: bool = False,
             location: str | os.PathLike | None = None, delegate: bool = False) -> "Library":
        """LOCATION overrides where the database file is (benchmarks use a temporary one).
        DELEGATE opens for writing without taking the writer lock: only for a helper process
        working on behalf of the process that holds it (the GUI's engine)."""
        folder = Path(folder).expanduser().resolve()
        if not folder.is_dir():
            raise LibraryError(f"{folder} is not a folder.")
        path = Path(location) if location is not None else library_path_for(folder)
        if readonly:
            if not path.exists():
                raise LibraryError(f"{folder} has not been indexed yet (no library at {path}).")
            conn = cls._connect(path, readonly=True)
            try:
                check_readable(conn, f"{folder} has not been indexed yet (its library at {path} is empty).")
            except BaseException:
                conn.close()
                raise
            return cls(folder, path, conn, None, readonly=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = None if delegate else cls._lock(path)
        try:
            conn = cls._connect(path, readonly=False)
            migrate(conn)
        except BaseException:
            if lock_fd is not None:
                os.close(lock_fd)
            raise
        lib = cls(folder, path, conn, lock_fd)
        if lib.get_meta("folder") is None:
            lib.set_meta("folder", str(folder))
        return lib

    @staticmethod
    def _lock(path: Path) -> int:
        import fcntl

        fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            who = f" (process {holder})" if holder else ""
            raise LibraryLocked(
                f"The library of this folder is in use by another photoclust{who}; "
                "it can be opened read-only until that one finishes."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        return fd

    @staticmethod
    def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
        try:
            if readonly:
                conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None,
                                       check_same_thread=False, timeout=10)
            else:
                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA user_version").fetchone()
        except sqlite3.DatabaseError as err:
            raise LibraryError(f"The library file {path} cannot be read ({err}).") from err
        return conn

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write; nests (inner blocks join the outer transaction)."""
        if self.readonly:
            raise LibraryError("This library is open read-only.")
        with self._tx_lock:
            if self.conn.in_transaction:
                yield self.conn
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    # -- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                      (key, value))

    @property
    def model(self) -> str | None:
        """The embedder the index was last built with; clustering uses its vectors."""
        return self.get_meta("model")

    # -- photos --------------------------------------------------------------------------
    def file_states(self) -> dict[str, FileState]:
        rows = self.conn.execute("SELECT relpath, id, size, mtime_ns, quick_hash FROM photos")
        return {_dec(r[0]): FileState(r[1], r[2], r[3], r[4]) for r in rows}

    def skipped_states(self) -> dict[str, tuple[int, int, str]]:
        rows = self.conn.execute("SELECT relpath, size, mtime_ns, reason FROM skipped")
        return {_dec(r[0]): (r[1], r[2], r[3]) for r in rows}

    def add_photos(self, items: Iterable[IndexedPhoto], model: str) -> list[int]:
        """Insert or refresh photos with their embedding and thumbnail, in one transaction.
        A photo already known by path keeps its id (and so its cluster and edits)."""
        ids = []
        now = time.time()
        with self.transaction() as c:
            for it in items:
                r, m = it.record, it.meta
                key = _enc(r.relpath)
                row = c.execute(
                    "INSERT INTO photos(relpath, size, mtime_ns, quick_hash, width, height, orientation,"
                    " taken_at, camera, added_at) VALUES(?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT(relpath) DO UPDATE SET size=excluded.size, mtime_ns=excluded.mtime_ns,"
                    " quick_hash=excluded.quick_hash, width=excluded.width, height=excluded.height,"
                    " orientation=excluded.orientation, taken_at=excluded.taken_at, camera=excluded.camera"
                    " RETURNING id",
                    (key, r.size, r.mtime_ns, it.quick_hash, m.width, m.height, m.orientation,
                     m.taken_at, m.camera, now),
                ).fetchone()
                pid = row[0]
                vec = np.ascontiguousarray(it.vector, dtype=np.float16)
                c.execute("INSERT OR REPLACE INTO embeddings(photo_id, model, vector) VALUES(?,?,?)",
                          (pid, model, vec.tobytes()))
                c.execute("INSERT OR REPLACE INTO thumbnails(photo_id, jpeg) VALUES(?,?)", (pid, it.thumbnail))
                c.execute("DELETE FROM skipped WHERE relpath=?", (key,))
                ids.append(pid)
        return ids

    def add_embeddings(self, photo_ids: Iterable[int], vectors: np.ndarray, model: str) -> None:
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO embeddings(photo_id, model, vector) VALUES(?,?,?)",
                [(int(p), model, np.asarray(v, dtype=np.float16).tobytes()) for p, v in zip(photo_ids, vectors)],
            )

    def move_photo(self, photo_id: int, record: PhotoRecord) -> None:
        """A renamed/moved file: same content, new path; keeps embedding and edits."""
        with self.transaction() as c:
            c.execute("DELETE FROM skipped WHERE relpath=?", (_enc(record.relpath),))
            c.execute("UPDATE photos SET relpath=?, size=?, mtime_ns=? WHERE id=?",
                      (_enc(record.relpath), record.size, record.mtime_ns, photo_id))

    def remove_photos(self, photo_ids: Iterable[int]) -> None:
        with self.transaction() as c:
            c.executemany("DELETE FROM photos WHERE id=?", [(int(p),) for p in photo_ids])

    def record_skips(self, skips: Iterable[tuple[PhotoRecord, str]]) -> None:
        with self.transaction() as c:
            for rec, reason in skips:
                key = _enc(rec.relpath)
                c.execute("DELETE FROM photos WHERE relpath=?", (key,))
                c.execute("INSERT OR REPLACE INTO skipped(relpath, size, mtime_ns, reason) VALUES(?,?,?,?)",
                          (key, rec.size, rec.mtime_ns, reason))

    def forget_skips(self, relpaths: Iterable[str]) -> None:
        with self.transaction() as c:
            c.executemany("DELETE FROM skipped WHERE relpath=?", [(_enc(p),) for p in relpaths])

    def skipped(self) -> list[Skip]:
        rows = self.conn.execute("SELECT relpath, reason FROM skipped ORDER BY relpath")
        return [Skip(_dec(r[0]), r[1]) for r in rows]

    def photos(self) -> list[Photo]:
        rows = self.conn.execute(
            "SELECT id, relpath, size, mtime_ns, width, height, taken_at FROM photos ORDER BY id")
        return [Photo(r[0], _dec(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    def photo(self, photo_id: int) -> Photo | None:
        r = self.conn.execute("SELECT id, relpath, size, mtime_ns, width, height, taken_at FROM photos WHERE id=?",
                              (photo_id,)).fetchone()
        return Photo(r[0], _dec(r[1]), r[2], r[3], r[4], r[5], r[6]) if r else None

    def photo_path(self, photo_id: int) -> Path:
        p = self.photo(photo_id)
        if p is None:
            raise LibraryError(f"Photo {photo_id} is not in the library.")
        return self.folder / p.relpath

    def count_photos(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM photos").fetchone()[0]

    def count_embedded(self, model: str | None = None) -> int:
        model = model or self.model
        return self.conn.execute("SELECT COUNT(*) FROM embeddings WHERE model=?", (model,)).fetchone()[0]

    def photos_missing_embedding(self, model: str) -> list[int]:
        rows = self.conn.execute(
            "SELECT id FROM photos WHERE id NOT IN (SELECT photo_id FROM embeddings WHERE model=?)", (model,))
        return [r[0] for r in rows]

    def embedding_matrix(self, model: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids, float32 vectors) for every photo embedded with MODEL, ordered by id."""
        model = model or self.model
        rows = self.conn.execute(
            "SELECT photo_id, vector FROM embeddings WHERE model=? ORDER BY photo_id", (model,)).fetchall()
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vecs = np.stack([np.frombuffer(r[1], dtype=np.float16) for r in rows]).astype(np.float32)
        return ids, vecs

    def thumbnail(self, photo_id: int) -> bytes | None:
        row = self.conn.execute("SELECT jpeg FROM thumbnails WHERE photo_id=?", (photo_id,)).fetchone()
        return bytes(row[0]) if row else None

    # -- clusters ------------------------------------------------------------------------
    def clusters(self) -> list[Cluster]:
        """Every cluster with its size and representatives, largest first."""
        sizes = dict(self.conn.execute(
            "SELECT cluster_id, COUNT(*) FROM assignments WHERE cluster_id IS NOT NULL GROUP BY cluster_id"))
        reps: dict[int, list[int]] = {}
        for cid, pid in self.conn.execute("SELECT cluster_id, photo_id FROM representatives ORDER BY cluster_id, rank"):
            reps.setdefault(cid, []).append(pid)
        out = [Cluster(r[0], r[1], r[2], bool(r[3]), sizes.get(r[0], 0), reps.get(r[0], []))
               for r in self.conn.execute("SELECT id, name, suggested_name, user_named FROM clusters")]
        out.sort(key=lambda c: (-c.size, c.id))
        return out

    def cluster(self, cluster_id: int) -> Cluster | None:
        return next((c for c in self.clusters() if c.id == cluster_id), None)

    def assignments(self) -> dict[int, int | None]:
        """photo id -> cluster id (None: Unsorted). Photos never clustered are absent."""
        return dict(self.conn.execute("SELECT photo_id, cluster_id FROM assignments"))

    def cluster_members(self, cluster_id: int | None) -> list[int]:
        """Photo ids in a cluster; None means Unsorted, including photos not clustered yet."""
        if cluster_id is None:
            rows = self.conn.execute(
                "SELECT id FROM photos WHERE id NOT IN (SELECT photo_id FROM assignments WHERE cluster_id IS NOT NULL)"
                " ORDER BY id")
        else:
            rows = self.conn.execute(
                "SELECT photo_id FROM assignments WHERE cluster_id=? ORDER BY photo_id", (cluster_id,))
        return [r[0] for r in rows]

    def cluster_paths(self) -> tuple[list[tuple[str, list[Path]]], list[Path]]:
        """(display name, absolute member paths) per non-empty cluster, largest first, and the
        Unsorted paths: what an export needs. One photos query, not one per photo."""
        paths = {p.id: self.folder / p.relpath for p in self.photos()}
        groups = []
        for c in self.clusters():
            members = [paths[i] for i in self.cluster_members(c.id) if i in paths]
            if members:
                groups.append((c.display_name, members))
        return groups, [paths[i] for i in self.cluster_members(None) if i in paths]

    def count_unsorted(self) -> int:
        return self.conn.execute(
            "SELECT COUNT(*) FROM photos WHERE id NOT IN"
            " (SELECT photo_id FROM assignments WHERE cluster_id IS NOT NULL)").fetchone()[0]

    def create_cluster(self, name: str = "", suggested_name: str = "", cluster_id: int | None = None) -> int:
        with self.transaction() as c:
            cur = c.execute("INSERT INTO clusters(id, name, suggested_name, user_named, created_at) VALUES(?,?,?,?,?)",
                            (cluster_id, name, suggested_name, int(bool(name)), time.time()))
            return cur.lastrowid

    def rename_cluster(self, cluster_id: int, name: str) -> None:
        """A user's name wins over suggestions; an empty name goes back to the suggestion."""
        name = name.strip()
        with self.transaction() as c:
            c.execute("UPDATE clusters SET name=?, user_named=? WHERE id=?", (name, int(bool(name)), cluster_id))

    def delete_cluster(self, cluster_id: int) -> None:
        """Members go to Unsorted (ON DELETE SET NULL)."""
        with self.transaction() as c:
            c.execute("DELETE FROM clusters WHERE id=?", (cluster_id,))

    def assign(self, photo_ids: Iterable[int], cluster_id: int | None, *, manual: bool = True,
               probability: float = 1.0) -> None:
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO assignments(photo_id, cluster_id, probability, manual) VALUES(?,?,?,?)",
                [(int(p), cluster_id, probability, int(manual)) for p in photo_ids])

    def assignment_rows(self, photo_ids: Iterable[int]) -> list[tuple[int, int | None, float, int] | tuple[int]]:
        """Snapshot for undo: (photo, cluster, probability, manual), or (photo,) when it had no row."""
        out = []
        for p in photo_ids:
            r = self.conn.execute("SELECT photo_id, cluster_id, probability, manual FROM assignments WHERE photo_id=?",
                                  (int(p),)).fetchone()
            out.append(tuple(r) if r else (int(p),))
        return out

    def restore_assignment_rows(self, rows: Iterable[tuple]) -> None:
        with self.transaction() as c:
            for r in rows:
                if len(r) == 1:
                    c.execute("DELETE FROM assignments WHERE photo_id=?", r)
                else:
                    c.execute("INSERT OR REPLACE INTO assignments(photo_id, cluster_id, probability, manual)"
                              " VALUES(?,?,?,?)", r)

    def cluster_row(self, cluster_id: int) -> tuple | None:
        """Snapshot of one cluster row for undo."""
        return self.conn.execute("SELECT id, name, suggested_name, user_named, created_at FROM clusters WHERE id=?",
                                 (cluster_id,)).fetchone()

    def restore_cluster_row(self, row: tuple) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO clusters(id, name, suggested_name, user_named, created_at)"
                      " VALUES(?,?,?,?,?)", row)

    def set_representatives(self, cluster_id: int, photo_ids: Iterable[int]) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM representatives WHERE cluster_id=?", (cluster_id,))
            c.executemany("INSERT INTO representatives(cluster_id, rank, photo_id) VALUES(?,?,?)",
                          [(cluster_id, i, int(p)) for i, p in enumerate(photo_ids)])

    # -- layout and clustering runs ------------------------------------------------------
    def layout(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self.conn.execute("SELECT photo_id, x, y FROM layout ORDER BY photo_id").fetchall()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        xy = np.array([(r[1], r[2]) for r in rows], dtype=np.float32).reshape(-1, 2)
        return ids, xy

    def set_layout(self, photo_ids: np.ndarray, xy: np.ndarray) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM layout")
            c.executemany("INSERT INTO layout(photo_id, x, y) VALUES(?,?,?)",
                          [(int(p), float(x), float(y)) for p, (x, y) in zip(photo_ids, xy)])

    def record_clustering(self, model: str, n_photos: int, params: dict, metrics: dict) -> int:
        with self.transaction() as c:
            cur = c.execute("INSERT INTO clusterings(created_at, model, n_photos, params, metrics) VALUES(?,?,?,?,?)",
                            (time.time(), model, n_photos, json.dumps(params), json.dumps(metrics)))
            return cur.lastrowid

    def last_clustering(self) -> dict | None:
        r = self.conn.execute(
            "SELECT id, created_at, model, n_photos, params, metrics FROM clusterings ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if not r:
            return None
        return {"id": r[0], "created_at": r[1], "model": r[2], "n_photos": r[3],
                "params": json.loads(r[4]), "metrics": json.loads(r[5])}

    # -- whole-state snapshots (undo of recluster / split) --------------------------------
    def clustering_snapshot(self) -> dict:
        """Everything a re-clustering may change, to put back on undo."""
        q = self.conn.execute
        return {
            "clusters": q("SELECT id, name, suggested_name, user_named, created_at FROM clusters").fetchall(),
            "assignments": q("SELECT photo_id, cluster_id, probability, manual FROM assignments").fetchall(),
            "representatives": q("SELECT cluster_id, rank, photo_id FROM representatives").fetchall(),
        }

    def restore_clustering_snapshot(self, snap: dict) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM representatives")
            c.execute("DELETE FROM assignments")
            c.execute("DELETE FROM clusters")
            c.executemany("INSERT INTO clusters(id, name, suggested_name, user_named, created_at) VALUES(?,?,?,?,?)",
                          snap["clusters"])
            live = {r[0] for r in c.execute("SELECT id FROM photos")}
            c.executemany("INSERT INTO assignments(photo_id, cluster_id, probability, manual) VALUES(?,?,?,?)",
                          [r for r in snap["assignments"] if r[0] in live])
            c.executemany("INSERT INTO representatives(cluster_id, rank, photo_id) VALUES(?,?,?)",
                          [r for r in snap["representatives"] if r[2] in live])

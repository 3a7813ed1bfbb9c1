"""Opening a library: the writer lock, the SQLite connection, transactions and meta.

One connection per Library object and per thread: SQLite's own same-thread check is on,
so handing a Library to another thread fails loudly instead of letting two threads share
one transaction. A thread that needs to read opens its own (``reader()``), and reads that
must agree with each other run inside ``snapshot()`` (one read transaction: in WAL mode it
sees one consistent state whatever a writer commits meanwhile).
"""
from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path
from typing import Iterator

from photoclust_app.core.errors import LibraryError, LibraryLocked
from photoclust_app.core.store.location import library_path_for
from photoclust_app.core.store.schema import check_readable, migrate

log = logging.getLogger(__name__)


class Connection:
    """The connection half of a Library; the data methods live in the mixins beside it."""

    def __init__(self, folder: Path, path: Path, conn: sqlite3.Connection, lock_fd: int | None,
                 readonly: bool = False):
        self.folder = folder
        self.path = path
        self._conn = conn
        self.readonly = readonly
        self._lock_fd = lock_fd

    @classmethod
    def open(cls, folder: str | os.PathLike, *, readonly: bool = False,
             location: str | os.PathLike | None = None, delegate: bool = False):
        """LOCATION overrides where the database file is (benchmarks use a temporary one).
        DELEGATE opens for writing without taking the writer lock: only for a helper process
        working on behalf of the process that holds it (the GUI's engine)."""
        folder = Path(folder).expanduser().resolve()
        if not folder.is_dir():
            raise LibraryError(f"{folder} is not a folder.")
        path = Path(location) if location is not None else library_path_for(folder)
        if readonly:
            return cls._open_reader(folder, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = None if delegate else _lock(path)
        try:
            conn = _connect(path, readonly=False)
            try:
                migrate(conn)
            except sqlite3.DatabaseError as err:
                from photoclust_app.core.store.damage import library_error

                conn.close()
                raise library_error(err, path, folder) from err
        except BaseException:
            if lock_fd is not None:
                os.close(lock_fd)
            raise
        lib = cls(folder, path, conn, lock_fd)
        if lib.get_meta("folder") is None:
            lib.set_meta("folder", str(folder))
        return lib

    @classmethod
    def _open_reader(cls, folder: Path, path: Path):
        if not path.exists():
            raise LibraryError(f"{folder} has not been indexed yet (no library at {path}).")
        conn = _connect(path, readonly=True)
        try:
            check_readable(conn, f"{folder} has not been indexed yet (its library at {path} is empty).")
        except BaseException:
            conn.close()
            raise
        return cls(folder, path, conn, None, readonly=True)

    def reader(self):
        """A new read-only Library on the same file, for another thread (close it there)."""
        return type(self)._open_reader(self.folder, self.path)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- transactions --------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write; nests (inner blocks join the outer transaction)."""
        if self.readonly:
            raise LibraryError("This library is open read-only.")
        if self._conn.in_transaction:
            yield self._conn
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """Several reads that see one committed state (joins a transaction already open)."""
        if self._conn.in_transaction:
            yield self._conn
            return
        self._conn.execute("BEGIN DEFERRED")
        try:
            yield self._conn
        finally:
            self._conn.execute("ROLLBACK")  # it wrote nothing

    def _q(self, sql: str, params=()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    # -- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self._q("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row and isinstance(row[0], str) else default

    def set_meta(self, key: str, value: str | None) -> None:
        """Set (or with None, remove) one setting."""
        with self.transaction() as c:
            if value is None:
                c.execute("DELETE FROM meta WHERE key=?", (key,))
            else:
                c.execute("INSERT INTO meta(key, value) VALUES(?, ?)"
                          " ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, str(value)))

    @property
    def model(self) -> str | None:
        """The embedder the index was last built with; clustering uses its vectors."""
        return self.get_meta("model")


@contextlib.contextmanager
def hold_writer_lock(path: Path) -> Iterator[None]:
    """Hold the library's writer lock without opening it (to move a damaged file aside)."""
    fd = _lock(path)
    try:
        yield
    finally:
        os.close(fd)


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


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    try:
        if readonly:
            conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=10)
        else:
            conn = sqlite3.connect(path, isolation_level=None, timeout=10)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA user_version").fetchone()
    except sqlite3.DatabaseError as err:
        from photoclust_app.core.store.damage import library_error

        raise library_error(err, path) from err
    return conn

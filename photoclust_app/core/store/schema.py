"""SQLite schema of a photo library and its migrations (PRAGMA user_version).

Paths are stored as BLOBs of os.fsencode(relpath) so file names with invalid UTF-8
bytes survive the round trip; everything else is plain SQL types.
"""
from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 1

_V1 = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE photos(
    id INTEGER PRIMARY KEY,
    relpath BLOB NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    quick_hash TEXT NOT NULL,
    width INTEGER NOT NULL DEFAULT 0,
    height INTEGER NOT NULL DEFAULT 0,
    orientation INTEGER NOT NULL DEFAULT 1,
    taken_at TEXT,
    camera TEXT,
    added_at REAL NOT NULL
);
CREATE INDEX photos_quick_hash ON photos(quick_hash);
CREATE TABLE embeddings(
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY(photo_id, model)
) WITHOUT ROWID;
CREATE TABLE thumbnails(
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    jpeg BLOB NOT NULL
);
CREATE TABLE skipped(
    relpath BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE clusters(
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    suggested_name TEXT NOT NULL DEFAULT '',
    user_named INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE assignments(
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    cluster_id INTEGER REFERENCES clusters(id) ON DELETE SET NULL,
    probability REAL NOT NULL DEFAULT 0,
    manual INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX assignments_cluster ON assignments(cluster_id);
CREATE TABLE representatives(
    cluster_id INTEGER NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
    rank INTEGER NOT NULL,
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    PRIMARY KEY(cluster_id, rank)
);
CREATE TABLE layout(
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    x REAL NOT NULL,
    y REAL NOT NULL
);
CREATE TABLE clusterings(
    id INTEGER PRIMARY KEY,
    created_at REAL NOT NULL,
    model TEXT NOT NULL,
    n_photos INTEGER NOT NULL,
    params TEXT NOT NULL,
    metrics TEXT NOT NULL
);
"""

# Index i upgrades a library from user_version i to i + 1.
MIGRATIONS: list[str] = [_V1]


def _newer(version: int) -> Exception:
    from photoclust_app.core.errors import LibraryError

    return LibraryError(
        f"This library was written by a newer photoclust (schema {version}); "
        f"this version reads schema {SCHEMA_VERSION} at most. Please upgrade photoclust."
    )


def check_readable(conn: sqlite3.Connection, empty_message: str) -> None:
    """A read-only open cannot migrate: refuse a library whose creation never finished (a
    writer killed before its first commit leaves schema 0, i.e. no tables) or of another schema."""
    from photoclust_app.core.errors import LibraryError

    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == 0:
        raise LibraryError(empty_message)
    if version > SCHEMA_VERSION:
        raise _newer(version)
    if version < SCHEMA_VERSION:
        raise LibraryError("This library was written by an older photoclust; index the folder once to upgrade it.")


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema to SCHEMA_VERSION, one transaction per step."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise _newer(version)
    for step in range(version, SCHEMA_VERSION):
        try:
            conn.executescript(
                "BEGIN IMMEDIATE;" + MIGRATIONS[step] + f"PRAGMA user_version = {step + 1}; COMMIT;"
            )
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

"""SQLite schema of a photo library and its migrations (PRAGMA user_version).

Paths are stored as BLOBs of os.fsencode(relpath) so file names with invalid UTF-8
bytes survive the round trip; everything else is plain SQL types. Photo and cluster ids
are AUTOINCREMENT (schema 2): an id is never handed out twice, so an undo entry or a
constraint that names photo 7 can never reach a different photo that later took its id.
"""
from __future__ import annotations

import sqlite3

from photoclust_app.core.errors import LibraryDamaged, LibraryError

SCHEMA_VERSION = 7

_PHOTOS = """CREATE TABLE {name}(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    relpath BLOB NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    quick_hash TEXT NOT NULL,
    width INTEGER NOT NULL DEFAULT 0,
    height INTEGER NOT NULL DEFAULT 0,
    orientation INTEGER NOT NULL DEFAULT 1,
    taken_at TEXT,
    camera TEXT,
    added_at REAL NOT NULL{extra}
);"""
_CLUSTERS = """CREATE TABLE {name}(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL DEFAULT '',
    suggested_name TEXT NOT NULL DEFAULT '',
    user_named INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL{extra}
);"""

_V1 = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
""" + _PHOTOS.format(name="photos", extra="").replace(" AUTOINCREMENT", "") + """
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
""" + _CLUSTERS.format(name="clusters", extra="").replace(" AUTOINCREMENT", "") + """
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

# Rebuild photos and clusters with AUTOINCREMENT (SQLite cannot ALTER it in); the tables that
# reference them name them, so they follow the rename. clusters.alternatives: other names worth offering
# (JSON list). photos.missing_since: a photo a scan did not see is missing, not deleted (its edits stay until the user forgets it). Then the
# edit history.
_V2 = (_PHOTOS.format(name="photos_v2", extra=",\n    missing_since REAL") + """
INSERT INTO photos_v2 SELECT id, relpath, size, mtime_ns, quick_hash, width, height, orientation, taken_at,
    camera, added_at, NULL FROM photos;
DROP TABLE photos;
ALTER TABLE photos_v2 RENAME TO photos;
CREATE INDEX photos_quick_hash ON photos(quick_hash);
""" + _CLUSTERS.format(name="clusters_v2", extra=",\n    alternatives TEXT NOT NULL DEFAULT '[]'") + """
INSERT INTO clusters_v2 SELECT id, name, suggested_name, user_named, created_at, '[]' FROM clusters;
DROP TABLE clusters;
ALTER TABLE clusters_v2 RENAME TO clusters;
CREATE TABLE history(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    created_at REAL NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL,
    diff BLOB NOT NULL
);
""")

# The cluster hierarchy of recent clustering runs (clustering/hierarchy.py): every granularity
# of a run is a cut of its tree, so the slider and "exactly N" never refit. The meta key
# cluster.tree names the tree the current clusters came from (history restores it on undo).
_V3 = """
CREATE TABLE cluster_trees(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at REAL NOT NULL,
    model TEXT NOT NULL,
    photo_ids BLOB NOT NULL,
    reduced BLOB NOT NULL,
    dims INTEGER NOT NULL,
    tree BLOB NOT NULL
);
"""

# kept_out: the clusters a photo was moved out of by hand ("not this one": a cannot-link, JSON
# list of cluster ids). review: new photos placed with low confidence, waiting for the user.
_V4 = """
CREATE TABLE kept_out(
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    clusters TEXT NOT NULL
);
CREATE TABLE review(
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    cluster_id INTEGER REFERENCES clusters(id) ON DELETE SET NULL,
    confidence REAL NOT NULL,
    added_at REAL NOT NULL
);
"""

# What the duplicate finder learns about a photo's file (core/dedupe): the full content hash,
# a perceptual hash and a sharpness figure of the thumbnail, each valid only while the photo's
# size and mtime are the ones recorded here; computed lazily, only for candidates. And the
# last duplicate groups found (identical and near-identical), which export and the mosaic honour.
_V5 = """
CREATE TABLE photo_facts(
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT,
    phash TEXT,
    sharpness REAL
);
CREATE TABLE duplicate_members(
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    keeper INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX duplicate_members_group ON duplicate_members(group_id);
"""

# Search (issue 11): which EXIF tag the capture time came from (NULL: none, the file time is
# used; or a library indexed before this step), and a small colour histogram per photo
# (float16; layout in core/ingest/colour.py; another layout's length is recomputed), filled at index time or from the thumbnails.
_V6 = """
ALTER TABLE photos ADD COLUMN taken_source TEXT;
CREATE TABLE colours(
    photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    hist BLOB NOT NULL
);
"""

# Two-pass indexing (ingest/refine.py): 1 when a vector was embedded from the file's embedded
# preview (a first pass over a large folder), 0 from the full decode; a refinement replaces the
# vector in place and clears the flag, so clusters made from preview vectors are never redone by it.
_V7 = """
ALTER TABLE embeddings ADD COLUMN from_preview INTEGER NOT NULL DEFAULT 0;
"""

# Index i upgrades a library from user_version i to i + 1.
MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4, _V5, _V6, _V7]


def _newer(version: int) -> LibraryError:
    return LibraryError(
        f"This library was written by a newer photoclust (schema {version}); "
        f"this version reads schema {SCHEMA_VERSION} at most. Please upgrade photoclust."
    )


def check_readable(conn: sqlite3.Connection, empty_message: str) -> None:
    """A read-only open cannot migrate: refuse a library whose creation never finished (a
    writer killed before its first commit leaves schema 0, i.e. no tables) or of another schema."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == 0:
        raise LibraryError(empty_message)
    if version > SCHEMA_VERSION:
        raise _newer(version)
    if version < SCHEMA_VERSION:
        raise LibraryError("This library was written by an older photoclust; index the folder once to upgrade it.")


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema to SCHEMA_VERSION, one transaction per step. Foreign keys are off
    during a step (a table rebuild drops the referenced table) and checked before commit."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise _newer(version)
    if version < 0:
        raise LibraryDamaged(f"This library's schema number ({version}) is not one photoclust wrote: the file is "
                             "damaged. Run `photoclust repair FOLDER` to move it aside (it is kept) and index again.")
    if version == SCHEMA_VERSION:
        return
    conn.execute("PRAGMA foreign_keys=OFF")
    try:
        for step in range(version, SCHEMA_VERSION):
            try:
                conn.executescript("BEGIN IMMEDIATE;" + MIGRATIONS[step])
                if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                    raise LibraryDamaged("The library's tables do not agree with each other: the file is damaged. "
                                         "Run `photoclust repair FOLDER` to move it aside (it is kept) and index again.")
                conn.execute(f"PRAGMA user_version = {step + 1}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
    finally:
        conn.execute("PRAGMA foreign_keys=ON")

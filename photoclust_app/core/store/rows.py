"""Row-level reads and writes of the tables an edit can change, keyed the way the history
keys them: clusters and representatives by cluster id, assignments and layout by photo id,
meta by key. A row is a list of plain values (or None: no row), so it survives JSON and
compares equal to itself after a round trip (lists both ways, never tuples)."""
from __future__ import annotations

import sqlite3
from typing import Iterable

from photoclust_app.core.store.clusters import ASSIGNMENT_COLS, CLUSTER_COLS

TABLES = ("clusters", "assignments", "representatives", "layout", "meta", "kept_out", "review")
_CHUNK = 500  # keys per IN (...) query, under SQLite's variable limit


def _chunks(keys: list) -> Iterable[list]:
    for i in range(0, len(keys), _CHUNK):
        yield keys[i:i + _CHUNK]


def read_rows(c: sqlite3.Connection, table: str, keys: Iterable | None = None) -> dict:
    """key -> row for KEYS (every key when None); keys without a row map to None."""
    if table == "representatives":
        return _read_reps(c, keys)
    sql, key_col = _SELECT[table]
    out: dict = {}
    if keys is None:
        for r in c.execute(sql):
            out[r[0]] = list(r[1:]) if table in _VALUE_ONLY else list(r)
        return out
    keys = list(dict.fromkeys(keys))
    for part in _chunks(keys):
        marks = ",".join("?" * len(part))
        for r in c.execute(f"{sql} WHERE {key_col} IN ({marks})", part):
            out[r[0]] = list(r[1:]) if table in _VALUE_ONLY else list(r)
    return {k: out.get(k) for k in keys}


def _read_reps(c: sqlite3.Connection, keys) -> dict:
    out: dict = {}
    if keys is None:
        rows = c.execute("SELECT cluster_id, photo_id FROM representatives ORDER BY cluster_id, rank").fetchall()
    else:
        keys = list(dict.fromkeys(keys))
        rows = []
        for part in _chunks(keys):
            marks = ",".join("?" * len(part))
            rows += c.execute(f"SELECT cluster_id, photo_id FROM representatives WHERE cluster_id IN ({marks})"
                              " ORDER BY cluster_id, rank", part).fetchall()
    for cid, pid in rows:
        out.setdefault(cid, []).append(pid)
    return out if keys is None else {k: out.get(k) for k in keys}


_VALUE_ONLY = ("meta", "layout", "kept_out", "review")
_SELECT = {
    "kept_out": ("SELECT photo_id, clusters FROM kept_out", "photo_id"),
    "review": ("SELECT photo_id, cluster_id, confidence, added_at FROM review", "photo_id"),
    "clusters": (f"SELECT {CLUSTER_COLS} FROM clusters", "id"),
    "assignments": (f"SELECT {ASSIGNMENT_COLS} FROM assignments", "photo_id"),
    "layout": ("SELECT photo_id, x, y FROM layout", "photo_id"),
    "meta": ("SELECT key, value FROM meta", "key"),
}


def write_rows(c: sqlite3.Connection, rows: dict[str, dict]) -> None:
    """Make each key's row what ROWS says (None: delete it). Rows that name a photo or a
    cluster that is no longer there are left out: the photo left the library since."""
    photos = {r[0] for r in c.execute("SELECT id FROM photos")} if any(
        rows.get(t) for t in ("assignments", "representatives", "layout", "kept_out", "review")) else set()
    clusters = rows.get("clusters", {})
    up = [r for r in clusters.values() if r is not None]
    # An upsert, not INSERT OR REPLACE: REPLACE deletes the row first, and the foreign key's
    # ON DELETE SET NULL would then send every member of the cluster to Unsorted.
    c.executemany(f"INSERT INTO clusters({CLUSTER_COLS}) VALUES(?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET"
                  " name=excluded.name, suggested_name=excluded.suggested_name, user_named=excluded.user_named,"
                  " created_at=excluded.created_at, alternatives=excluded.alternatives", up)
    c.executemany("DELETE FROM clusters WHERE id=?", [(k,) for k, r in clusters.items() if r is None])
    live_clusters = {r[0] for r in c.execute("SELECT id FROM clusters")} if (
        rows.get("assignments") or rows.get("representatives")) else set()
    live_review = {r[0] for r in c.execute("SELECT id FROM clusters")} if rows.get("review") else set()
    assigns = rows.get("assignments", {})
    c.executemany("DELETE FROM assignments WHERE photo_id=?", [(k,) for k, r in assigns.items() if r is None])
    c.executemany(f"INSERT OR REPLACE INTO assignments({ASSIGNMENT_COLS}) VALUES(?,?,?,?)",
                  [r for r in assigns.values() if r is not None and r[0] in photos
                   and (r[1] is None or r[1] in live_clusters)])
    for cid, pids in rows.get("representatives", {}).items():
        c.execute("DELETE FROM representatives WHERE cluster_id=?", (cid,))
        if pids and cid in live_clusters:
            c.executemany("INSERT OR IGNORE INTO representatives(cluster_id, rank, photo_id) VALUES(?,?,?)",
                          [(cid, i, p) for i, p in enumerate(p for p in pids if p in photos)])
    layout = rows.get("layout", {})
    c.executemany("DELETE FROM layout WHERE photo_id=?", [(k,) for k, r in layout.items() if r is None])
    c.executemany("INSERT OR REPLACE INTO layout(photo_id, x, y) VALUES(?,?,?)",
                  [(k, r[0], r[1]) for k, r in layout.items() if r is not None and k in photos])
    kept = rows.get("kept_out", {})
    c.executemany("DELETE FROM kept_out WHERE photo_id=?", [(k,) for k, r in kept.items() if r is None])
    c.executemany("INSERT OR REPLACE INTO kept_out(photo_id, clusters) VALUES(?,?)",
                  [(k, r[0]) for k, r in kept.items() if r is not None and k in photos])
    review = rows.get("review", {})
    c.executemany("DELETE FROM review WHERE photo_id=?", [(k,) for k, r in review.items() if r is None])
    c.executemany("INSERT OR REPLACE INTO review(photo_id, cluster_id, confidence, added_at) VALUES(?,?,?,?)",
                  [(k, r[0] if r[0] in live_review else None, r[1], r[2]) for k, r in review.items()
                   if r is not None and k in photos])
    meta = rows.get("meta", {})
    c.executemany("DELETE FROM meta WHERE key=?", [(k,) for k, r in meta.items() if r is None])
    c.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES(?,?)",
                  [(k, r[0]) for k, r in meta.items() if r is not None])

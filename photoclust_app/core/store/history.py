"""The edit history, kept in the library: every edit is a recorded row diff.

An edit runs inside ``Library.record(text)``: the recorder captures the rows the edit
declares it will touch before it runs, and the same rows after; the changed ones are
stored (zlib-compressed JSON) in the same transaction as the edit. Undo writes the
"before" rows back, redo the "after" rows, each in one transaction that also flips the
entry's state, so a failure leaves both the data and the history as they were.

Why diffs rather than closures or snapshots: they survive a restart of the window and are
shared with the command line (``photoclust undo FOLDER``); a re-cluster stores only the
rows it changed; and they can be checked against the library before they are applied.
That check is the revalidation: a key whose current row is no longer what the entry left
(its photo was removed by a re-index, say) is left alone and counted as a conflict, so an
undo never reaches a photo or a cluster it did not change. Ids are never reused (schema 2),
so a key always means the same photo or cluster.
"""
from __future__ import annotations

import contextlib
import json
import time
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from photoclust_app.core.errors import LibraryError
from photoclust_app.core.store.rows import TABLES, read_rows, write_rows

MAX_ENTRIES = 200
MAX_BYTES = 64 * 2**20  # compressed diffs kept, all entries together


@dataclass
class Diff:
    """table -> key -> (before row, after row), only keys whose row changed."""

    tables: dict[str, dict] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any(self.tables.values())

    def side(self, index: int) -> dict[str, dict]:
        """table -> key -> row, of the before (0) or after (1) side."""
        return {t: {k: pair[index] for k, pair in rows.items()} for t, rows in self.tables.items()}

    def encode(self) -> bytes:
        data = {t: [[k, b, a] for k, (b, a) in rows.items()] for t, rows in self.tables.items() if rows}
        return zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 1)

    @classmethod
    def decode(cls, blob) -> "Diff":
        try:
            data = json.loads(zlib.decompress(bytes(blob)))
            return cls({t: {k: (b, a) for k, b, a in data.get(t, [])} for t in TABLES if t in data})
        except (TypeError, ValueError, zlib.error) as err:
            raise LibraryError("An entry of the library's edit history is damaged; "
                               "clear the history to go on.") from err


class Recorder:
    """Collects what one edit touches. ``touch`` before changing rows, ``created`` for rows
    the edit makes (their "before" is no row)."""

    def __init__(self, conn):
        self._c = conn
        self._before: dict[str, dict] = {t: {} for t in TABLES}
        self._whole: set[str] = set()  # tables touched in full (a re-cluster)
        self.diff = Diff()

    def touch(self, table: str, keys: Iterable | None = None) -> None:
        """Remember the current rows of KEYS (every row of TABLE when None) as "before"."""
        seen = self._before[table]
        if keys is None:
            current = read_rows(self._c, table)
            for k, row in current.items():
                seen.setdefault(k, row)
            self._whole.add(table)
            return
        new = [k for k in keys if k not in seen]
        if new:
            seen.update(read_rows(self._c, table, new))

    def created(self, table: str, keys: Iterable) -> None:
        for k in keys:
            self._before[table].setdefault(k, None)

    def finish(self) -> Diff:
        tables = {}
        for t, before in self._before.items():
            if t in self._whole:
                after = read_rows(self._c, t)
                keys = set(before) | set(after)
                after = {k: after.get(k) for k in keys}
                before = {k: before.get(k) for k in keys}
            elif before:
                after = read_rows(self._c, t, list(before))
            else:
                continue
            changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
            if changed:
                tables[t] = changed
        self.diff = Diff(tables)
        return self.diff


@dataclass
class Applied:
    """What an undo or redo wrote: the entry's text, the rows now in place, and how many
    keys were left alone because the library changed under them since."""

    text: str
    rows: dict[str, dict]
    conflicts: int = 0


class HistoryStore:
    """Mixin of Library: record, undo, redo, and what the Edit menu shows."""

    @contextlib.contextmanager
    def record(self, text: str) -> Iterator[Recorder]:
        """Run an edit and record it as one undoable entry (nothing is recorded when it
        changed nothing). The edit and its entry commit together."""
        with self.transaction() as c:
            rec = Recorder(c)
            yield rec
            diff = rec.finish()
            if diff:
                blob = diff.encode()
                c.execute("DELETE FROM history WHERE undone=1")
                c.execute("INSERT INTO history(text, created_at, undone, size, diff) VALUES(?,?,0,?,?)",
                          (text, time.time(), len(blob), blob))
                _trim(c)

    def undo_text(self) -> str:
        r = self._q("SELECT text FROM history WHERE undone=0 ORDER BY id DESC LIMIT 1").fetchone()
        return str(r[0]) if r else ""

    def redo_text(self) -> str:
        r = self._q("SELECT text FROM history WHERE undone=1 ORDER BY id LIMIT 1").fetchone()
        return str(r[0]) if r else ""

    def history(self) -> list[tuple[int, str, bool]]:
        """(id, text, undone) of every entry, oldest first."""
        return [(r[0], str(r[1]), bool(r[2])) for r in self._q("SELECT id, text, undone FROM history ORDER BY id")]

    def undo(self) -> Applied | None:
        return self._step(undo=True)

    def redo(self) -> Applied | None:
        return self._step(undo=False)

    def clear_history(self) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM history")

    def _step(self, *, undo: bool) -> Applied | None:
        with self.transaction() as c:
            if undo:  # the newest entry still done
                r = c.execute("SELECT id, text, diff FROM history WHERE undone=0 ORDER BY id DESC LIMIT 1").fetchone()
            else:     # the oldest entry undone
                r = c.execute("SELECT id, text, diff FROM history WHERE undone=1 ORDER BY id LIMIT 1").fetchone()
            if r is None:
                return None
            diff = Diff.decode(r[2])
            expect, target = (1, 0) if undo else (0, 1)
            rows, conflicts = {}, 0
            for t, pairs in diff.tables.items():
                current = read_rows(c, t, list(pairs))
                ok = {k: pair[target] for k, pair in pairs.items() if current[k] == pair[expect]}
                conflicts += len(pairs) - len(ok)
                rows[t] = ok
            write_rows(c, rows)
            c.execute("UPDATE history SET undone=? WHERE id=?", (1 if undo else 0, r[0]))
        return Applied(str(r[1]), rows, conflicts)


def _trim(c) -> None:
    """Keep the newest MAX_ENTRIES entries and at most MAX_BYTES of diffs."""
    c.execute("DELETE FROM history WHERE id NOT IN (SELECT id FROM history ORDER BY id DESC LIMIT ?)",
              (MAX_ENTRIES,))
    total = 0
    for hid, size in c.execute("SELECT id, size FROM history ORDER BY id DESC").fetchall():
        total += size
        if total > MAX_BYTES:
            c.execute("DELETE FROM history WHERE id<=?", (hid,))
            break

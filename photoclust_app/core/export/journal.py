"""The export manifest: a JSON Lines journal written as the export goes.

Line kinds (each a JSON object with "type"):
  header   {version, mode, dest, created, token, dest_created, marker_created, total, folders}
  mkdir    {path}                 a folder this export created (undo removes it if empty)
  begin    {i, src, dst}          about to place item i at dst (flushed, not fsynced)
  item     {i, src, dst, mode, size, sha256 | target | inode, status}
           status "verified": dst is a durable verified copy, src not yet removed (moves)
           status "done":     the item is complete
  end      {status: complete | cancelled | failed, done, error?}
  undo     {restored, removed, refused}   appended by an undo that had to leave things
  adopt    {path?, marker?}       appended by the undo of an earlier export into the same
           folder: this export now owns a folder (or the marker) that one made but could
           not remove because this export's files are in it
Every "item" line is fsynced before the next step, so after a crash, a full disk or a
power cut the manifest still says exactly what was done; a torn last line is ignored.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from photoclust_app.core.errors import ExportConflict

log = logging.getLogger(__name__)

VERSION = 1
MANIFEST_PREFIX = "photoclust-export-"
MANIFEST_SUFFIX = ".jsonl"


class Journal:
    """Append-only writer. A failed write is truncated away so the file stays parseable."""

    def __init__(self, dest: Path):
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        for n in range(1, 1000):
            name = f"{MANIFEST_PREFIX}{stamp}{'' if n == 1 else f'-{n}'}{MANIFEST_SUFFIX}"
            try:
                fd = os.open(dest / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
            except FileExistsError:
                continue
            self.path = dest / name
            self._f = os.fdopen(fd, "wb")
            return
        raise ExportConflict(f"Could not create a manifest file in {dest}.")

    def write(self, record: dict, *, sync: bool = True) -> None:
        data = (json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")
        pos = self._f.tell()
        try:
            self._f.write(data)
            self._f.flush()
            if sync:
                os.fsync(self._f.fileno())
        except OSError:
            try:
                self._f.truncate(pos)
                self._f.seek(pos)
                self._f.flush()
            except (OSError, ValueError):
                pass
            raise

    def close(self) -> None:
        try:
            self._f.close()
        except OSError as err:
            log.warning("closing manifest %s: %s", self.path, err)


@dataclass
class ItemState:
    """What the journal says about one planned item (the last line of each kind wins)."""

    i: int
    src: Path
    dst: Path
    begun: bool = False
    record: dict | None = None      # the latest "item" line
    status: str | None = None       # None (only begun), "verified" or "done"


@dataclass
class Manifest:
    path: Path
    header: dict
    created_dirs: list[Path] = field(default_factory=list)
    owns_marker: bool = False
    items: dict[int, ItemState] = field(default_factory=dict)
    end: dict | None = None

    @property
    def dest(self) -> Path:
        return Path(self.header["dest"])

    @property
    def mode(self) -> str:
        return self.header["mode"]

    @property
    def done(self) -> list[ItemState]:
        """Completed items, in the order they were done."""
        return [s for s in self.items.values() if s.status == "done"]


def append_record(path: Path, record: dict) -> None:
    """Append one line to a finished manifest (undo results, adoptions)."""
    with open(path, "a", encoding="ascii") as f:
        f.write(json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_manifest(path: Path) -> Manifest:
    """Parse a manifest, tolerating a torn or garbled line (the result of a crash)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ExportConflict(f"Could not read the export manifest {path}: {err.strerror or err}.") from err
    records = []
    for n, line in enumerate(raw.splitlines(), 1):
        try:
            rec = json.loads(line)
        except ValueError:
            log.warning("%s line %d is not valid JSON (torn write?); ignored", path, n)
            continue
        if isinstance(rec, dict):
            records.append(rec)
    if not records or records[0].get("type") != "header" or records[0].get("version") != VERSION:
        raise ExportConflict(f"{path.name} is not a photoclust export manifest this version can read.")
    m = Manifest(path=path, header=records[0], owns_marker=bool(records[0].get("marker_created")))
    for rec in records[1:]:
        kind = rec.get("type")
        try:
            if kind == "mkdir" or (kind == "adopt" and "path" in rec):
                m.created_dirs.append(Path(rec["path"]))
            elif kind == "adopt" and rec.get("marker"):
                m.owns_marker = True
            elif kind in ("begin", "item"):
                i = int(rec["i"])
                st = m.items.setdefault(i, ItemState(i, Path(rec["src"]), Path(rec["dst"])))
                st.dst = Path(rec["dst"])
                if kind == "begin":
                    st.begun = True
                else:
                    st.record, st.status = rec, rec.get("status")
            elif kind == "end":
                m.end = rec
        except (KeyError, TypeError, ValueError):
            log.warning("%s: malformed %s line ignored", path, kind)
    return m

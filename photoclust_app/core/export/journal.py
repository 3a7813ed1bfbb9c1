"""The export manifest: a JSON Lines journal written as the export goes.

Line kinds (each a JSON object with "type"):
  header   {version, mode, dest, dest_id, source_root, source_id, created, token,
            dest_created, marker_created, total, folders}
           dest_id / source_id: [st_dev, st_ino] of DEST and the photo folder at export
           time. The manifest lives in DEST; undo refuses one that is not in the folder
           dest_id names, and acts only inside DEST and source_root.
  mkdir    {path}                 a folder this export created (undo removes it if empty)
  begin    {i, src, dst, src_id}  about to place item i at dst (flushed, not fsynced);
           src_id: [dev, ino, size, mtime_ns] of the source as opened
  item     {i, src, dst, mode, size, id, sha256 | target | inode, status}
           id: [dev, ino] of the file (or link) the export made at dst
           status "verified": dst is a durable verified copy, src not yet removed (moves)
           status "withdrawn": the source changed before it could be removed; the export
                               removed its copy again (undo has nothing to move back)
           status "done":     the item is complete
  skip     {i, src, reason}       refused at the moment of the operation; never touched
  left_out {src, reason}          not exported by choice (export one per duplicate group)
  end      {status: complete | cancelled | failed, done, skipped, error?}
  undo     {restored, removed, refused}   appended by an undo that had to leave things
  supersede {manifest, i, src, dst}  appended by an update (update.py): it removed item i of
           that earlier manifest (a copy now in another cluster's folder, or in none); undo
           of this manifest makes that copy again and gives it back to the earlier one
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
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from photoclust_app.core.errors import ExportConflict

log = logging.getLogger(__name__)

VERSION = 2
MAX_MANIFEST_BYTES = 1 << 30    # ~3 million photos; anything larger is not a manifest
MANIFEST_PREFIX = "photoclust-export-"
MANIFEST_SUFFIX = ".jsonl"


class Journal:
    """Append-only writer. A failed write is truncated away so the file stays parseable."""

    def __init__(self, dest: Path, *, prefix: str = MANIFEST_PREFIX, suffix: str = MANIFEST_SUFFIX,
                 mode: int = 0o644, what: str = "a manifest file"):
        """A new file PREFIX<UTC time>[-n]SUFFIX in DEST, never one that exists (O_EXCL)."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        for n in range(1, 1000):
            name = f"{prefix}{stamp}{'' if n == 1 else f'-{n}'}{suffix}"
            try:
                fd = os.open(dest / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
            except FileExistsError:
                continue
            self.path = dest / name
            self._f = os.fdopen(fd, "wb")
            return
        raise ExportConflict(f"Could not create {what} in {dest}.")

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


_HEADER_TYPES = {"mode": str, "dest": str, "source_root": str, "token": str, "dest_id": list, "source_id": list}


def _header_ok(h: dict) -> bool:
    return all(isinstance(h.get(k), t) for k, t in _HEADER_TYPES.items()) and \
        all(len(h[k]) == 2 and all(isinstance(v, int) for v in h[k]) for k in ("dest_id", "source_id")) and \
        h["token"].isalnum() and isinstance(h.get("folders", []), list)


@dataclass
class ItemState:
    """What the journal says about one planned item (the last line of each kind wins)."""

    i: int
    src: Path
    dst: Path
    begun: bool = False
    src_id: list | None = None      # [dev, ino, size, mtime_ns] of the source, from "begin"
    record: dict | None = None      # the latest "item" line
    status: str | None = None       # None (only begun), "verified", "withdrawn" or "done"


@dataclass
class Manifest:
    path: Path
    header: dict
    created_dirs: list[Path] = field(default_factory=list)
    superseded: list[dict] = field(default_factory=list)   # "supersede" lines (update.py)
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
    def source_root(self) -> Path:
        return Path(self.header["source_root"])

    @property
    def done(self) -> list[ItemState]:
        """Completed items, in the order they were done."""
        return [s for s in self.items.values() if s.status == "done"]


def append_record(path: Path, record: dict) -> None:
    """Append one line to a finished manifest (undo results, adoptions)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "ab") as f:
        f.write((json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii"))
        f.flush()
        os.fsync(f.fileno())


def _read_capped(path: Path) -> bytes:
    """The bytes of a regular file of sane size; a sentence for anything else (a FIFO or
    /dev/zero would otherwise be read forever, a symlink could lead anywhere)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if os.path.islink(path):
            raise ExportConflict(f"{path} is a symbolic link; give the manifest file itself.") from err
        raise ExportConflict(f"Could not read the export manifest {path}: {err.strerror or err}.") from err
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_MANIFEST_BYTES:
        os.close(fd)
        raise ExportConflict(f"{path} is not an export manifest (not a regular file)." if not stat.S_ISREG(st.st_mode)
                             else f"{path} is too large to be an export manifest.")
    with os.fdopen(fd, "rb") as f:
        try:
            raw = f.read(MAX_MANIFEST_BYTES + 1)
        except OSError as err:
            raise ExportConflict(f"Could not read the export manifest {path}: {err.strerror or err}.") from err
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ExportConflict(f"{path} is too large to be an export manifest.")
    return raw


def read_manifest(path: Path) -> Manifest:
    """Parse a manifest, tolerating a torn or garbled line (the result of a crash)."""
    path = Path(path)
    raw = _read_capped(path)
    records, torn = [], []
    for n, line in enumerate(raw.splitlines(), 1):
        try:
            rec = json.loads(line)
        except ValueError:
            torn.append(n)
            continue
        if isinstance(rec, dict):
            records.append(rec)
    if not records or records[0].get("type") != "header":
        raise ExportConflict(f"{path.name} is not a photoclust export manifest.")
    if records[0].get("version") == 1:
        raise ExportConflict(f"{path.name} was written by an older photoclust that did not record what undo "
                             "now checks, so undo will not act on it; remove the exported files by hand.")
    if records[0].get("version") != VERSION or not _header_ok(records[0]):
        raise ExportConflict(f"{path.name} is not a photoclust export manifest this version can read.")
    if torn:
        log.warning("%s: %d line(s) not valid JSON (a torn write?) ignored, the first is line %d",
                    path, len(torn), torn[0])
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
                    st.begun, st.src_id = True, rec.get("src_id")
                else:
                    st.record, st.status = rec, rec.get("status")
            elif kind == "supersede":
                m.superseded.append(rec)
            elif kind == "end":
                m.end = rec
        except (KeyError, TypeError, ValueError):
            log.warning("%s: malformed %s line ignored", path, kind)
    return m

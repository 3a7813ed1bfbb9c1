"""The removal manifest: JSON Lines, written as the removal goes, read by undo-dedupe.

Like the export's (core/export/journal.py, whose writer it reuses): a header, then per copy
  begin {i, src, dst, info, src_id}       about to move the copy at src (abs) to dst
  item  {i, src, dst, info, id, size, sha256, keeper, status: "done"}   moved and fsynced
  undone {i}                              put back by this run (its keeper vanished)
  skip  {i, src, reason}                  left where it is
  mkdir {path}                            a folder this run made under the destination
  end   {status, removed, skipped}
header {type, version, kind: "dedupe", target: "trash" | "folder", dest, dest_id,
        source_root, source_id, home, home_id, token, created}
dest is the trash's files/ folder or the chosen folder; home the folder the manifest sits in.
undo acts only on a manifest in the folder home_id names, owned by the user, with the photo
folder and dest the recorded ones (st_dev, st_ino), and only on files inside those two.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from photoclust_app.core.errors import ExportConflict
from photoclust_app.core.export.journal import Journal, _read_capped

VERSION = 1
PREFIX = "photoclust-dedupe-"
SUFFIX = ".jsonl"


class DedupeJournal(Journal):
    """The export's append-and-fsync writer under the removal manifest's own name."""

    def __init__(self, home: Path):
        super().__init__(home, prefix=PREFIX, suffix=SUFFIX, mode=0o600, what="a removal manifest")


@dataclass
class Entry:
    i: int
    src: Path
    dst: Path
    info: Path | None
    src_id: list | None = None
    record: dict | None = None
    undone: bool = False
    inconsistent: bool = False      # its begin and item lines name different files


@dataclass
class RemovalManifest:
    path: Path
    header: dict
    entries: dict[int, Entry] = field(default_factory=dict)
    dirs: list[Path] = field(default_factory=list)
    end: dict | None = None


_HEADER = {"target": str, "dest": str, "source_root": str, "home": str, "token": str,
           "dest_id": list, "source_id": list, "home_id": list}


def is_removal_manifest(path: Path) -> bool:
    return Path(path).name.startswith(PREFIX)


def read_removal_manifest(path: Path) -> RemovalManifest:
    path = Path(path)
    raw = _read_capped(path)
    recs = []
    for line in raw.splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if isinstance(r, dict):
            recs.append(r)
    h = recs[0] if recs else {}
    if h.get("type") != "header" or h.get("kind") != "dedupe":
        raise ExportConflict(f"{path.name} is not a photoclust removal manifest.")
    if h.get("version") != VERSION or not all(isinstance(h.get(k), t) for k, t in _HEADER.items()) \
            or not all(len(h[k]) == 2 and all(isinstance(v, int) for v in h[k]) for k in ("dest_id", "source_id", "home_id")) \
            or h["target"] not in ("trash", "folder") or not h["token"].isalnum():
        raise ExportConflict(f"{path.name} is not a removal manifest this version can read.")
    m = RemovalManifest(path, h)
    for r in recs[1:]:
        kind = r.get("type")
        try:
            if kind in ("begin", "item"):
                i = int(r["i"])
                e = m.entries.setdefault(i, Entry(i, Path(r["src"]), Path(r["dst"]),
                                                  Path(r["info"]) if r.get("info") else None))
                if (Path(r["src"]), Path(r["dst"])) != (e.src, e.dst):
                    e.inconsistent = True
                if kind == "begin":
                    e.src_id = r.get("src_id")
                else:
                    e.record = r
            elif kind == "undone":
                m.entries[int(r["i"])].undone = True
            elif kind == "mkdir":
                m.dirs.append(Path(r["path"]))
            elif kind == "end":
                m.end = r
        except (KeyError, TypeError, ValueError):
            continue
    return m

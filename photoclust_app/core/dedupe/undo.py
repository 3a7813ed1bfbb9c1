"""Putting removed copies back from the trash or the folder, from the removal manifest.

Nothing in a manifest is taken on trust (as with undo-export, core/export/bind.py): it must
sit in the folder it names as its home and belong to the user; the photo folder and the
destination must be the recorded folders (st_dev, st_ino); each src must lie inside the photo
folder through real folders, each dst inside the destination. A copy goes back only while
the file at dst is the recorded inode with the recorded size and SHA-256, and only where
nothing has taken its old name; its .trashinfo goes with it. Anything else is left alone
and reported. Run again after a crash or a refusal, it finishes the job.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from photoclust_app.core.dedupe.journal import RemovalManifest, read_removal_manifest
from photoclust_app.core.dedupe.remove import restore
from photoclust_app.core.display import printable_path
from photoclust_app.core.errors import ExportConflict
from photoclust_app.core.export import fs
from photoclust_app.core.export.bind import _plain
from photoclust_app.core.export.guard import EXPORT_MARKER, Guard, Unsafe, ident, inode, lstat_or_none, under
from photoclust_app.core.progress import ProgressFn, no_progress

log = logging.getLogger(__name__)


@dataclass
class RestoreReport:
    restored: int = 0
    refused: list[tuple[Path, str]] = field(default_factory=list)


def _bind(m: RemovalManifest) -> None:
    h, name = m.header, m.path.name
    dest, root, home = Path(h["dest"]), Path(h["source_root"]), Path(h["home"])
    if not all(_plain(p) for p in (dest, root, home)) or under(root, dest):
        raise ExportConflict(f"{name} is not a removal manifest this version can read.")
    mine = getattr(os, "geteuid", None)
    if mine is not None and os.stat(m.path).st_uid != mine():
        raise ExportConflict(f"{name} belongs to another user account; undo acts only on removals you made.")
    here = os.stat(Path(os.path.abspath(m.path)).parent)
    if inode(here) != tuple(h["home_id"]) or inode(here) != inode(os.stat(home)):
        raise ExportConflict(f"{name} is not in the folder it was written to ({printable_path(str(home))}); "
                             "undo acts only on a manifest where the removal left it.")
    for p, key, what in ((dest, "dest_id", "The folder the copies went to"), (root, "source_id", "The photo folder")):
        try:
            st = os.lstat(p)
            ok = not os.path.islink(p) and inode(st) == tuple(h[key])
        except OSError:
            ok = False
        if not ok:
            raise ExportConflict(f"{what} ({printable_path(str(p))}) named in {name} is not there any more, or is "
                                 "another folder now, so undo will not act on it.")


def undo_removal(manifest: Path, *, progress: ProgressFn | None = None) -> RestoreReport:
    """Put every copy the removal moved back at its old path (see the module doc)."""
    progress = progress or no_progress
    m = read_removal_manifest(Path(os.path.abspath(manifest)))
    _bind(m)
    h = m.header
    dest, root, token = Path(h["dest"]), Path(h["source_root"]), h["token"]
    sources, dests = Guard(root, skip_marked=False), Guard(dest, skip_marked=False)
    rep = RestoreReport()
    entries = sorted(m.entries.values(), key=lambda e: e.i, reverse=True)
    for k, e in enumerate(entries, 1):
        progress(k, len(entries), "putting copies back")
        if e.undone:
            continue
        try:
            why = _one(e, dest, root, token, sources, dests, h["target"])
        except (OSError, Unsafe) as err:
            why = f"it could not be put back ({getattr(err, 'strerror', None) or err}); left alone"
        if why:
            rep.refused.append((e.dst, why))
        else:
            rep.restored += 1
    for d in reversed(m.dirs):
        if d.parent != d and under(d, dest) and d != dest:
            try:
                os.rmdir(d)
            except OSError:
                pass
    if rep.refused:
        from photoclust_app.core.export.journal import append_record

        append_record(m.path, {"type": "undo", "restored": rep.restored,
                               "refused": [[str(p), r] for p, r in rep.refused]})
    else:
        os.unlink(m.path)
        if h["target"] == "folder":
            marker = dest / EXPORT_MARKER
            if under(dest, root) and lstat_or_none(marker) is not None:
                fs.remove_quietly(marker)
            if h.get("dest_created"):
                try:
                    os.rmdir(dest)
                except OSError:
                    pass
    log.info("undo removal %s: %d restored, %d refused", m.path.name, rep.restored, len(rep.refused))
    return rep


def _one(e, dest: Path, root: Path, token: str, sources: Guard, dests: Guard, target: str) -> str:
    src, dst = e.src, e.dst
    if e.inconsistent:
        return "its lines in the manifest name different files (edited?); left alone"
    if not (_plain(src) and _plain(dst)) or not under(dst, dest) or dst == dest or not under(src, root) or src == root:
        return "it is outside the folders this removal used; left alone"
    if e.info is not None and (target != "trash" or e.info.parent != dest.parent / "info"
                               or e.info.name != dst.name + ".trashinfo"):
        return "its trash entry is not the one this removal made; left alone"
    try:
        sources.check_folders(src)
    except FileNotFoundError:
        pass
    except Unsafe as why:
        return f"its old place {printable_path(str(src))} cannot be used because {why}; left alone"
    try:
        dests.check_folders(dst)
    except FileNotFoundError:
        return "" if lstat_or_none(src) is not None and e.record is None else \
            "it is no longer where the removal put it (emptied from the trash?)"
    except Unsafe as why:
        return f"it was left alone because {why}"
    if e.record is None:        # begun, not finished: the file may sit under a temporary name
        tmp = dst.parent / fs.tmp_name(token, f"mv-{e.i}")
        t = lstat_or_none(tmp)
        if t is not None and e.src_id and list(ident(t)) == list(e.src_id) and lstat_or_none(src) is None:
            fs.rename_no_replace(tmp, src)
        if e.info is not None and lstat_or_none(dst) is None:
            fs.remove_quietly(e.info)
        return ""
    rec = e.record
    d = lstat_or_none(dst)
    if d is None:
        s = lstat_or_none(src)
        if s is not None and list(inode(s)) == list(rec["id"]):
            return ""          # put back already (a crash after the link, before the unlink)
        return "it is no longer where the removal put it (emptied from the trash?)"
    if list(inode(d)) != list(rec["id"]) or d.st_size != rec["size"]:
        return "it is no longer the file the removal moved there; left alone"
    s = lstat_or_none(src)
    if s is not None:
        if inode(s) == inode(d):        # both names: finish the rename
            fs.remove_source(dst, inode(d))
            if e.info is not None:
                fs.remove_quietly(e.info)
            return ""
        return f"something else now exists at {printable_path(str(src))}, so the copy stays where it is"
    if not restore(src, dst, d, rec["sha256"], token, e.i):
        return "it changed since it was removed, or its old place was taken; left alone"
    if e.info is not None:
        fs.remove_quietly(e.info)
    return ""

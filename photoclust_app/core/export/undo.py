"""Reversing an export from its manifest, touching only what that export itself made.

A manifest is a file anyone can edit, so nothing in it is taken on trust (bind.py): it
must lie in the folder it names as DEST, which must be the folder the export recorded
(st_dev, st_ino); every dst must be DEST/<folder>/<name> through real folders and every
src inside the recorded photo folder (not in DEST). A file is removed only while it is
exactly what the export made: the recorded (dev, ino), and for copies and moves the size
and SHA-256; the removal itself (fs.remove_source) checks the inode once more on the very
file it detaches. A copy or link goes only while the original is still there as a regular
file (not a link, which may point at the copy being removed) with the same bytes. A moved
photo goes back only if nothing has taken its old place. Anything else is left alone and
reported in UndoReport.refused. Undo is idempotent: running it again after a refusal is
fixed, or after a crash, finishes the job.
"""
from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from photoclust_app.core.errors import ExportConflict
from photoclust_app.core.export import fs
from photoclust_app.core.export.bind import bind, identical, item_paths, made, same_bytes
from photoclust_app.core.export.guard import (EXPORT_MARKER, Guard, Unsafe, ident, inode, is_regular,
                                              lstat_or_none, open_exact)
from photoclust_app.core.export.journal import (MANIFEST_PREFIX, MANIFEST_SUFFIX, ItemState, Manifest,
                                                append_record, read_manifest)
from photoclust_app.core.progress import ProgressFn, no_progress

log = logging.getLogger(__name__)


@dataclass
class UndoReport:
    restored: int = 0                                  # moved files put back at their source
    removed: int = 0                                   # copies/links removed
    remade: int = 0                                    # earlier copies an update had replaced, made again
    refused: list[tuple[Path, str]] = field(default_factory=list)   # (path, reason), left alone


class _Undo:
    def __init__(self, m: Manifest):
        self.m, self.token, self.report = m, m.header["token"], UndoReport()
        self.dest = Path(m.header["dest"])
        self.sources = Guard(m.source_root, skip_marked=False)

    def refuse(self, path: Path, reason: str) -> None:
        log.info("undo leaves %s: %s", path, reason)
        self.report.refused.append((path, reason))

    def remove(self, path: Path, st: os.stat_result, i: int) -> None:
        """Remove what the export made, only if path still holds that very inode."""
        try:
            fs.remove_source(path, inode(st), self.detached(path, i))
        except fs.Changed:
            return self.refuse(path, "it changed while undo was working, so it is kept")
        self.report.removed += 1

    def item(self, st: ItemState) -> None:
        why = item_paths(self.m, st.src, st.dst)
        if why:
            return self.refuse(st.dst, why)
        try:   # a folder link on the way could make src name dst itself
            self.sources.check_folders(st.src)
        except FileNotFoundError:
            pass
        except Unsafe as why:
            return self.refuse(st.dst, f"its original {st.src} cannot be checked because {why}; left alone")
        self.restore_detached(self.detached(st.dst, st.i), st.dst)
        if self.m.mode == "move":
            self.restore_detached(st.src.parent / fs.tmp_name(self.token, f"src-{st.i}"), st.src)
        getattr(self, self.m.mode)(st.src, st.dst, st.record, st)

    def detached(self, path: Path, i: int) -> Path:
        """Where fs.remove_source puts path's file while checking it (see restore_detached)."""
        return path.parent / fs.tmp_name(self.token, f"rm-{i}")

    def restore_detached(self, tmp: Path, path: Path) -> None:
        """A crash inside fs.remove_source leaves the file it was removing under tmp: give it
        its name back (as it was before), or keep both when the name is taken again."""
        t = lstat_or_none(tmp)
        if t is None:
            return
        p = lstat_or_none(path)
        if p is None:
            fs.rename_no_replace(tmp, path)
        elif identical(path, p, tmp, t):
            fs.remove_source(tmp, inode(t))
        else:
            self.refuse(tmp, f"an interrupted export or undo left this version of {path.name} here; kept")

    def copy(self, src, dst, rec, st) -> None:
        d = lstat_or_none(dst)
        if d is None:
            return
        s = lstat_or_none(src)
        if rec is None:   # begun, not journalled: kept unless it is plainly a copy of src
            if s is not None and inode(s) != inode(d) and identical(src, s, dst, d):
                return self.remove(dst, d, st.i)
            return self.refuse(dst, "the export did not finish this file and it differs from the original; kept")
        if not made(dst, d, rec, hashed=True):
            return self.refuse(dst, "this copy was changed after the export, so it is kept")
        if s is None:
            return self.refuse(dst, f"the original {src} is gone, so this copy is now the only one and is kept")
        if not is_regular(s) or inode(s) == inode(d):
            return self.refuse(dst, f"the original {src} is no longer a plain file of its own, so this copy "
                                    "may be the only one and is kept")
        if not same_bytes(src, s, rec):
            return self.refuse(dst, f"the original {src} has changed since the export, so this copy "
                                    "(the only one of the exported version) is kept")
        self.remove(dst, d, st.i)

    def symlink(self, src, dst, rec, st) -> None:
        d = lstat_or_none(dst)
        if d is None:
            return
        ours = rec is None or (inode(d) == tuple(rec["id"]) and rec.get("target") == str(src))
        if stat.S_ISLNK(d.st_mode) and ours and os.readlink(dst) == str(src):
            return self.remove(dst, d, st.i)
        self.refuse(dst, "this is no longer the link the export made; left alone")

    def hardlink(self, src, dst, rec, st) -> None:
        d = lstat_or_none(dst)
        if d is None:
            return
        if not is_regular(d) or (rec is not None and inode(d) != tuple(rec["id"])):
            return self.refuse(dst, "this is no longer the same file as the original; left alone")
        s = lstat_or_none(src)
        if s is None:
            return self.refuse(dst, f"the original {src} is gone, so this link is now the only copy and is kept")
        if not is_regular(s):   # e.g. a symlink to this very link: removing it would lose the photo
            return self.refuse(dst, f"the original {src} is no longer a plain file (a symbolic link?), so this "
                                    "link may be the only copy and is kept")
        if inode(s) != inode(d):
            return self.refuse(dst, "this is no longer the same file as the original; left alone")
        self.remove(dst, d, st.i)

    def move(self, src, dst, rec, st) -> None:
        fs.remove_quietly(src.parent / fs.tmp_name(self.token, f"undo-{st.i}"))  # from a crashed undo
        d, s = lstat_or_none(dst), lstat_or_none(src)
        if rec is None:   # interrupted before the copy was verified: the source was never removed
            if d is not None and s is not None and identical(src, s, dst, d):
                self.remove(dst, d, st.i)
            elif d is not None:
                self.refuse(dst, "the export did not finish this file; left alone")
            return
        if d is None:
            if st.status != "withdrawn" and not (s is not None and same_bytes(src, s, rec)):
                self.refuse(dst, f"the exported photo is no longer here, so it cannot be moved back to {src}")
            return
        if not made(dst, d, rec, hashed=True):
            return self.refuse(dst, "this photo was changed after the export, so it stays where it is")
        if st.status == "withdrawn":   # the export was removing this copy of an old version
            return self.remove(dst, d, st.i)
        if s is not None:
            if is_regular(s) and same_bytes(src, s, rec):   # the source is still (or again) there
                return self.remove(dst, d, st.i)
            return self.refuse(dst, f"something else now exists at {src}, so the photo stays here")
        self.move_back(src, dst, d, rec, st.i)

    def move_back(self, src: Path, dst: Path, d: os.stat_result, rec: dict, i: int) -> None:
        try:
            self.sources.check_folders(src)
        except FileNotFoundError:
            pass    # folders missing on the way are made below, as real folders
        except Unsafe as why:
            return self.refuse(dst, f"the photo cannot be moved back to {src} because {why}; it stays here")
        os.makedirs(src.parent, exist_ok=True)
        linked = fs.link_no_clobber(dst, src) if fs.device_of(src.parent) == fs.device_of(dst) else None
        if linked is False:
            return self.refuse(dst, f"something else now exists at {src}, so the photo stays here")
        if linked and inode(os.lstat(src)) != inode(d):   # dst was swapped meanwhile: undo that link
            os.unlink(src)
            return self.refuse(dst, "this photo changed while being moved back, so it stays here")
        if linked is None:
            tmp = src.parent / fs.tmp_name(self.token, f"undo-{i}")
            fs.remove_quietly(tmp)
            fd, _ = open_exact(dst, inode(d))
            try:
                if fs.verified_copy(dst, tmp, fd) != (rec["size"], rec["sha256"]):
                    fs.remove_quietly(tmp)
                    return self.refuse(dst, "this photo changed while being moved back, so it stays here")
            finally:
                os.close(fd)
            try:
                if not fs.publish(tmp, src):
                    return self.refuse(dst, f"something else now exists at {src}, so the photo stays here")
            finally:
                fs.remove_quietly(tmp)
        fs.fsync_dir(src.parent)
        try:
            fs.remove_source(dst, ident(d), self.detached(dst, i))
        except fs.Changed:
            return self.refuse(dst, "it changed while undo was working, so it is kept (the photo is back too)")
        self.report.restored += 1

    def sweep(self) -> None:
        """Remove this export's temp files, then the folders it made if they are empty."""
        pattern, detached = fs.tmp_name(self.token, "*"), fs.tmp_name(self.token, "rm-")[:-5]
        for folder in {Path(f) for f in self.m.header.get("folders", []) if isinstance(f, str)} | {self.dest}:
            if folder != self.dest and (folder.parent != self.dest or folder.name in ("", ".", "..")):
                continue
            st = lstat_or_none(folder)
            for tmp in folder.glob(pattern) if st is not None and stat.S_ISDIR(st.st_mode) else ():
                if not tmp.name.startswith(detached):   # those are files being checked: kept
                    fs.remove_quietly(tmp)
        others = self.other_manifests()
        for d in reversed(self.m.created_dirs):
            if d.parent == self.dest and d.name not in ("", ".", ".."):
                try:
                    os.rmdir(d)
                except OSError:
                    self.hand_over(others, d)

    def other_manifests(self) -> list[Manifest]:
        """Other exports into the same folder (unreadable or foreign ones are skipped)."""
        out = []
        for p in self.dest.glob(f"{MANIFEST_PREFIX}*{MANIFEST_SUFFIX}"):
            if p != self.m.path:
                try:
                    o = read_manifest(p)
                    bind(o)
                    out.append(o)
                except ExportConflict:
                    log.warning("ignoring unreadable manifest %s", p)
        return out

    def hand_over(self, others: list[Manifest], d: Path | None) -> None:
        """A folder (or, d None, the marker) this export made is still in use by a later
        export: make that export responsible for removing it when it is undone."""
        for o in others:
            if d is None:
                append_record(o.path, {"type": "adopt", "marker": True})
            elif str(d) in o.header.get("folders", []):
                append_record(o.path, {"type": "adopt", "path": str(d)})

    def finish(self) -> None:
        dest, h = self.dest, self.m.header
        if self.report.refused:
            append_record(self.m.path, {
                "type": "undo", "restored": self.report.restored, "removed": self.report.removed,
                "refused": [[str(p), r] for p, r in self.report.refused]})
            return
        os.unlink(self.m.path)
        if self.m.owns_marker:
            others = self.other_manifests()
            if others:
                self.hand_over(others[:1], None)
            else:
                fs.remove_quietly(dest / EXPORT_MARKER)
        if h.get("dest_created"):
            try:
                os.rmdir(dest)
            except OSError:
                pass


def undo_export(manifest: Path, *, progress: ProgressFn | None = None) -> UndoReport:
    """Reverse the export a manifest describes, finished or interrupted.

    Copies/links it made are removed while unchanged; moved photos are moved back (bytes
    verified, never onto an existing file); temp files, empty folders it made, the marker
    (when no other export uses the folder) and the manifest go. If anything was refused
    the manifest and marker stay, so undo can be run again. A manifest that is not bound
    to its folder (see bind.py) raises ExportConflict before anything is touched.
    """
    progress = progress or no_progress
    m = read_manifest(Path(os.path.abspath(manifest)))
    bind(m)
    u = _Undo(m)
    states = sorted(m.items.values(), key=lambda s: s.i, reverse=True)
    for rec in m.superseded:   # an update's removed copies first: never no copy at all
        try:
            _restore_superseded(u, rec)
        except (OSError, Unsafe) as err:
            u.refuse(Path(str(rec.get("dst"))), f"it could not be made again ({getattr(err, 'strerror', None) or err})")
    progress(0, len(states), "undo")
    for k, st in enumerate(states, 1):
        try:
            u.item(st)
        except OSError as err:
            u.refuse(st.dst, f"it could not be undone ({err.strerror or err}); left alone")
        except Unsafe as why:
            u.refuse(st.dst, f"it was left alone because {why}")
        except (KeyError, TypeError, ValueError):
            u.refuse(st.dst, "its line in the manifest is damaged; left alone")
        progress(k, len(states), "undo")
    u.sweep()
    u.finish()
    r = u.report
    log.info("undo %s: %d restored, %d removed, %d refused", m.path.name, r.restored, r.removed, len(r.refused))
    return r


def supersede_items(manifest: Path, items: list[tuple[Path, int]], *, keep: set[Path] = frozenset()
                    ) -> list[tuple[Path, str]]:
    """For an update (update.py): remove item i of each earlier manifest, a copy the update
    replaced (or one of a photo no longer exported), with that export's own undo checks (the
    copy exactly as made, the original still there with the same bytes). Each removal is
    noted in the earlier manifest (the item is "superseded": its undo skips it) and in the
    update's ``manifest`` (whose undo makes the copy again). Returns what was left alone."""
    left: list[tuple[Path, str]] = []
    for path, i in items:
        try:
            m = read_manifest(path)
            bind(m)
            st = m.items[i]
        except (ExportConflict, KeyError) as why:
            left.append((path, f"its export cannot be changed ({why})"))
            continue
        if m.mode != "copy" or st.status != "done" or st.record is None or st.src in keep:
            left.append((st.dst, "left where it is"))
            continue
        u = _Undo(m)
        try:
            why = item_paths(m, st.src, st.dst)
            if why:
                raise Unsafe(why)
            u.copy(st.src, st.dst, st.record, st)
        except (OSError, Unsafe) as err:
            u.refuse(st.dst, f"it could not be removed ({getattr(err, 'strerror', None) or err})")
        if u.report.removed:
            append_record(manifest, {"type": "supersede", "manifest": str(m.path), "i": st.i,
                                     "src": str(st.src), "dst": str(st.dst)})
            append_record(m.path, {**st.record, "status": "superseded"})
        else:
            left += u.report.refused or [(st.dst, "left where it is")]
    return left


def _restore_superseded(u: _Undo, rec: dict) -> None:
    """Undo of an update: make again the copy it removed (supersede_items) from the
    original, verified against the earlier export's hash, and give it back to that export."""
    try:
        m = read_manifest(Path(rec["manifest"]))
        bind(m)
        st = m.items[int(rec["i"])]
    except (ExportConflict, KeyError, TypeError, ValueError) as why:
        return u.refuse(Path(str(rec.get("dst"))), f"the earlier export it belonged to cannot be read ({why}); "
                                                   "not made again")
    r = st.record or {}
    if st.status != "superseded" or m.mode != "copy" or str(st.dst) != rec.get("dst") \
            or Path(m.header["dest"]) != u.dest or item_paths(m, st.src, st.dst):
        return u.refuse(st.dst, "the earlier export no longer records this copy as replaced; not made again")
    if lstat_or_none(st.dst) is not None:
        return u.refuse(st.dst, "something else is at its old place now; not made again")
    folder = lstat_or_none(st.dst.parent)
    if folder is None:
        os.mkdir(st.dst.parent)
    elif not stat.S_ISDIR(folder.st_mode):
        return u.refuse(st.dst, f"{st.dst.parent} is no longer a plain folder; not made again")
    fd, _ = Guard(m.source_root).open(st.src)
    tmp = st.dst.parent / fs.tmp_name(u.token, f"re-{st.i}")
    try:
        if fs.verified_copy(st.src, tmp, fd) != (r.get("size"), r.get("sha256")):
            fs.remove_quietly(tmp)
            return u.refuse(st.dst, f"the original {st.src} changed since the export; not made again")
        made_st = os.lstat(tmp)
        if not fs.publish(tmp, st.dst):
            return u.refuse(st.dst, "something else is at its old place now; not made again")
    finally:
        os.close(fd)
        fs.remove_quietly(tmp)
    fs.fsync_dir(st.dst.parent)
    append_record(m.path, {**r, "id": list(inode(made_st)), "status": "done"})
    u.report.remade += 1

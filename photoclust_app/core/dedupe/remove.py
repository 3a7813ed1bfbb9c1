"""Removing copies: never deleting. Each copy goes to the desktop's trash or a chosen folder,
journalled, only while its group's keeper is verified, and the library forgets it.

For each group: the keeper must be where the listing saw it, a regular file reached through
real folders, with the size and mtime listed (and, for identical groups, the same SHA-256
as the copy). Each copy is opened the export's safe way (guard.Guard: O_NOFOLLOW, folder by
folder), must still have the listed size and mtime (else: "it changed since it was
listed", left alone), and is hashed from that open file. It is then moved: on one device by
renaming it to a temporary name beside its destination and checking that the file renamed
is the one opened (otherwise it gets its name back); across devices by a verified copy
(fs.verified_copy), then fs.remove_source, which unlinks only that very file. After each move
the keeper is checked again: if it has disappeared or changed, the copies of that group
moved so far are put back, so a group is never left without a photo. Every step is in the
manifest (journal.py) before the next one; undo.py reverses it.
"""
from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from photoclust_app.core.dedupe import trash as trash_mod
from photoclust_app.core.dedupe.find import Group, Member
from photoclust_app.core.dedupe.journal import VERSION, DedupeJournal
from photoclust_app.core.display import printable_path
from photoclust_app.core.errors import ExportConflict, PhotoclustError
from photoclust_app.core.export import fs
from photoclust_app.core.export.guard import EXPORT_MARKER, Guard, Unsafe, ident, inode, lstat_or_none
from photoclust_app.core.export.names import name_key, unique_name
from photoclust_app.core.progress import ProgressFn, no_progress

log = logging.getLogger(__name__)


class RemovalRefused(PhotoclustError):
    """The removal cannot be done safely; nothing was touched (a sentence)."""


@dataclass
class RemovalPlan:
    folder: Path                      # the photo folder
    target: str                       # "trash" | "folder"
    dest: Path | None                 # the chosen folder (target "folder")
    groups: list[Group]
    home: Path                        # where the manifest goes

    @property
    def copies(self) -> int:
        return sum(len(g.copies) for g in self.groups)

    @property
    def bytes(self) -> int:
        return sum(m.size for g in self.groups for m in g.copies)


@dataclass
class RemovalReport:
    manifest: Path | None = None
    removed: list[tuple[Member, Member, Path]] = field(default_factory=list)   # (copy, keeper, where now)
    kept: list[tuple[str, str]] = field(default_factory=list)                  # (relpath, why left alone)
    forgotten: int = 0

    @property
    def freed(self) -> int:
        return sum(c.size for c, _, _ in self.removed)


def plan_removal(folder: Path, groups: list[Group], *, to: Path | str | None = None, to_trash: bool = False,
                 home: Path | None = None, all_relpaths: list[str] = ()) -> RemovalPlan:
    """Check the destination; touch nothing (this is the dry run). TO: a folder (made if
    needed) that must not hold photos of the library nor be the photo folder; HOME: where the
    manifest of a trash removal goes (the library's folder)."""
    folder = Path(os.path.abspath(folder))
    groups = [g for g in groups if g.copies]
    if to_trash == (to is not None):
        raise RemovalRefused("Say where the copies go: --to-trash or --to DIR (one of them).")
    if to is not None:
        if not str(to).strip():
            raise RemovalRefused("Choose a folder for the copies: an empty path would mean the current folder.")
        dest = Path(os.path.realpath(Path(to).expanduser()))
        if dest.exists() and not dest.is_dir():
            raise RemovalRefused(f"{printable_path(str(dest))} is a file, not a folder.")
        if dest == Path(os.path.realpath(folder)) or dest in Path(os.path.realpath(folder)).parents:
            raise RemovalRefused("The folder for the copies cannot be the photo folder or a folder above it; "
                                 f"choose another one (a subfolder such as {folder / 'Duplicates'} is fine).")
        inside = next((r for r in all_relpaths if dest in Path(os.path.realpath(folder / r)).parents), None)
        if inside is not None:
            raise RemovalRefused(f"The folder {printable_path(str(dest))} holds photos of this library, e.g. "
                                 f"{printable_path(inside)}; choose a folder that holds none of them.")
        return RemovalPlan(folder, "folder", dest, groups, dest)
    return RemovalPlan(folder, "trash", None, groups, Path(home) if home else folder)


class _Run:
    def __init__(self, plan: RemovalPlan, progress: ProgressFn):
        self.plan, self.progress = plan, progress
        self.guard = Guard(plan.folder)
        self.token = secrets.token_hex(6)
        self.report = RemovalReport()
        self.i = 0
        self.j: DedupeJournal | None = None
        self.trashes: dict[int, trash_mod.Trash] = {}
        self.taken: dict[Path, set[str]] = {}

    # -- destination ---------------------------------------------------------------------
    def open_journal(self) -> None:
        p = self.plan
        if p.target == "folder":
            made = not p.dest.exists()
            os.makedirs(p.dest, exist_ok=True)
            dest = p.dest
            if dest.is_relative_to(p.folder) and not os.path.lexists(dest / EXPORT_MARKER):
                # inside the photo folder: the scanner must skip it, or the copies come back
                os.close(os.open(dest / EXPORT_MARKER, os.O_WRONLY | os.O_CREAT, 0o644))
        else:
            made = False
            dest = trash_mod.trash_for(p.folder / "x").files
        home = p.home
        os.makedirs(home, exist_ok=True)
        self.dest = dest
        self.j = DedupeJournal(home)
        self.j.write({"type": "header", "version": VERSION, "kind": "dedupe", "target": p.target,
                      "dest": str(dest), "dest_id": list(inode(os.stat(dest))), "dest_created": made,
                      "source_root": str(p.folder), "source_id": list(inode(os.stat(p.folder))),
                      "home": str(home), "home_id": list(inode(os.stat(home))), "token": self.token,
                      "created": time.time(), "copies": p.copies})

    def destination(self, src: Path, rel: str) -> tuple[Path, Path | None]:
        """(where the copy goes, its trashinfo file or None)."""
        if self.plan.target == "trash":
            dev = os.lstat(src).st_dev
            t = self.trashes.get(dev) or self.trashes.setdefault(dev, trash_mod.trash_for(src))
            info, dst = trash_mod.reserve(t, src)
            return dst, info
        parts = [x for x in Path(rel).parts if x not in ("", ".", "..")]
        d = self.plan.dest
        for part in parts[:-1]:
            d = d / part
            if not os.path.lexists(d):
                os.mkdir(d)
                self.j.write({"type": "mkdir", "path": str(d)})
            elif os.path.islink(d) or not d.is_dir():
                raise Unsafe(f"{printable_path(str(d))} in the destination is not a plain folder")
        taken = self.taken.setdefault(d, {name_key(n) for n in os.listdir(d)})
        name = unique_name(parts[-1], taken, keep_extension=True)
        return d / name, None

    # -- one copy ------------------------------------------------------------------------
    def keeper_ok(self, keeper: Member, expect: tuple | None) -> tuple | None:
        """The keeper's ident if it is there, unchanged since listed (and the same as EXPECT)."""
        try:
            st = self.guard.check(self.plan.folder / keeper.relpath)
        except (OSError, Unsafe):
            return None
        if (st.st_size, st.st_mtime_ns) != (keeper.size, keeper.mtime_ns):
            return None
        got = ident(st)
        return got if expect is None or got == expect else None

    def move(self, copy: Member, keeper: Member, group: Group) -> tuple[str, Path | None]:
        """Move one copy; ('', where) when done, (reason, None) when it was left alone."""
        src = self.plan.folder / copy.relpath
        try:
            fd, st = self.guard.open(src)
        except FileNotFoundError:
            return "it is no longer there", None
        except (OSError, Unsafe) as why:
            return f"it cannot be opened safely ({getattr(why, 'strerror', None) or why})", None
        try:
            if (st.st_size, st.st_mtime_ns) != (copy.size, copy.mtime_ns):
                return "it changed since it was listed, so it is kept", None
            size, digest = fs.hash_fd(fd)
            if group.kind == "identical" and digest != (keeper.sha256 or copy.sha256):
                return "its bytes are no longer those of the keeper, so it is kept", None
            i = self.i = self.i + 1
            dst, info = self.destination(src, copy.relpath)
            self.j.write({"type": "begin", "i": i, "src": str(src), "dst": str(dst),
                          "info": str(info) if info else None, "src_id": list(ident(st))})
            try:
                moved = place(src, dst, st, fd, self.token, i)
            except BaseException:
                if info is not None:
                    fs.remove_quietly(info)
                raise
            if not moved:
                if info is not None:
                    fs.remove_quietly(info)
                self.j.write({"type": "skip", "i": i, "src": str(src), "reason": "changed"})
                return "it changed while it was being moved, so it is kept", None
            d = os.lstat(dst)
            self.j.write({"type": "item", "i": i, "src": str(src), "dst": str(dst), "info": str(info) if info else None,
                          "id": list(inode(d)), "size": size, "sha256": digest, "keeper": keeper.relpath,
                          "status": "done"})
            self.last = (i, src, dst, info, d, digest)
            return "", dst
        finally:
            os.close(fd)

    def put_back(self, i: int, src: Path, dst: Path, info: Path | None, d: os.stat_result, digest: str) -> bool:
        ok = restore(src, dst, d, digest, self.token, i)
        if ok:
            if info is not None:
                fs.remove_quietly(info)
            self.j.write({"type": "undone", "i": i})
        return ok

    def group(self, g: Group) -> None:
        keeper = g.members[0]
        expect = self.keeper_ok(keeper, None)
        if expect is None:
            for c in g.copies:
                self.report.kept.append((c.relpath, f"its keeper {keeper.relpath} is gone or changed since "
                                                    "it was listed, so no copy of it is removed"))
            return
        done = []
        for c in g.copies:
            if self.keeper_ok(keeper, expect) is None:
                self.lost_keeper(g, keeper, done, c)
                return
            why, where = self.move(c, keeper, g)
            if why:
                self.report.kept.append((c.relpath, why))
                continue
            done.append((c, self.last))
            if self.keeper_ok(keeper, expect) is None:
                self.lost_keeper(g, keeper, done, None)
                return
        for c, (_, _, dst, _, _, _) in done:
            self.report.removed.append((c, keeper, dst))

    def lost_keeper(self, g: Group, keeper: Member, done: list, at: Member | None) -> None:
        """The keeper vanished mid-run: every copy of the group moved so far comes back."""
        why = f"its keeper {keeper.relpath} disappeared or changed during the removal, so it was kept"
        for c, (i, src, dst, info, d, digest) in reversed(done):
            if self.put_back(i, src, dst, info, d, digest):
                self.report.kept.append((c.relpath, why + " (put back)"))
            else:
                self.report.removed.append((c, keeper, dst))
                self.report.kept.append((c.relpath, f"{why}, but it could not be put back; it is at {dst}"))
        moved = {c.id for c, _ in done}
        for c in g.copies:
            if c.id not in moved and not any(k == c.relpath for k, _ in self.report.kept):
                self.report.kept.append((c.relpath, why))


def place(src: Path, dst: Path, st, fd: int, token: str, i: int) -> bool:
    """Move the file at src (opened as fd, fstat st) to dst, never over an existing file.
    False (and src untouched) when the file at src is no longer the one opened."""
    same_dev = fs.device_of(dst.parent) == st.st_dev
    if same_dev:
        tmp = dst.parent / fs.tmp_name(token, f"mv-{i}")
        os.rename(src, tmp)       # takes exactly the file holding the name now
        t = os.lstat(tmp)
        if ident(t) != ident(st):
            if not fs.rename_no_replace(tmp, src):
                raise fs.Changed(src, f"it changed meanwhile; the new version was kept as {tmp}")
            return False
        if not fs.rename_no_replace(tmp, dst):
            fs.rename_no_replace(tmp, src)
            raise ExportConflict(f"{printable_path(str(dst))} appeared while the copy was being moved; nothing lost.")
        fs.fsync_dir(dst.parent)
        fs.fsync_dir(src.parent)
        return True
    tmp = dst.parent / fs.tmp_name(token, f"cp-{i}")
    fs.verified_copy(src, tmp, fd)
    if not fs.publish(tmp, dst):
        fs.remove_quietly(tmp)
        raise ExportConflict(f"{printable_path(str(dst))} appeared while the copy was being moved; nothing lost.")
    fs.fsync_dir(dst.parent)
    try:
        fs.remove_source(src, ident(st), src.parent / fs.tmp_name(token, f"src-{i}"))
    except fs.Changed:
        fs.remove_source(dst, inode(os.lstat(dst)))
        return False
    return True


def restore(src: Path, dst: Path, d: os.stat_result, digest: str, token: str, i: int) -> bool:
    """Give the file at dst (lstat d, SHA-256 digest) its old name src back, never over
    another file. False when src is taken or dst is no longer that file."""
    from photoclust_app.core.export.guard import open_exact

    now = lstat_or_none(dst)
    if now is None or inode(now) != inode(d) or now.st_size != d.st_size:
        return False
    fd, _ = open_exact(dst, inode(d))
    try:
        if fs.hash_fd(fd)[1] != digest:
            return False
        os.makedirs(src.parent, exist_ok=True)
        if fs.device_of(src.parent) == d.st_dev:
            if not fs.rename_no_replace(dst, src):
                return False
        else:
            tmp = src.parent / fs.tmp_name(token, f"back-{i}")
            fs.remove_quietly(tmp)
            fs.verified_copy(dst, tmp, fd)
            if not fs.publish(tmp, src):
                fs.remove_quietly(tmp)
                return False
            fs.remove_source(dst, inode(d))
    finally:
        os.close(fd)
    fs.fsync_dir(src.parent)
    return True


def run_removal(plan: RemovalPlan, *, progress: ProgressFn | None = None) -> RemovalReport:
    """Move every copy of plan's groups away (see the module doc). The library is not
    touched here: the caller passes the report to forget_removed."""
    progress = progress or no_progress
    r = _Run(plan, progress)
    if not plan.groups:
        return r.report
    r.open_journal()
    try:
        for k, g in enumerate(plan.groups, 1):
            try:
                r.group(g)
            except (OSError, Unsafe, ExportConflict) as err:
                why = getattr(err, "strerror", None) or str(err)
                for c in g.copies:
                    if not any(c.id == m.id for m, _, _ in r.report.removed):
                        r.report.kept.append((c.relpath, f"it could not be moved ({why}); kept"))
            progress(k, len(plan.groups), "moving copies")
        r.j.write({"type": "end", "status": "complete", "removed": len(r.report.removed),
                   "skipped": len(r.report.kept)})
    except BaseException:
        r.j.write({"type": "end", "status": "failed", "removed": len(r.report.removed)})
        raise
    finally:
        r.j.close()
        r.report.manifest = r.j.path
    return r.report


def forget_removed(lib, report: RemovalReport) -> int:
    """The library forgets the moved copies; keepers keep (or take over) cluster and placement."""
    n = lib.forget_copies({c.id: k.id for c, k, _ in report.removed})
    report.forgotten = n
    return n

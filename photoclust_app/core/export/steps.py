"""One exported file at a time: each step journalled so that any interruption can be undone.

Every source is opened (guard.open: no symbolic link anywhere, O_NOFOLLOW, the inode just
checked) right before it is used, and every byte copied or hashed comes from that
open file; a link made from the name is compared with the opened inode. A moved source
is removed by fs.remove_source, which takes exactly the file holding the name and puts it
back if it is not the one that was copied (an editor saving meanwhile).
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from photoclust_app.core.export import fs
from photoclust_app.core.export.guard import Guard, Unsafe, ident, inode
from photoclust_app.core.export.journal import Journal
from photoclust_app.core.export.names import numbered


class Steps:
    """The per-file work of one run_export: one() exports item i or raises Unsafe
    (refused, nothing made) or OSError (stopped; the journal says what exists)."""

    def __init__(self, mode: str, dest: Path, guard: Guard, journal: Journal, token: str):
        self.mode, self.dest, self.guard = mode, dest, guard
        self.journal, self.token = journal, token
        self.made: set[Path] = set()
        self.seen: set[Path] = set()

    def folder(self, folder: Path) -> None:
        if folder in self.made or folder in self.seen:
            return
        try:
            st = os.lstat(folder)
        except FileNotFoundError:
            os.mkdir(folder)
            try:
                self.journal.write({"type": "mkdir", "path": str(folder)})
            except OSError:
                os.rmdir(folder)   # unrecorded folders would outlive undo
                raise
            self.made.add(folder)
            fs.fsync_dir(self.dest)
            return
        if not stat.S_ISDIR(st.st_mode):   # a symbolic link put there since the plan
            raise OSError(errno.ENOTDIR, "it is no longer a plain folder", str(folder))
        self.seen.add(folder)

    def begin(self, i: int, src: Path, dst: Path, st: os.stat_result) -> None:
        # Flushed, not fsynced: enough to survive a killed process, cheap per file.
        self.journal.write({"type": "begin", "i": i, "src": str(src), "dst": str(dst),
                            "src_id": list(ident(st))}, sync=False)

    def place(self, i: int, src: Path, dst: Path, st, attempt) -> Path:
        """Run attempt(candidate) -> bool over dst, 'x (2).jpg', ... until it succeeds.
        The plan avoided existing names; this covers files that appeared since."""
        base, n, cand = dst.name, 1, dst
        self.begin(i, src, cand, st)
        while not attempt(cand):
            n += 1
            cand = dst.parent / numbered(base, n, keep_extension=True)
            self.begin(i, src, cand, st)
        return cand

    def record(self, i, src, dst, status, undo_placed, **extra) -> None:
        rec = {"type": "item", "i": i, "src": str(src), "dst": str(dst), "mode": self.mode, **extra,
               "status": status}
        try:
            self.journal.write(rec)
        except OSError:
            undo_placed()   # keep the manifest true: what it does not list must not exist
            raise

    def copy_to(self, i, src, dst, fd, st) -> tuple[Path, int, str, os.stat_result]:
        tmp = dst.parent / fs.tmp_name(self.token, str(i))
        size, digest = fs.verified_copy(src, tmp, fd)
        try:
            made = os.lstat(tmp)
            dst = self.place(i, src, dst, st, lambda c: fs.publish(tmp, c))
        finally:
            fs.remove_quietly(tmp)
        fs.fsync_dir(dst.parent)
        return dst, size, digest, made

    def linked(self, src: Path, cand: Path, st: os.stat_result) -> bool | None:
        """Hard-link src at cand; the new name must be the inode that was opened."""
        ok = fs.link_no_clobber(src, cand)
        if ok and inode(os.lstat(cand)) != inode(st):
            os.unlink(cand)
            raise Unsafe("it was replaced by another file (or a link) while it was being exported")
        return ok

    def one(self, i: int, src: Path, dst: Path) -> None:
        """Export one file; Unsafe means it was refused before anything was made."""
        fd, st = self.guard.open(src)
        try:
            self.folder(dst.parent)
            getattr(self, self.mode)(i, src, dst, fd, st)
        finally:
            os.close(fd)

    def copy(self, i, src, dst, fd, st) -> None:
        dst, size, digest, made = self.copy_to(i, src, dst, fd, st)
        self.record(i, src, dst, "done", lambda: os.unlink(dst), size=size, sha256=digest,
                    id=list(inode(made)))

    def symlink(self, i, src, dst, fd, st) -> None:
        def attempt(c):
            try:
                os.symlink(str(src), c)
                return True
            except FileExistsError:
                return False
        dst = self.place(i, src, dst, st, attempt)
        self.record(i, src, dst, "done", lambda: os.unlink(dst), target=str(src), size=st.st_size,
                    id=list(inode(os.lstat(dst))))

    def hardlink(self, i, src, dst, fd, st) -> None:
        def attempt(c):
            ok = self.linked(src, c, st)
            if ok is None:
                raise OSError(errno.EXDEV, "cannot hard-link here", str(c))
            return ok
        dst = self.place(i, src, dst, st, attempt)
        self.record(i, src, dst, "done", lambda: os.unlink(dst), id=list(inode(st)), inode=st.st_ino,
                    size=st.st_size)

    def move(self, i, src, dst, fd, st) -> None:
        placed = None
        if fs.device_of(src) == fs.device_of(dst.parent):
            size, digest = fs.hash_fd(fd)
            made, tried = st, []
            def attempt(c):
                tried.append(self.linked(src, c, st))
                return tried[-1] is not False
            cand = self.place(i, src, dst, st, attempt)
            if tried[-1]:
                placed = cand
                fs.fsync_dir(cand.parent)
        if placed is None:   # another disk, or a file system without hard links
            placed, size, digest, made = self.copy_to(i, src, dst, fd, st)
        now = os.lstat(src)
        if ident(now) != ident(st) or size != st.st_size:
            os.unlink(placed)
            raise OSError(errno.EBUSY, "the photo changed while it was being exported", str(src))
        kept = {"size": size, "sha256": digest, "id": list(inode(made))}
        self.record(i, src, placed, "verified", lambda: os.unlink(placed), **kept)
        try:
            fs.remove_source(src, ident(st), src.parent / fs.tmp_name(self.token, f"src-{i}"))
        except fs.Changed:
            # The user's new version is back at src; the copy of the old one is withdrawn.
            self.record(i, src, placed, "withdrawn", lambda: None, **kept)
            fs.remove_source(placed, inode(made), placed.parent / fs.tmp_name(self.token, f"rm-{i}"))
            raise
        self.record(i, src, placed, "done", lambda: None, **kept)

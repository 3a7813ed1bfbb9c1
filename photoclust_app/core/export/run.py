"""Carrying out an export plan, journalled so that any interruption can be undone."""
from __future__ import annotations

import datetime as _dt
import errno
import logging
import os
import secrets
import shutil
from pathlib import Path

from photoclust_app.core.export import fs
from photoclust_app.core.errors import Cancelled, ExportConflict
from photoclust_app.core.export.journal import VERSION, Journal
from photoclust_app.core.export.names import numbered
from photoclust_app.core.export.plan import EXPORT_MARKER, ExportPlan, check_mode
from photoclust_app.core.progress import CancelFn, ProgressFn, check_cancel, no_progress

log = logging.getLogger(__name__)

SPACE_MARGIN = 16 << 20
_MARKER_TEXT = b"This folder was made by a photoclust export; photoclust does not index it.\n"


class ExportFailed(ExportConflict):
    """The export stopped part-way (disk full, no permission...). Unlike a plain
    ExportConflict some files were exported: ``manifest`` lists them and undo_export
    reverses them. No source was lost or changed."""

    def __init__(self, message: str, *, manifest: Path | None, done: int, total: int):
        super().__init__(message)
        self.manifest, self.done, self.total = manifest, done, total


class ExportCancelled(Cancelled):
    """The user cancelled between files; ``manifest`` lists what was exported."""

    def __init__(self, message: str, *, manifest: Path, done: int, total: int):
        super().__init__(message)
        self.manifest, self.done, self.total = manifest, done, total


def _preflight(plan: ExportPlan) -> list[tuple[Path, Path]]:
    """Every check that can fail before anything is written."""
    check_mode(plan.mode)
    dest = Path(plan.dest)
    items = [(Path(s), Path(d)) for s, d in plan.items]
    if not items:
        raise ExportConflict("There are no photos to export.")
    if dest.exists() and not dest.is_dir():
        raise ExportConflict(f"The destination {dest} is a file, not a folder.")
    seen: set[str] = set()
    for src, dst in items:
        if not (src.is_absolute() and dst.is_absolute()) or dst.parent.parent != dest \
                or dst.parent.name in ("", ".", "..") or dst.name in ("", ".", ".."):
            raise ExportConflict(f"The plan would put {dst} outside {dest}; plan the export again.")
        if dst.parent.is_symlink() or (dst.parent.exists() and not dst.parent.is_dir()):
            raise ExportConflict(f"{dst.parent} is not a plain folder; choose another destination.")
        if not os.path.isfile(src):
            raise ExportConflict(f"{src} is no longer there; plan the export again.")
        if plan.mode == "move":
            key = os.path.normcase(os.path.realpath(src))
            if key in seen:
                raise ExportConflict(f"{src} appears twice in the plan and cannot be moved twice.")
            seen.add(key)
            if os.path.islink(src):
                raise ExportConflict(f"{src} is a symbolic link; export as copies instead.")
            if not os.access(src.parent, os.W_OK):
                raise ExportConflict(f"Photos cannot be moved out of {src.parent}: the folder is read-only.")
    dev = fs.device_of(dest)
    if plan.mode == "hardlink":
        other = next((s for s, _ in items if fs.device_of(s) != dev), None)
        if other is not None:
            raise ExportConflict(
                f"Hard links only work within one disk, and {other} is on a different disk than {dest}; "
                "export as copies or symbolic links instead. Nothing was changed.")
    if plan.mode in ("copy", "move"):
        need = sum(os.path.getsize(s) for s, _ in items
                   if plan.mode == "copy" or fs.device_of(s) != dev)
        free = shutil.disk_usage(fs.existing_ancestor(dest)).free
        if need and need + SPACE_MARGIN > free:
            raise ExportConflict(
                f"The destination disk has {free / 1e9:.1f} GB free but the export needs "
                f"{need / 1e9:.1f} GB; free some space or choose another disk. Nothing was changed.")
    return items


def _probe(dest: Path, items: list[tuple[Path, Path]], mode: str, token: str) -> None:
    """Try one write (and one link, for link modes) in dest, then remove it."""
    probe = dest / fs.tmp_name(token, "probe")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        os.unlink(probe)
    except OSError as err:
        raise ExportConflict(f"Cannot write into {dest} ({err.strerror}). Nothing was changed.") from err
    if mode == "symlink":
        try:
            os.symlink(items[0][0], probe)
            os.unlink(probe)
        except (OSError, NotImplementedError) as err:
            fs.remove_quietly(probe)
            raise ExportConflict(
                f"The destination {dest} does not support symbolic links "
                f"({getattr(err, 'strerror', None) or err}); export as copies instead. Nothing was changed.") from err
    if mode == "hardlink":
        by_dev = {fs.device_of(s): s for s, _ in items}
        for src in by_dev.values():
            try:
                os.link(src, probe)
                os.unlink(probe)
            except (OSError, NotImplementedError) as err:
                fs.remove_quietly(probe)
                if getattr(err, "errno", None) == errno.EXDEV:
                    raise ExportConflict(
                        f"Hard links only work within one disk, and {src} is on a different disk than "
                        f"{dest}; export as copies or symbolic links instead. Nothing was changed.") from err
                raise ExportConflict(
                    f"Cannot make hard links in {dest} ({getattr(err, 'strerror', None) or err}); "
                    "export as copies instead. Nothing was changed.") from err


class _Run:
    def __init__(self, plan: ExportPlan, items, journal: Journal, token: str):
        self.mode, self.items, self.journal, self.token = plan.mode, items, journal, token
        self.dest = Path(plan.dest)
        self.made: set[Path] = set()

    def folder(self, folder: Path) -> None:
        if folder in self.made or folder.is_dir():
            return
        os.mkdir(folder)
        try:
            self.journal.write({"type": "mkdir", "path": str(folder)})
        except OSError:
            os.rmdir(folder)   # unrecorded folders would outlive undo
            raise
        self.made.add(folder)
        fs.fsync_dir(self.dest)

    def begin(self, i: int, src: Path, dst: Path) -> None:
        # Flushed, not fsynced: enough to survive a killed process, cheap per file.
        self.journal.write({"type": "begin", "i": i, "src": str(src), "dst": str(dst)}, sync=False)

    def place(self, i: int, src: Path, dst: Path, attempt) -> Path:
        """Run attempt(candidate) -> bool over dst, 'x (2).jpg', ... until it succeeds.
        The plan avoided existing names; this covers files that appeared since."""
        base, n, cand = dst.name, 1, dst
        self.begin(i, src, cand)
        while not attempt(cand):
            n += 1
            cand = dst.parent / numbered(base, n, keep_extension=True)
            self.begin(i, src, cand)
        return cand

    def record(self, i, src, dst, status, undo_placed, **extra) -> None:
        rec = {"type": "item", "i": i, "src": str(src), "dst": str(dst), "mode": self.mode, **extra,
               "status": status}
        try:
            self.journal.write(rec)
        except OSError:
            undo_placed()   # keep the manifest true: what it does not list must not exist
            raise

    def copy_to(self, i, src, dst) -> tuple[Path, int, str]:
        tmp = dst.parent / fs.tmp_name(self.token, str(i))
        size, digest = fs.verified_copy(src, tmp)
        try:
            dst = self.place(i, src, dst, lambda c: fs.publish(tmp, c))
        finally:
            fs.remove_quietly(tmp)
        fs.fsync_dir(dst.parent)
        return dst, size, digest

    def one(self, i: int, src: Path, dst: Path) -> None:
        self.folder(dst.parent)
        if self.mode == "copy":
            dst, size, digest = self.copy_to(i, src, dst)
            self.record(i, src, dst, "done", lambda: os.unlink(dst), size=size, sha256=digest)
        elif self.mode == "symlink":
            def attempt(c):
                try:
                    os.symlink(str(src), c)
                    return True
                except FileExistsError:
                    return False
            dst = self.place(i, src, dst, attempt)
            self.record(i, src, dst, "done", lambda: os.unlink(dst), target=str(src),
                        size=os.path.getsize(src))
        elif self.mode == "hardlink":
            def attempt(c):
                ok = fs.link_no_clobber(src, c)
                if ok is None:
                    raise OSError(errno.EXDEV, "cannot hard-link here", str(c))
                return ok
            dst = self.place(i, src, dst, attempt)
            st = os.stat(dst)
            self.record(i, src, dst, "done", lambda: os.unlink(dst), inode=st.st_ino, size=st.st_size)
        else:
            self.move(i, src, dst)

    def move(self, i: int, src: Path, dst: Path) -> None:
        before = os.stat(src)
        placed = None
        if fs.device_of(src) == fs.device_of(dst.parent):
            size, digest = fs.hash_file(src)
            linked = []
            def attempt(c):
                ok = fs.link_no_clobber(src, c)
                linked.append(ok)
                return ok is not False
            cand = self.place(i, src, dst, attempt)
            if linked[-1]:
                placed = cand
                fs.fsync_dir(cand.parent)
        if placed is None:   # another disk, or a file system without hard links
            placed, size, digest = self.copy_to(i, src, dst)
        after = os.stat(src)
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or after.st_size != size:
            os.unlink(placed)
            raise OSError(errno.EBUSY, "the photo changed while it was being exported", str(src))
        self.record(i, src, placed, "verified", lambda: os.unlink(placed), size=size, sha256=digest)
        fs.remove_source(src)
        self.record(i, src, placed, "done", lambda: None, size=size, sha256=digest)


def _reason(err: OSError) -> str:
    if err.errno == errno.ENOSPC:
        return "the destination disk is full"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "permission denied"
    return err.strerror or str(err)


def run_export(plan: ExportPlan, *, progress: ProgressFn | None = None,
               cancel: CancelFn | None = None) -> Path:
    """Carry out a plan and return the manifest path (a journal inside plan.dest).

    copy: verified copy (temp name, fsync, size + SHA-256 of both) then a no-clobber link
    to the final name. move: the same verified copy, or a hard link on the same disk,
    journalled before the source is removed. symlink: an absolute symbolic link.
    hardlink: a hard link; when a source is on another disk than dest (EXDEV) this raises
    ExportConflict before anything is written, as it does when dest cannot hold symlinks.
    A failure part-way (disk full, permission, I/O error) stops the export, removes the
    partial temp file, leaves every source intact and raises ExportFailed, naming the
    manifest and how many files were done; cancel stops between files and raises
    ExportCancelled. Either way undo_export(manifest) reverses what was done.
    """
    progress = progress or no_progress
    items = _preflight(plan)
    dest, total = Path(plan.dest), len(items)
    token = secrets.token_hex(6)
    dest_created = not dest.exists()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ExportConflict(f"Could not create the folder {dest} ({err.strerror}). Nothing was changed.") from err
    marker, marker_created, journal = dest / EXPORT_MARKER, False, None
    try:
        _probe(dest, items, plan.mode, token)
        if not marker.exists():
            with open(marker, "xb") as f:
                f.write(_MARKER_TEXT)
            marker_created = True
        journal = Journal(dest)
        journal.write({"type": "header", "version": VERSION, "mode": plan.mode, "dest": str(dest),
                       "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                       "token": token, "dest_created": dest_created, "marker_created": marker_created,
                       "total": total, "folders": sorted({str(d.parent) for _, d in items})})
        fs.fsync_dir(dest)
    except (OSError, ExportConflict) as err:
        if journal is not None:
            journal.close()
            fs.remove_quietly(journal.path)
        if marker_created:
            fs.remove_quietly(marker)
        if dest_created:
            try:
                os.rmdir(dest)
            except OSError:
                pass
        if isinstance(err, ExportConflict):
            raise
        raise ExportConflict(f"Could not start the export in {dest} ({_reason(err)}). Nothing was changed.") from err

    run = _Run(plan, items, journal, token)
    done = 0
    progress(0, total, "export")
    try:
        for i, (src, dst) in enumerate(items):
            try:
                check_cancel(cancel)
            except Cancelled:
                _end(journal, "cancelled", done)
                raise ExportCancelled(
                    f"Export cancelled after {done} of {total} photos; they are listed in {journal.path.name} "
                    "and Undo export puts them back.", manifest=journal.path, done=done, total=total) from None
            try:
                run.one(i, src, dst)
            except OSError as err:
                _end(journal, "failed", done, error=str(err))
                raise ExportFailed(
                    f"Export stopped after {done} of {total} photos: could not export {src} "
                    f"({_reason(err)}). No photo was lost; the {done} exported photos are listed in "
                    f"{journal.path} and Undo export puts everything back.",
                    manifest=journal.path, done=done, total=total) from err
            done += 1
            progress(done, total, "export")
        _end(journal, "complete", done)
    finally:
        journal.close()
    log.info("exported %d photos (%s) to %s", done, plan.mode, dest)
    return journal.path


def _end(journal: Journal, status: str, done: int, **extra) -> None:
    try:
        journal.write({"type": "end", "status": status, "done": done, **extra})
    except OSError as err:  # the item lines are what undo needs; this one is a courtesy
        log.warning("could not finish manifest %s: %s", journal.path, err)

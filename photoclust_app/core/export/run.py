"""Carrying out an export plan: the checks before anything is written, then the journalled
steps (steps.py), so that any interruption can be undone."""
from __future__ import annotations

import datetime as _dt
import errno
import logging
import os
import secrets
import shutil
import stat
from pathlib import Path

from photoclust_app.core.display import printable_path
from photoclust_app.core.errors import Cancelled, ExportConflict
from photoclust_app.core.export import fs
from photoclust_app.core.export.guard import EXPORT_MARKER, Guard, Unsafe, inode
from photoclust_app.core.export.journal import VERSION, Journal
from photoclust_app.core.export.plan import ExportPlan, check_mode, default_root
from photoclust_app.core.export.steps import Steps
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


def human_size(n: float) -> str:
    """1234 -> '1.2 KB', 5e9 -> '5.0 GB': the unit that gives a readable number."""
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError


def _preflight(plan: ExportPlan, guard: Guard) -> list[tuple[Path, Path, int]]:
    """Every check that can fail before anything is written: (src, dst, size) of the items
    to do; sources that are no longer safe to touch go to plan.skipped."""
    check_mode(plan.mode)
    dest = Path(plan.dest)
    if not plan.items:
        raise ExportConflict("There are no photos to export.")
    if os.path.lexists(dest) and (os.path.islink(dest) or not dest.is_dir()):
        raise ExportConflict(f"The destination {dest} is not a plain folder; choose another destination.")
    seen: set[str] = set()
    items = []
    for src, dst in ((Path(s), Path(d)) for s, d in plan.items):
        if not (src.is_absolute() and dst.is_absolute()) or dst.parent.parent != dest \
                or dst.parent.name in ("", ".", "..") or dst.name in ("", ".", ".."):
            raise ExportConflict(f"The plan would put {dst} outside {dest}; plan the export again.")
        if dst.parent.is_symlink() or (dst.parent.exists() and not dst.parent.is_dir()):
            raise ExportConflict(f"{dst.parent} is not a plain folder; choose another destination.")
        try:
            st = guard.check(src)
        except FileNotFoundError:
            raise ExportConflict(f"{printable_path(str(src))} is no longer there; plan the export again.") from None
        except Unsafe as why:
            plan.skipped.append((src, str(why)))
            continue
        if plan.mode == "move":
            key = os.path.normcase(src)
            if key in seen:
                raise ExportConflict(f"{src} appears twice in the plan and cannot be moved twice.")
            seen.add(key)
            if not os.access(src.parent, os.W_OK):
                raise ExportConflict(f"Photos cannot be moved out of {src.parent}: the folder is read-only.")
        items.append((src, dst, st.st_size))
    if not items:
        src, why = plan.skipped[0]
        raise ExportConflict(f"None of the photos can be exported safely: {printable_path(str(src))} is "
                             f"refused because {why}. Nothing was changed.")
    dev = fs.device_of(dest)
    if plan.mode == "hardlink":
        other = next((s for s, _, _ in items if fs.device_of(s) != dev), None)
        if other is not None:
            raise ExportConflict(
                f"Hard links only work within one disk, and {other} is on a different disk than {dest}; "
                "export as copies or symbolic links instead. Nothing was changed.")
    if plan.mode in ("copy", "move"):
        need = sum(size for s, _, size in items if plan.mode == "copy" or fs.device_of(s) != dev)
        free = shutil.disk_usage(fs.existing_ancestor(dest)).free
        if need and need + SPACE_MARGIN > free:
            raise ExportConflict(
                f"The destination disk has {human_size(free)} free but the export needs "
                f"{human_size(need + SPACE_MARGIN)}; free some space or choose another disk. Nothing was changed.")
    return items


def _probe(dest: Path, items: list[tuple[Path, Path, int]], mode: str, token: str) -> None:
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
        by_dev = {fs.device_of(s): s for s, _, _ in items}
        for src in by_dev.values():
            try:
                fs.hard_link(src, probe)
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
    Every source is checked again here and at the moment it is used (guard.py); one that
    is no longer safe to touch is not touched, is journalled as a "skip" line and added
    to plan.skipped with the reason, and the export goes on. A failure part-way (disk
    full, permission, I/O error, a photo changed while being moved) stops the export,
    removes the partial temp file, leaves every source intact and raises ExportFailed,
    naming the manifest and how many files were done; cancel stops between files and
    raises ExportCancelled. Either way undo_export(manifest) reverses what was done.
    """
    progress = progress or no_progress
    root = Path(plan.source_root) if plan.source_root is not None else default_root([s for s, _ in plan.items])
    guard = Guard(root)
    items = _preflight(plan, guard)
    dest, total = Path(plan.dest), len(items)
    token = secrets.token_hex(6)
    dest_created = not dest.exists()
    try:
        dest.mkdir(parents=True, exist_ok=True)
        dest_st, root_st = os.lstat(dest), os.stat(root)
    except OSError as err:
        raise ExportConflict(f"Could not create the folder {dest} ({err.strerror}). Nothing was changed.") from err
    marker, marker_created, journal = dest / EXPORT_MARKER, False, None
    try:
        if not stat.S_ISDIR(dest_st.st_mode):
            raise ExportConflict(f"The destination {dest} is not a plain folder; choose another destination.")
        _probe(dest, items, plan.mode, token)
        if not os.path.lexists(marker):
            with open(marker, "xb") as f:
                f.write(_MARKER_TEXT)
            marker_created = True
        journal = Journal(dest)
        # dest_id binds the manifest to this folder; source_root confines what undo writes.
        journal.write({"type": "header", "version": VERSION, "mode": plan.mode, "dest": str(dest),
                       "dest_id": list(inode(dest_st)), "source_root": str(root),
                       "source_id": list(inode(root_st)),
                       "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                       "token": token, "dest_created": dest_created, "marker_created": marker_created,
                       "total": total, "folders": sorted({str(d.parent) for _, d, _ in items})})
        for src, why in plan.left_out:   # chosen not to export (one per duplicate group): listed
            journal.write({"type": "left_out", "src": str(src), "reason": why}, sync=False)
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

    steps = Steps(plan.mode, dest, guard, journal, token)
    done = skipped = 0
    progress(0, total, "export")
    try:
        for i, (src, dst, _) in enumerate(items):
            try:
                check_cancel(cancel)
            except Cancelled:
                _end(journal, "cancelled", done, skipped=skipped)
                raise ExportCancelled(
                    f"Export cancelled after {done} of {total} photos; they are listed in {journal.path.name} "
                    "and Undo export puts them back.", manifest=journal.path, done=done, total=total) from None
            try:
                steps.one(i, src, dst)
                done += 1
            except Unsafe as why:   # refused at the moment of the operation: never touched
                log.info("export refuses %s: %s", src, why)
                plan.skipped.append((src, str(why)))
                skipped += 1
                _skip(journal, i, src, str(why))
            except OSError as err:
                _end(journal, "failed", done, skipped=skipped, error=str(err))
                raise ExportFailed(
                    f"Export stopped after {done} of {total} photos: could not export {printable_path(str(src))} "
                    f"({_reason(err)}). No photo was lost; the {done} exported photos are listed in "
                    f"{printable_path(str(journal.path))} and Undo export puts everything back.",
                    manifest=journal.path, done=done, total=total) from err
            progress(done + skipped, total, "export")
        _end(journal, "complete", done, skipped=skipped)
    finally:
        journal.close()
    log.info("exported %d photos (%s) to %s, %d refused", done, plan.mode, dest, skipped)
    return journal.path


def _skip(journal: Journal, i: int, src: Path, reason: str) -> None:
    try:
        journal.write({"type": "skip", "i": i, "src": str(src), "reason": reason}, sync=False)
    except OSError as err:
        log.warning("could not note a refused photo in %s: %s", journal.path, err)


def _end(journal: Journal, status: str, done: int, **extra) -> None:
    try:
        journal.write({"type": "end", "status": status, "done": done, **extra})
    except OSError as err:  # the item lines are what undo needs; this one is a courtesy
        log.warning("could not finish manifest %s: %s", journal.path, err)

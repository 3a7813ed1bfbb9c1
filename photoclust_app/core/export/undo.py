"""Reversing an export from its manifest, without ever deleting something that changed.

A copy or link is removed only while it is still exactly what the export made and the
original still exists with the same bytes (otherwise it may now be the only copy). A moved
photo goes back only if its bytes still match the manifest's hash and nothing has taken
its old place. Anything else is left alone and reported in UndoReport.refused. Undo is
idempotent: running it again after a refusal is fixed, or after a crash, finishes the job.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from photoclust_app.core.export import fs
from photoclust_app.core.errors import ExportConflict
from photoclust_app.core.export.journal import (MANIFEST_PREFIX, MANIFEST_SUFFIX, ItemState, Manifest, append_record,
                             read_manifest)
from photoclust_app.core.export.plan import EXPORT_MARKER
from photoclust_app.core.progress import ProgressFn, no_progress

log = logging.getLogger(__name__)


@dataclass
class UndoReport:
    restored: int = 0                                  # moved files put back at their source
    removed: int = 0                                   # copies/links removed
    refused: list[tuple[Path, str]] = field(default_factory=list)   # (path, reason), left alone


def _matches(path: Path, rec: dict) -> bool:
    """Regular file (not a link) whose size and hash are the recorded ones."""
    try:
        if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) != rec["size"]:
            return False
        return fs.hash_file(path) == (rec["size"], rec["sha256"])
    except OSError:
        return False


class _Undo:
    def __init__(self, m: Manifest):
        self.m, self.token, self.report = m, m.header["token"], UndoReport()

    def refuse(self, path: Path, reason: str) -> None:
        log.info("undo leaves %s: %s", path, reason)
        self.report.refused.append((path, reason))

    def remove(self, dst: Path) -> None:
        os.unlink(dst)
        self.report.removed += 1

    def item(self, st: ItemState) -> None:
        src, dst, rec = st.src, st.dst, st.record
        if dst.parent.parent != self.m.dest:
            return self.refuse(dst, "it is outside the export folder named in the manifest; left alone")
        getattr(self, self.m.mode)(src, dst, rec, st)

    def copy(self, src, dst, rec, st) -> None:
        if not os.path.lexists(dst):
            return
        if rec is not None and not _matches(dst, rec):
            return self.refuse(dst, "this copy was changed after the export, so it is kept")
        if not os.path.isfile(src):
            return self.refuse(dst, f"the original {src} is gone, so this copy is now the only one and is kept")
        if rec is not None and not _matches(src, rec):
            return self.refuse(dst, f"the original {src} has changed since the export, so this copy "
                                    "(the only one of the exported version) is kept")
        if rec is None and not fs.files_identical(src, dst):
            return self.refuse(dst, "the export did not finish this file and it differs from the original; kept")
        self.remove(dst)

    def symlink(self, src, dst, rec, st) -> None:
        if not os.path.lexists(dst):
            return
        if os.path.islink(dst) and os.readlink(dst) == str(src):
            return self.remove(dst)
        self.refuse(dst, "this is no longer the link the export made; left alone")

    def hardlink(self, src, dst, rec, st) -> None:
        if not os.path.lexists(dst):
            return
        if not os.path.isfile(src):
            return self.refuse(dst, f"the original {src} is gone, so this link is now the only copy and is kept")
        if os.path.islink(dst) or not fs.same_file(src, dst):
            return self.refuse(dst, "this is no longer the same file as the original; left alone")
        self.remove(dst)

    def move(self, src, dst, rec, st) -> None:
        fs.remove_quietly(src.parent / fs.tmp_name(self.token, f"undo-{st.i}"))  # from a crashed undo
        if rec is None:   # interrupted before the copy was verified: the source was never removed
            if os.path.lexists(dst) and fs.files_identical(src, dst):
                self.remove(dst)
            elif os.path.lexists(dst):
                self.refuse(dst, "the export did not finish this file; left alone")
            return
        if not os.path.lexists(dst):
            if not _matches(src, rec):
                self.refuse(dst, f"the exported photo is no longer here, so it cannot be moved back to {src}")
            return
        if not _matches(dst, rec):
            return self.refuse(dst, "this photo was changed after the export, so it stays where it is")
        if os.path.lexists(src):
            if _matches(src, rec):      # the source is still (or again) there with the same bytes
                return self.remove(dst)
            return self.refuse(dst, f"something else now exists at {src}, so the photo stays here")
        self.move_back(src, dst, rec, st.i)

    def move_back(self, src: Path, dst: Path, rec: dict, i: int) -> None:
        os.makedirs(src.parent, exist_ok=True)
        linked = fs.link_no_clobber(dst, src) if fs.device_of(src.parent) == fs.device_of(dst) else None
        if linked is False:
            return self.refuse(dst, f"something else now exists at {src}, so the photo stays here")
        if linked is None:
            tmp = src.parent / fs.tmp_name(self.token, f"undo-{i}")
            fs.remove_quietly(tmp)
            if fs.verified_copy(dst, tmp) != (rec["size"], rec["sha256"]):
                fs.remove_quietly(tmp)
                return self.refuse(dst, "this photo changed while being moved back, so it stays here")
            try:
                if not fs.publish(tmp, src):
                    return self.refuse(dst, f"something else now exists at {src}, so the photo stays here")
            finally:
                fs.remove_quietly(tmp)
        fs.fsync_dir(src.parent)
        fs.remove_source(dst)
        self.report.restored += 1

    def sweep(self) -> None:
        """Remove this export's temp files, then the folders it made if they are empty."""
        pattern = fs.tmp_name(self.token, "*")
        for folder in {Path(f) for f in self.m.header.get("folders", [])} | {self.m.dest}:
            if folder.parent != self.m.dest and folder != self.m.dest:
                continue
            for tmp in folder.glob(pattern) if folder.is_dir() else ():
                fs.remove_quietly(tmp)
        others = self.other_manifests()
        for d in reversed(self.m.created_dirs):
            if d.parent == self.m.dest:
                try:
                    os.rmdir(d)
                except OSError:
                    self.hand_over(others, d)

    def other_manifests(self) -> list[Manifest]:
        """Other exports into the same folder (unreadable ones are skipped)."""
        out = []
        for p in self.m.dest.glob(f"{MANIFEST_PREFIX}*{MANIFEST_SUFFIX}"):
            if p != self.m.path:
                try:
                    out.append(read_manifest(p))
                except ExportConflict:
                    log.warning("ignoring unreadable manifest %s", p)
        return out

    def hand_over(self, others: list[Manifest], d: Path | None) -> None:
        """A folder (or, d None, the marker) this export made is still in use by a later
        export: make that export responsible for removing it when it is undone."""
        for o in others:
            if o.dest != self.m.dest:
                continue
            if d is None:
                append_record(o.path, {"type": "adopt", "marker": True})
            elif str(d) in o.header.get("folders", []):
                append_record(o.path, {"type": "adopt", "path": str(d)})

    def finish(self) -> None:
        dest, h = self.m.dest, self.m.header
        if self.report.refused:
            append_record(self.m.path, {
                "type": "undo", "restored": self.report.restored, "removed": self.report.removed,
                "refused": [[str(p), r] for p, r in self.report.refused]})
            return
        os.unlink(self.m.path)
        if self.m.owns_marker:
            others = [o for o in self.other_manifests() if o.dest == dest]
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
    the manifest and marker stay, so undo can be run again.
    """
    progress = progress or no_progress
    m = read_manifest(Path(manifest))
    u = _Undo(m)
    states = sorted(m.items.values(), key=lambda s: s.i, reverse=True)
    progress(0, len(states), "undo")
    for k, st in enumerate(states, 1):
        try:
            u.item(st)
        except OSError as err:
            u.refuse(st.dst, f"it could not be undone ({err.strerror or err}); left alone")
        progress(k, len(states), "undo")
    u.sweep()
    u.finish()
    r = u.report
    log.info("undo %s: %d restored, %d removed, %d refused", m.path.name, r.restored, r.removed, len(r.refused))
    return r

"""Writing cluster names into XMP sidecars beside the photos, journalled, and undoing it.

The photo itself is never opened: only ``NAME.EXT.xmp`` (digiKam's and darktable's
default, and the only form that cannot collide for IMG_1.jpg beside IMG_1.png) or, on
request, ``NAME.xmp`` (Lightroom's form, for raw files) next to it. Paths come from the
library, which is untrusted (see export/guard.py): a photo must pass the export's Guard
(inside the photo folder, real folders only, a regular file), and every sidecar operation
runs relative to its folder opened from the photo folder one component at a time with
O_NOFOLLOW, so no symbolic link (to the sidecar or to a folder on the way) can lead a
write outside. A sidecar that is a link, not a regular file, or not XMP is left alone
with the reason.

Before a sidecar is changed, a journal line in the library's folder keeps its previous
bytes (or that there was none) and the hash of what is written; undo_tags puts the
previous bytes back only where the sidecar still holds what photoclust wrote.
"""
from __future__ import annotations

import base64
import errno
import hashlib
import json
import logging
import os
import secrets
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from photoclust_app.core.display import printable_path
from photoclust_app.core.errors import PhotoclustError
from photoclust_app.core.export.guard import Guard, Unsafe
from photoclust_app.core.progress import ProgressFn, no_progress
from photoclust_app.core.tags import xmp

log = logging.getLogger(__name__)

NAMINGS = ("photo.ext.xmp", "photo.xmp")
JOURNAL_DIR = "tags"
JOURNAL_PREFIX = "photoclust-tags-"
VERSION = 1
_O_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class TagError(PhotoclustError):
    """Tagging could not start or be undone; nothing was changed."""


@dataclass
class TagReport:
    written: int = 0          # sidecars created or changed
    unchanged: int = 0        # already held exactly these keywords
    removed: int = 0          # sidecars photoclust had made and that are now empty
    skipped: list[tuple[Path, str]] = field(default_factory=list)   # (photo or sidecar, reason)
    journal: Path | None = None


def sidecar_name(photo_name: str, naming: str = NAMINGS[0]) -> str:
    if naming not in NAMINGS:
        raise TagError(f"Unknown sidecar naming {naming!r}; choose {' or '.join(NAMINGS)}.")
    if naming == "photo.xmp":
        stem, dot, _ = photo_name.rpartition(".")
        return (stem if dot and stem else photo_name) + ".xmp"
    return photo_name + ".xmp"


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


class _Folder:
    """One folder below root, opened without following any link; file operations by name."""

    def __init__(self, root: Path, folder: Path):
        rel = folder.relative_to(root).parts
        fd = os.open(root, _O_DIR)
        try:
            for part in rel:
                nd = os.open(part, _O_DIR | _O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = nd
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.ELOOP, errno.ENOTDIR):
                raise Unsafe("its folder is reached through a symbolic link (not followed)") from err
            raise
        self.fd = fd

    def close(self) -> None:
        os.close(self.fd)

    def read(self, name: str) -> tuple[bytes | None, os.stat_result | None]:
        """(bytes, lstat) of a plain sidecar, (None, None) when there is none."""
        try:
            fd = os.open(name, os.O_RDONLY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0), dir_fd=self.fd)
        except FileNotFoundError:
            return None, None
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise Unsafe("its sidecar is a symbolic link (not followed); left alone") from err
            raise
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise Unsafe("its sidecar is not a regular file; left alone")
            if st.st_size > xmp.MAX_SIDECAR_BYTES:
                raise Unsafe("its sidecar is too large to be XMP; left alone")
            return f.read(xmp.MAX_SIDECAR_BYTES + 1), st

    def unchanged(self, name: str, st: os.stat_result | None) -> bool:
        """The name still holds the file read (or still nothing)."""
        try:
            now = os.lstat(name, dir_fd=self.fd)
        except FileNotFoundError:
            return st is None
        return st is not None and (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) == \
            (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def replace(self, name: str, data: bytes | None, mode: int = 0o644) -> None:
        """Atomically give name the bytes data (None: remove it)."""
        if data is None:
            os.unlink(name, dir_fd=self.fd)
        else:
            tmp = f".photoclust-{secrets.token_hex(6)}-xmp.part"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, mode, dir_fd=self.fd)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            except BaseException:
                try:
                    os.unlink(tmp, dir_fd=self.fd)
                except OSError:
                    pass
                raise
        try:
            os.fsync(self.fd)
        except OSError:
            pass


class _Journal:
    def __init__(self, folder: Path, header: dict):
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        for n in range(1, 1000):
            path = folder / f"{JOURNAL_PREFIX}{stamp}-{n:03d}.jsonl"   # sorts in order made
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o600)
            except FileExistsError:
                continue
            self.path, self._f = path, os.fdopen(fd, "wb")
            self.write(header)
            return
        raise TagError(f"Could not create a tag journal in {folder}.")

    def write(self, rec: dict) -> None:
        self._f.write((json.dumps(rec, ensure_ascii=True) + "\n").encode("ascii"))
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()


def tag_photos(groups: list[tuple[str, list[Path]]], untagged: list[Path], root: Path, journal_dir: Path, *,
               naming: str = NAMINGS[0], progress: ProgressFn | None = None) -> TagReport:
    """Write each group's name as a keyword into its photos' sidecars (and take photoclust's
    keywords out of the sidecars of ``untagged`` photos, e.g. Unsorted ones).

    Other content of an existing sidecar is kept; a sidecar that would not change is not
    rewritten; a sidecar left empty that photoclust's keywords alone filled is removed. The
    journal (in journal_dir, returned in the report; None when nothing changed) is what
    undo_tags reverses. Photos or sidecars that are unsafe to touch are skipped with the
    reason. Re-running after a rename replaces the old keyword with the new one.
    """
    progress = progress or no_progress
    sidecar_name("x.jpg", naming)
    root = Path(os.path.abspath(root))
    wanted: dict[Path, list[str]] = {}
    for name, paths in groups:
        for p in paths:
            wanted.setdefault(Path(os.path.abspath(p)), []).append(name)
    for p in untagged:
        wanted.setdefault(Path(os.path.abspath(p)), [])
    report, guard = TagReport(), Guard(root)
    by_sidecar: dict[Path, tuple[Path, list[str]]] = {}
    for photo, names in wanted.items():
        try:
            guard.check(photo)
        except FileNotFoundError:
            if names:
                report.skipped.append((photo, "missing: not where the library says (index the folder to update it)"))
            continue
        except Unsafe as why:
            report.skipped.append((photo, str(why)))
            continue
        side = photo.parent / sidecar_name(photo.name, naming)
        if side in by_sidecar and by_sidecar[side][1] != names:
            report.skipped.append((photo, f"its sidecar {side.name} is also {by_sidecar[side][0].name}'s, which is "
                                          "in another cluster (use the photo.ext.xmp naming)"))
            continue
        by_sidecar.setdefault(side, (photo, names))
    journal = None
    folders: dict[Path, _Folder] = {}
    total = len(by_sidecar)
    progress(0, total, "tag")
    try:
        for k, (side, (photo, names)) in enumerate(sorted(by_sidecar.items()), 1):
            try:
                d = folders.get(side.parent) or folders.setdefault(side.parent, _Folder(root, side.parent))
                old, st = d.read(side.name)
                try:
                    new = xmp.merge(old, names)
                except xmp.NotXmp as why:
                    raise Unsafe(f"its sidecar {side.name} is left alone: {why}") from None
                if old is None and (new is None or not names):
                    continue
                if new == old:
                    report.unchanged += 1
                    continue
                if journal is None:
                    try:
                        journal = _Journal(journal_dir, {"type": "header", "version": VERSION, "root": str(root),
                                                         "naming": naming})
                    except OSError as err:   # no journal, no undo: touch nothing
                        raise TagError(f"Could not keep the tag journal in {printable_path(str(journal_dir))} "
                                       f"({err.strerror or err}), so no sidecar was written.") from err
                journal.write({"type": "sidecar", "path": os.path.relpath(side, root),
                               "before": None if old is None else base64.b64encode(old).decode("ascii"),
                               "after": _sha(new)})
                if not d.unchanged(side.name, st):
                    raise Unsafe(f"its sidecar {side.name} changed while it was being tagged; left alone")
                d.replace(side.name, new, stat.S_IMODE(st.st_mode) if st is not None else 0o644)
                if new is None:
                    report.removed += 1
                else:
                    report.written += 1
            except Unsafe as why:
                report.skipped.append((photo, str(why)))
            except OSError as err:
                report.skipped.append((photo, f"its sidecar could not be written ({err.strerror or err})"))
            progress(k, total, "tag")
    finally:
        for d in folders.values():
            d.close()
        if journal is not None:
            journal.close()
            report.journal = journal.path
    log.info("tagged: %d written, %d unchanged, %d removed, %d skipped", report.written, report.unchanged,
             report.removed, len(report.skipped))
    return report


@dataclass
class UntagReport:
    restored: int = 0
    refused: list[tuple[Path, str]] = field(default_factory=list)
    journal: Path | None = None


def journals(journal_dir: Path) -> list[Path]:
    """Tag journals, oldest first."""
    try:
        return sorted(p for p in Path(journal_dir).glob(f"{JOURNAL_PREFIX}*.jsonl") if p.is_file())
    except OSError:
        return []


def undo_tags(root: Path, journal_dir: Path, journal: Path | None = None) -> UntagReport:
    """Undo the newest tagging (or ``journal``): each sidecar that still holds what photoclust
    wrote gets its previous bytes back (or goes, when there was none before). One changed
    since (another app wrote to it) is left alone and listed. The journal is retired either
    way (renamed *.undone), so the next undo reaches the tagging before."""
    root = Path(os.path.abspath(root))
    found = journals(journal_dir)
    if journal is None:
        if not found:
            raise TagError("There is no tagging to undo.")
        journal = found[-1]
    try:
        lines = [json.loads(x) for x in Path(journal).read_bytes().splitlines() if x.strip()]
    except (OSError, ValueError) as err:
        raise TagError(f"{printable_path(str(journal))} is not a readable tag journal ({err}).") from None
    if not lines or lines[0].get("type") != "header" or lines[0].get("version") != VERSION \
            or lines[0].get("root") != str(root):
        raise TagError(f"{printable_path(str(journal))} is not a tag journal of {printable_path(str(root))}.")
    report, guard = UntagReport(journal=Path(journal)), Guard(root)
    for rec in reversed(lines[1:]):
        try:
            side = root / rec["path"]
            before = None if rec["before"] is None else base64.b64decode(rec["before"])
            after = rec["after"]
        except (KeyError, TypeError, ValueError):
            report.refused.append((Path(journal), "a damaged line in the journal; left alone"))
            continue
        try:
            if not side.name.endswith(".xmp"):
                raise Unsafe("it is not an XMP sidecar")
            guard.check_folders(side)
            d = _Folder(root, side.parent)
            try:
                now, st = d.read(side.name)
                if _sha(now) == after:
                    d.replace(side.name, before, stat.S_IMODE(st.st_mode) if st is not None else 0o644)
                    report.restored += 1
                elif now != before:
                    report.refused.append((side, "it changed since photoclust tagged it (another app wrote to "
                                                 "it?), so it is left as it is"))
            finally:
                d.close()
        except FileNotFoundError:
            if before is not None:
                report.refused.append((side, "its folder is gone"))
        except Unsafe as why:
            report.refused.append((side, str(why)))
        except OSError as err:
            report.refused.append((side, f"it could not be restored ({err.strerror or err})"))
    # Retired either way: what was refused stays as the other app left it, and the next undo
    # reaches the tagging before this one. The journal is kept under another name.
    os.replace(journal, Path(str(journal) + ".undone"))
    log.info("untag %s: %d restored, %d refused", journal, report.restored, len(report.refused))
    return report

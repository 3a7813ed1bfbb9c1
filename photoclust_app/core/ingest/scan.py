"""Find the photos under a folder: names, sizes and mtimes only, never file contents.

Policy, chosen so a scan can neither loop nor leave the folder:
- symbolic links are not followed (files or folders); each is listed as skipped;
- hidden files and folders (leading '.') are ignored: the library lives in one, and
  macOS/Windows junk (._*, .thumbnails) lives in the others;
- a folder holding the export marker is an export made by photoclust and is ignored (and
  listed as skipped, with that reason), so re-indexing never picks up copies of its photos;
- an entry that cannot even be stat'ed (a path longer than PATH_MAX) is listed as skipped;
- files are photos by extension; the decoder then checks the content.
"""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from photoclust_app.core.progress import CancelFn, check_cancel
from photoclust_app.core.records import PhotoRecord, Skip

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".dib", ".tif", ".tiff", ".webp",
    ".heic", ".heif", ".avif", ".ppm", ".pgm", ".pbm", ".tga", ".jp2",
})

# Must equal export.EXPORT_MARKER; kept here too so scanning never imports the exporter.
EXPORT_MARKER = ".photoclust-export"
EXPORT_SKIP_REASON = "a photoclust export (copies of photos already here), not indexed"


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def scan_folder(folder: str | os.PathLike, *, cancel: CancelFn | None = None) -> tuple[list[PhotoRecord], list[Skip]]:
    """Every photo file under FOLDER (sorted by path), and what was passed over with a reason."""
    root = Path(folder)
    records: list[PhotoRecord] = []
    skips: list[Skip] = []
    stack = [""]
    while stack:
        check_cancel(cancel)
        rel_dir = stack.pop()
        abs_dir = os.path.join(root, rel_dir) if rel_dir else str(root)
        try:
            with os.scandir(abs_dir) as it:
                entries = list(it)
        except OSError as err:
            if rel_dir:
                skips.append(Skip(rel_dir + "/", f"folder not readable ({err.strerror or err})"))
                continue
            raise
        if rel_dir and any(e.name == EXPORT_MARKER for e in entries):
            log.info("Ignoring %s: it is a photoclust export", rel_dir)
            skips.append(Skip(rel_dir + "/", EXPORT_SKIP_REASON))
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            rel = f"{rel_dir}/{name}" if rel_dir else name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as err:  # e.g. a path longer than PATH_MAX: say so, whatever it is
                skips.append(Skip(rel, f"cannot be read ({err.strerror or err})"))
                continue
            if stat.S_ISLNK(st.st_mode):
                if is_image_name(name) or _points_to_dir(entry.path):
                    skips.append(Skip(rel, "symbolic link (not followed)"))
                continue
            if stat.S_ISDIR(st.st_mode):
                stack.append(rel)
            elif stat.S_ISREG(st.st_mode) and is_image_name(name):
                records.append(PhotoRecord(rel, st.st_size, st.st_mtime_ns))
    records.sort(key=lambda r: r.relpath)
    skips.sort(key=lambda s: s.relpath)
    return records, skips


def _points_to_dir(path: str) -> bool:
    try:
        return os.path.isdir(path)
    except OSError:
        return False

"""Planning an export: which file goes where. Touches nothing, so it is also the dry run."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from photoclust_app.core.export import fs
from photoclust_app.core.errors import ExportConflict
from photoclust_app.core.export.names import name_key, sanitize_file_name, sanitize_folder_name, unique_name

log = logging.getLogger(__name__)

MODES = ("copy", "move", "symlink", "hardlink")
# Written into every export destination; the scanner skips any directory that holds it,
# so exports inside the library folder are never indexed again.
UNSORTED_FOLDER = "Unsorted"  # the folder Unsorted photos go to when included
EXPORT_MARKER = ".photoclust-export"


@dataclass
class ExportPlan:
    dest: Path
    mode: str                                   # "copy" | "move" | "symlink" | "hardlink"
    items: list[tuple[Path, Path]] = field(default_factory=list)   # (src, dst), absolute
    folders: list[tuple[str, int]] = field(default_factory=list)   # (folder name, photo count)


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ExportConflict(f"Unknown export mode {mode!r}; choose copy, move, symlink or hardlink.")


def _resolved(p: Path) -> Path:
    return Path(os.path.realpath(p))


def _existing_names(folder: Path) -> set[str]:
    try:
        return {name_key(n) for n in os.listdir(folder)}
    except (FileNotFoundError, NotADirectoryError):
        return set()


def _check_sources(paths: list[Path], mode: str) -> None:
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise ExportConflict(
            f"{len(missing)} photo(s) are no longer where the library says, e.g. {missing[0]}; "
            "rescan the folder before exporting.")
    if mode == "move":
        links = [p for p in paths if os.path.islink(p)]
        if links:
            raise ExportConflict(
                f"{links[0]} is a symbolic link, and moving links could leave the photo behind; "
                "export as copies instead.")


def _check_dest(dest: Path, sources: list[Path], source_root: Path | None, mode: str) -> None:
    if dest.exists() and not dest.is_dir():
        raise ExportConflict(f"The destination {dest} is a file, not a folder.")
    if source_root is not None and dest == _resolved(Path(source_root)):
        raise ExportConflict(
            "The destination is the photo folder itself; choose a new folder (a subfolder such as "
            f"{dest / 'Sorted'} is fine).")
    own = {_resolved(p.parent) for p in sources}
    if dest in own:
        raise ExportConflict(
            f"The destination {dest} already holds some of the photos being exported, so files would "
            "land on themselves; choose a new folder.")
    if mode == "hardlink":
        dev = fs.device_of(dest)
        other = next((p for p in sources if fs.device_of(p) != dev), None)
        if other is not None:
            raise ExportConflict(
                f"Hard links only work within one disk, and {other} is on a different disk than {dest}; "
                "export as copies or symbolic links instead. Nothing was changed.")


def plan_export(groups: list[tuple[str, list[Path]]], dest: Path, *, mode: str = "copy",
                source_root: Path | None = None) -> ExportPlan:
    """Plan one subfolder per group under dest; creates nothing (this is the dry run).

    Folder names are sanitised and made unique case-insensitively ("Dogs", "Dogs (2)");
    an existing folder of the same name is reused. File names that collide with another
    planned file or a file already on disk get " (2)", " (3)" before the extension, so
    the plan never overwrites. A photo listed in two groups is moved only once (the first
    group wins); copies and links place it in both. Empty groups get no folder.
    DEST inside source_root is allowed (run_export writes EXPORT_MARKER there).
    Raises ExportConflict (a sentence for the user) when the export cannot be safe.
    """
    check_mode(mode)
    dest = _resolved(Path(dest).expanduser())
    seen: set[str] = set()
    cleaned: list[tuple[str, list[Path]]] = []
    for name, paths in groups:
        kept = []
        for p in paths:
            p = Path(os.path.abspath(Path(p).expanduser()))
            key = os.path.normcase(os.path.realpath(p))
            if mode == "move" and key in seen:
                log.warning("%s is in more than one group; it is moved only once", p)
                continue
            seen.add(key)
            kept.append(p)
        if kept:
            cleaned.append((name, kept))
    sources = [p for _, ps in cleaned for p in ps]
    if not sources:
        raise ExportConflict("There are no photos to export.")
    _check_sources(sources, mode)
    _check_dest(dest, sources, source_root, mode)

    dest_names = _existing_names(dest)
    taken_folders: set[str] = set()
    plan = ExportPlan(dest=dest, mode=mode)
    for display, paths in cleaned:
        base = sanitize_folder_name(display)
        while True:  # skip names used by another group, or on disk by a file or a symlink
            folder_name = unique_name(base, taken_folders, keep_extension=False)
            folder = dest / folder_name
            if name_key(folder_name) not in dest_names:
                break
            match = next((e for e in os.listdir(dest) if name_key(e) == name_key(folder_name)), None)
            if match is not None and (dest / match).is_dir() and not (dest / match).is_symlink():
                folder_name, folder = match, dest / match   # reuse an existing real folder
                break
        inside = next((p for p in paths if _resolved(p.parent) == _resolved(folder)), None)
        if inside is not None:
            raise ExportConflict(
                f"{inside} is already in the folder {folder} this export would fill; "
                "choose a new destination folder.")
        taken_files = _existing_names(folder)
        for src in paths:
            fname = unique_name(sanitize_file_name(src.name), taken_files, keep_extension=True)
            plan.items.append((src, folder / fname))
        plan.folders.append((folder_name, len(paths)))
    return plan

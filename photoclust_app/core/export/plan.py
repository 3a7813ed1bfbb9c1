"""Planning an export: which file goes where. Touches nothing, so it is also the dry run."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from photoclust_app.core.export import fs
from photoclust_app.core.errors import ExportConflict
from photoclust_app.core.display import printable_path
from photoclust_app.core.export.guard import Guard, Unsafe
from photoclust_app.core.export.names import name_key, sanitize_file_name, sanitize_folder_name, unique_name

log = logging.getLogger(__name__)

MODES = ("copy", "move", "symlink", "hardlink")
UNSORTED_FOLDER = "Unsorted"  # the folder Unsorted photos go to when included


@dataclass
class ExportPlan:
    dest: Path
    mode: str                                   # "copy" | "move" | "symlink" | "hardlink"
    items: list[tuple[Path, Path]] = field(default_factory=list)   # (src, dst), absolute
    folders: list[tuple[str, int]] = field(default_factory=list)   # (folder name, photo count)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (src, reason): never touched
    source_root: Path | None = None             # every src is inside it (undo holds to it too)
    left_out: list[tuple[Path, str]] = field(default_factory=list)  # (src, why): not exported by choice (manifest)


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


def default_root(paths: list[Path]) -> Path:
    """The photo folder when the caller names none: the deepest folder holding every path."""
    try:
        return Path(os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths]))
    except ValueError:     # different drives (Windows)
        return Path(os.path.abspath(paths[0])).parent


def _check_sources(paths: list[Path], root: Path, plan: ExportPlan) -> list[Path]:
    """The sources that are safe to touch (guard.Guard's rules); the others go to
    plan.skipped with the reason. A photo no longer where the library says (moved away by a
    move export, a drive unplugged since the last scan) is skipped too: the rest still goes.
    Raises when none is left."""
    guard, kept, missing = Guard(root), [], []
    for p in paths:
        try:
            guard.check(p)
        except FileNotFoundError:
            missing.append(p)
            plan.skipped.append((p, "missing: not where the library says (index the folder to update it)"))
        except Unsafe as why:
            log.info("export refuses %s: %s", p, why)
            plan.skipped.append((p, str(why)))
        else:
            kept.append(p)
    if not kept and missing and len(missing) == len(paths):
        raise ExportConflict(
            f"None of the {len(paths)} photos is where the library says, e.g. {printable_path(str(missing[0]))}; "
            "index the folder first (after a move export, the photos live in the export).")
    if not kept:
        p, why = plan.skipped[0]
        raise ExportConflict(f"None of the {len(paths)} photos can be exported safely: "
                             f"{printable_path(str(p))} is refused because {why}.")
    return kept


def _check_dest(dest: Path, sources: list[Path], others: list[Path], source_root: Path | None,
                mode: str) -> None:
    if dest.exists() and not dest.is_dir():
        raise ExportConflict(f"The destination {dest} is a file, not a folder.")
    if source_root is not None and dest == _resolved(Path(source_root)):
        raise ExportConflict(
            "The destination is the photo folder itself; choose a new folder (a subfolder such as "
            f"{dest / 'Sorted'} is fine).")
    # The scanner skips every folder holding the export marker: a DEST above photos of the
    # library would make them drop out of it at the next scan (and files land on themselves).
    # Lexical, as the scanner sees the folder (it follows no links).
    inside = next((p for p in (*sources, *others) if dest in Path(os.path.abspath(p)).parents), None)
    if inside is not None:
        raise ExportConflict(
            f"The destination {dest} holds photos of this library, e.g. {printable_path(str(inside))}; "
            "photoclust never indexes a folder it exports into, so they would drop out of the library. "
            "Choose a folder that holds none of the photos.")
    if mode == "hardlink":
        dev = fs.device_of(dest)
        other = next((p for p in sources if fs.device_of(p) != dev), None)
        if other is not None:
            raise ExportConflict(
                f"Hard links only work within one disk, and {other} is on a different disk than {dest}; "
                "export as copies or symbolic links instead. Nothing was changed.")


def plan_export(groups: list[tuple[str, list[Path]]], dest: Path | str, *, mode: str = "copy",
                source_root: Path | None = None, others: list[Path] = (),
                left_out: list[tuple[Path, str]] = ()) -> ExportPlan:
    """Plan one subfolder per group under dest; creates nothing (this is the dry run).

    Folder names are sanitised and made unique case-insensitively ("Dogs", "Dogs (2)");
    an existing folder of the same name is reused. File names that collide with another
    planned file or a file already on disk get " (2)", " (3)" before the extension, so
    the plan never overwrites. A photo listed in two groups is moved only once (the first
    group wins); copies and links place it in both. Empty groups get no folder.
    Paths come from the library, which is untrusted: one outside source_root (default: the
    folder holding them all), reached through a symbolic link, or not a regular file goes
    to plan.skipped with the reason, never touched. DEST inside source_root is allowed
    (run_export writes EXPORT_MARKER there) unless it holds photos of the library (the
    sources, or ``others``: the library's photos left out of this export).
    LEFT_OUT: (path, why) of photos the caller chose not to export (e.g. the extra copies of a
    duplicate group): kept in plan.left_out, listed in the manifest.
    Raises ExportConflict (a sentence for the user) when the export cannot be safe.
    """
    check_mode(mode)
    if not str(dest).strip():
        raise ExportConflict("Choose a destination folder: an empty path would mean the current folder.")
    dest = _resolved(Path(dest).expanduser())
    seen: set[str] = set()
    cleaned: list[tuple[str, list[Path]]] = []
    for name, paths in groups:
        kept = []
        for p in paths:
            p = Path(os.path.abspath(Path(p).expanduser()))
            key = os.path.normcase(p)
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
    root = Path(os.path.abspath(source_root)) if source_root is not None else default_root(sources)
    plan = ExportPlan(dest=dest, mode=mode, source_root=root, left_out=list(left_out))
    safe = set(_check_sources(list(dict.fromkeys(sources)), root, plan))
    cleaned = [(n, [p for p in ps if p in safe]) for n, ps in cleaned]
    cleaned = [(n, ps) for n, ps in cleaned if ps]
    _check_dest(dest, [p for p in sources if p in safe], list(others), source_root, mode)

    dest_names = _existing_names(dest)
    taken_folders: set[str] = set()
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
        taken_files = _existing_names(folder)
        for src in paths:
            fname = unique_name(sanitize_file_name(src.name), taken_files, keep_extension=True)
            plan.items.append((src, folder / fname))
        plan.folders.append((folder_name, len(paths)))
    return plan

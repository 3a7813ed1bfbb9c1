"""SQLite failures as sentences, and moving a damaged library aside.

Whatever a disk, a crash or a hand edit does to the library file, the user reads one
sentence saying what happened and what to do, never a raw ``sqlite3`` traceback; a library
that cannot be read is moved aside (kept, never deleted) so the next index starts afresh.
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from photoclust_app.core.errors import LibraryDamaged, LibraryError

_FULL = ("database or disk is full", "disk is full")
_READONLY = ("attempt to write a readonly database", "readonly database")
_IO = ("disk i/o error",)
_DAMAGED = ("file is not a database", "malformed", "no such table", "no such column", "already exists",
            "not an error", "unsupported file format", "datatype mismatch")


def library_error(err: sqlite3.Error, path: str | os.PathLike, folder: str | os.PathLike | None = None) -> LibraryError:
    """The sentence for ERR, raised while using the library at PATH (of photo FOLDER)."""
    text = str(err).lower()
    where = f"The library file {path}"
    if any(k in text for k in _FULL):
        return LibraryError(f"The disk holding {path} is full. Free some space and run the same command again; "
                            "everything finished so far is kept.")
    if any(k in text for k in _READONLY):
        return LibraryError(f"{where} cannot be written (it or its folder was made read-only). "
                            "Give it write permission back and run the same command again.")
    if any(k in text for k in _IO):
        return LibraryError(f"{where} could not be read or written (disk I/O error): check the disk or share it "
                            "lives on, then run the same command again.")
    fix = f"`photoclust repair {folder}`" if folder else "`photoclust repair FOLDER`"
    if any(k in text for k in _DAMAGED) or isinstance(err, sqlite3.DatabaseError):
        return LibraryDamaged(f"{where} is damaged ({err}). Run {fix} to move it aside (it is kept, not deleted) "
                            "and index the folder again; your photos are not touched.")
    return LibraryError(f"{where} could not be used ({err}).")


def folder_library_error(err: sqlite3.Error, folder: str | os.PathLike | None) -> LibraryError:
    """library_error for the library of photo FOLDER (None: unknown)."""
    if not folder:
        return library_error(err, "of this folder")
    from photoclust_app.core.store.location import library_path_for

    try:
        path: str | Path = library_path_for(Path(folder).expanduser())
    except OSError:
        path = f"of {folder}"
    return library_error(err, path, folder)


def move_aside(path: str | os.PathLike) -> Path:
    """Rename the library file (and its -wal/-shm companions) to ``*.damaged-<time>``;
    returns the new path of the main file. Nothing is deleted."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            os.rename(src, Path(str(target) + suffix))
    return target

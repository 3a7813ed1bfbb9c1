"""Where a photo folder's library lives.

Inside the folder (``FOLDER/.photoclust/library.sqlite``) so it travels with the photos;
when FOLDER is read-only, in the user data dir (platformdirs), keyed by the folder's path.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

LIBRARY_DIRNAME = ".photoclust"
LIBRARY_FILENAME = "library.sqlite"


def fallback_dir(folder: Path) -> Path:
    from platformdirs import user_data_dir

    digest = hashlib.sha1(os.fsencode(str(folder))).hexdigest()[:12]
    return Path(user_data_dir("photoclust")) / "libraries" / f"{folder.name or 'root'}-{digest}"


def library_path_for(folder: Path) -> Path:
    """Where FOLDER's library is, or would be created."""
    folder = Path(folder).resolve()
    inside = folder / LIBRARY_DIRNAME / LIBRARY_FILENAME
    if inside.exists():
        return inside
    fallback = fallback_dir(folder) / LIBRARY_FILENAME
    if fallback.exists() or not writable(folder):
        return fallback
    return inside


def writable(folder: Path) -> bool:
    """Writable, and not marked read-only: root may write anywhere, but a folder without
    write bits says its owner wants it left alone (a shared or archived photo set)."""
    try:
        return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & 0o222)
    except OSError:
        return False

"""Where a photo folder's library lives.

Inside the folder (``FOLDER/.photoclust/library.sqlite``) so it travels with the photos;
when FOLDER is read-only, in the user data dir (platformdirs), keyed by the folder's path
and the identity of the volume it is on: two memory cards mounted at the same path at
different times are different volumes, and must not share (or overwrite) one library.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

LIBRARY_DIRNAME = ".photoclust"
LIBRARY_FILENAME = "library.sqlite"


def volume_id(folder: Path) -> str:
    """A name for the filesystem FOLDER is on that differs between two cards or drives
    mounted at the same place: its UUID or serial (Linux: /dev/disk/by-uuid), else ""."""
    try:
        dev = os.stat(folder).st_dev
        by_uuid = Path("/dev/disk/by-uuid")
        for link in sorted(by_uuid.iterdir()) if by_uuid.is_dir() else ():
            try:
                if os.stat(link).st_rdev == dev:
                    return link.name
            except OSError:
                continue
    except OSError:
        pass
    return ""


def fallback_dir(folder: Path) -> Path:
    from platformdirs import user_data_dir

    key = os.fsencode(str(folder))
    vol = volume_id(folder)
    if vol:
        key += b"\0" + vol.encode()
    digest = hashlib.sha1(key).hexdigest()[:12]
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

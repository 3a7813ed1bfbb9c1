"""The desktop's trash, as the freedesktop.org Trash specification (1.0) defines it.

A file on the same device as the home trash ($XDG_DATA_HOME/Trash, default
~/.local/share/Trash) goes there; a file on another device goes to that volume's
$topdir/.Trash/$uid when the administrator made $topdir/.Trash (a real folder with the sticky
bit, not a link), else to $topdir/.Trash-$uid (made 0700 if needed). The name is reserved by
creating info/NAME.trashinfo with O_EXCL first, as the spec asks, so two programs trashing
"IMG_1.jpg" at once never take the same name; the file then goes to files/NAME. File
managers (Nautilus, Dolphin, Thunar) list it and can restore it, and so can undo-dedupe.
"""
from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from photoclust_app.core.errors import PhotoclustError


class TrashUnavailable(PhotoclustError):
    """No trash can take a file on this volume (a sentence for the user)."""


@dataclass(frozen=True)
class Trash:
    root: Path          # .../Trash or $topdir/.Trash-$uid
    topdir: Path | None  # None for the home trash (Path= is absolute there)

    @property
    def files(self) -> Path:
        return self.root / "files"

    @property
    def info(self) -> Path:
        return self.root / "info"


def home_trash() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or ""
    base = Path(data) if data and os.path.isabs(data) else Path.home() / ".local" / "share"
    return base / "Trash"


def _device(p: Path) -> int:
    while not os.path.lexists(p) and p.parent != p:
        p = p.parent
    return os.stat(p).st_dev


def _mount_point(p: Path) -> Path:
    p = Path(os.path.abspath(p))
    dev = os.lstat(p).st_dev
    while p.parent != p and os.lstat(p.parent).st_dev == dev:
        p = p.parent
    return p


def _ensure_dir(p: Path) -> None:
    try:
        os.makedirs(p, mode=0o700, exist_ok=True)
    except OSError as err:
        raise TrashUnavailable(f"The trash folder {p} cannot be made ({err.strerror or err}).") from err
    st = os.lstat(p)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise TrashUnavailable(f"The trash folder {p} is not a plain folder (a link?), so nothing is put there.")


def trash_for(path: Path) -> Trash:
    """The trash that takes PATH (made as needed), following the spec's choice."""
    home = home_trash()
    if _device(path) == _device(home):
        _ensure_dir(home / "files")
        _ensure_dir(home / "info")
        return Trash(home, None)
    top = _mount_point(path.parent)
    uid = os.geteuid() if hasattr(os, "geteuid") else 0
    shared = top / ".Trash"
    try:
        st = os.lstat(shared)
        if stat.S_ISDIR(st.st_mode) and not stat.S_ISLNK(st.st_mode) and st.st_mode & stat.S_ISVTX:
            root = shared / str(uid)
            _ensure_dir(root / "files")
            _ensure_dir(root / "info")
            return Trash(root, top)
    except FileNotFoundError:
        pass
    root = top / f".Trash-{uid}"
    _ensure_dir(root / "files")
    _ensure_dir(root / "info")
    return Trash(root, top)


def _names(name: str):
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    yield name
    for n in range(2, 10_000):
        yield f"{stem}.{n}.{ext}" if ext else f"{stem}.{n}"


def reserve(trash: Trash, src: Path, when: float | None = None) -> tuple[Path, Path]:
    """Write info/NAME.trashinfo for SRC (O_EXCL) and return (info file, files/NAME)."""
    src = Path(os.path.abspath(src))
    shown = os.fsencode(src if trash.topdir is None else src.relative_to(trash.topdir))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() if when is None else when))
    body = f"[Trash Info]\nPath={quote(shown, safe='/')}\nDeletionDate={stamp}\n".encode("ascii")
    for name in _names(src.name):
        info = trash.info / f"{name}.trashinfo"
        target = trash.files / name
        if os.path.lexists(target):
            continue
        try:
            fd = os.open(info, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        if os.path.lexists(target):      # taken meanwhile by a program that skipped the info file
            os.unlink(info)
            continue
        return info, target
    raise TrashUnavailable(f"The trash has no free name for {src.name}.")

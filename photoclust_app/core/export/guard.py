"""Which paths export and undo may touch, checked again at the moment of each operation.

Paths come from the library, which lives inside the photo folder and travels with it, and
from manifests, which anyone can edit: both are untrusted. A source must lie inside the
photo folder, be reached through real folders only (no symbolic link in any component),
sit outside photoclust's own folders, and be a regular file. It is then opened with
O_NOFOLLOW, walking down from the root folder by folder where the OS allows, and the
opened file's (st_dev, st_ino) compared with what was checked: a file or folder swapped
for a link after the check is refused, never read.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from photoclust_app.core.display import printable_path
from photoclust_app.core.store.location import LIBRARY_DIRNAME

EXPORT_MARKER = ".photoclust-export"    # the scanner skips folders holding this file
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_READ = os.O_RDONLY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
    | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)

Ident = tuple[int, int, int, int]       # st_dev, st_ino, st_size, st_mtime_ns


class Unsafe(Exception):
    """A path export or undo must not touch; str(err) is the reason, for the user."""


def ident(st: os.stat_result) -> Ident:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def inode(st: os.stat_result) -> tuple[int, int]:
    """(st_dev, st_ino): which file this is, whatever its name or contents."""
    return st.st_dev, st.st_ino


def under(path: Path, root: Path) -> bool:
    """Lexically inside root (or root itself); both absolute and normalised."""
    return path == root or root in path.parents


class Guard:
    """Checks paths below one trusted root (the photo folder, or DEST for undo)."""

    def __init__(self, root: Path, *, skip_marked: bool = True):
        self.root = Path(os.path.abspath(root))
        self.skip_marked = skip_marked
        self._dirs: dict[Path, str] = {}    # folder -> "" (fine) or why not

    def _folder(self, d: Path) -> str:
        if d not in self._dirs:
            try:
                st = os.lstat(d)
                if stat.S_ISLNK(st.st_mode):
                    why = f"it is reached through the symbolic link {printable_path(str(d))}"
                elif not stat.S_ISDIR(st.st_mode):
                    why = f"{printable_path(str(d))} is not a folder"
                elif self.skip_marked and d != self.root and os.path.lexists(d / EXPORT_MARKER):
                    why = "it is in a folder photoclust exported into, which it never indexes"
                else:
                    why = ""
            except FileNotFoundError:
                why = "missing"
            self._dirs[d] = why
        return self._dirs[d]

    def check_folders(self, path: Path) -> None:
        """path is inside root and every folder from root down to its parent is real.
        Raises Unsafe, or FileNotFoundError when a folder on the way does not exist."""
        p = Path(os.path.abspath(path))       # also folds '..', so the test below is exact
        if p == self.root or self.root not in p.parents:
            raise Unsafe(f"it is outside the folder {printable_path(str(self.root))}")
        rel = p.relative_to(self.root).parts
        if rel[0] == LIBRARY_DIRNAME:
            raise Unsafe("it is inside photoclust's own library folder")
        d = self.root
        for part in rel[:-1]:
            d = d / part
            why = self._folder(d)
            if why == "missing":
                raise FileNotFoundError(2, "No such file or directory", str(d))
            if why:
                raise Unsafe(why)

    def check(self, path: Path) -> os.stat_result:
        """lstat of a source that passes every rule (see the module doc); raises Unsafe,
        or FileNotFoundError when it is not there."""
        try:
            self.check_folders(path)
            st = os.lstat(path)
        except ValueError as err:               # a NUL byte in a hand-edited path
            raise Unsafe("it is not a valid path") from err
        if stat.S_ISLNK(st.st_mode):
            raise Unsafe("it is a symbolic link (not followed)")
        if not stat.S_ISREG(st.st_mode):
            raise Unsafe("it is not a regular file")
        return st

    def open(self, path: Path) -> tuple[int, os.stat_result]:
        """Check, then open for reading: (fd, fstat). Where the OS allows, the open walks
        down from root one folder at a time with O_NOFOLLOW, so no folder swapped for a
        link after the check can lead elsewhere; the file opened must be the one checked."""
        st = self.check(path)
        rel = Path(os.path.abspath(path)).relative_to(self.root).parts
        return open_exact(path, inode(st), beneath=(self.root, rel) if _DIR_FD else None)


_DIR_FD = os.open in os.supports_dir_fd and bool(_O_NOFOLLOW) and hasattr(os, "O_DIRECTORY")


def _open_beneath(root: Path, rel: tuple[str, ...]) -> int:
    d = os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        for part in rel[:-1]:
            nd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | _O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), dir_fd=d)
            os.close(d)
            d = nd
        return os.open(rel[-1], _O_READ, dir_fd=d)
    finally:
        os.close(d)


def open_exact(path: Path, expect: tuple[int, int], beneath: tuple[Path, tuple[str, ...]] | None = None
               ) -> tuple[int, os.stat_result]:
    """Open a regular file read-only without following a final link (or, with ``beneath``,
    any link on the way down from that root): Unsafe unless its (dev, ino) is ``expect``."""
    try:
        fd = _open_beneath(*beneath) if beneath else os.open(path, _O_READ)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise Unsafe("it is a symbolic link, or reached through one (not followed)") from err
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Unsafe("it is not a regular file")
        if inode(st) != tuple(expect):
            raise Unsafe("it was replaced by another file while it was being checked")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def lstat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def is_regular(st: os.stat_result | None) -> bool:
    return st is not None and stat.S_ISREG(st.st_mode)

"""Whether a manifest may be acted on at all, and which of its paths undo may touch.

Anyone can write or edit a manifest, so undo holds it to what the export recorded: the
manifest must sit in the folder it names as DEST, that folder must be the very one the
export wrote to (st_dev, st_ino in the header), and the photo folder must be the one it
exported from, and the manifest must belong to the user running undo. A manifest copied
elsewhere, or edited to name another folder, is refused with a sentence. Each item's dst
must then be DEST/<folder>/<name> and its src inside the photo folder and outside DEST,
so nothing elsewhere on the disk can be named at all; and a file counts as the export's
own only while it is the recorded inode with the recorded size and hash (made()).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from photoclust_app.core.display import printable_path
from photoclust_app.core.errors import ExportConflict
from photoclust_app.core.export import fs
from photoclust_app.core.export.guard import inode, is_regular, open_exact, under
from photoclust_app.core.export.journal import Manifest
from photoclust_app.core.export.plan import MODES


def _plain(p: Path) -> bool:
    """Absolute, with no '.', '..' or doubled separators: what the export itself writes."""
    return p.is_absolute() and os.path.normpath(p) == str(p)


def bind(m: Manifest) -> None:
    """Raise ExportConflict unless m is in its DEST and both folders are the recorded ones."""
    h, name = m.header, m.path.name
    dest, root = Path(h["dest"]), Path(h["source_root"])
    if h["mode"] not in MODES or not (_plain(dest) and _plain(root)) or under(root, dest):
        raise ExportConflict(f"{name} is not a photoclust export manifest this version can read.")
    mine = getattr(os, "geteuid", None)
    if mine is not None and os.stat(m.path).st_uid != mine():
        raise ExportConflict(f"{name} belongs to another user account; undo acts only on exports you made.")
    try:
        there = os.lstat(dest)
    except OSError:
        raise ExportConflict(f"The export folder {printable_path(str(dest))} named in {name} is not there "
                             "(moved or deleted?); undo works only where the export left it.") from None
    here = os.stat(Path(os.path.abspath(m.path)).parent)
    if stat.S_ISLNK(there.st_mode) or inode(here) != inode(there):
        raise ExportConflict(f"{name} is not inside the export folder it names ({printable_path(str(dest))}); "
                             "undo acts only on a manifest in the folder its export wrote to.")
    if inode(there) != tuple(h["dest_id"]):
        raise ExportConflict(f"{printable_path(str(dest))} is not the folder this export wrote to (it was "
                             f"replaced, or {name} was edited), so undo will not act on it.")
    try:
        src_ok = inode(os.stat(root)) == tuple(h["source_id"])
    except OSError:
        src_ok = False
    if not src_ok:
        raise ExportConflict(f"The photo folder {printable_path(str(root))} this export came from is not there "
                             "any more, or is another folder now, so undo will not act on it.")


def item_paths(m: Manifest, src: Path, dst: Path) -> str:
    """'' if undo may look at this item's paths, else why not (for the user)."""
    dest, root = Path(m.header["dest"]), m.source_root
    if not (_plain(src) and _plain(dst)) or dst.parent.parent != dest \
            or dst.name in ("", ".", "..") or dst.parent.name in ("", ".", ".."):
        return "it is outside the export folder named in the manifest; left alone"
    if not under(src, root) or src == root or under(src, dest):
        return "its original is outside the photo folder of this export; left alone"
    st = _lstat(dst.parent)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        return f"{printable_path(str(dst.parent))} is no longer a plain folder; left alone"
    return ""


def _lstat(p: Path):
    try:
        return os.lstat(p)
    except OSError:
        return None


def same_bytes(path: Path, st: os.stat_result, rec: dict) -> bool:
    """The regular file at path (still the inode st) holds the recorded size and hash."""
    if not is_regular(st) or st.st_size != rec["size"]:
        return False
    fd, _ = open_exact(path, inode(st))
    try:
        return fs.hash_fd(fd) == (rec["size"], rec["sha256"])
    finally:
        os.close(fd)


def made(path: Path, st: os.stat_result | None, rec: dict, *, hashed: bool) -> bool:
    """st (the lstat of path) is the file the export made and recorded."""
    if st is None or not is_regular(st) or inode(st) != tuple(rec["id"]) or st.st_size != rec["size"]:
        return False
    return not hashed or same_bytes(path, st, rec)


def identical(a: Path, sa, b: Path, sb) -> bool:
    """Two regular files (neither a link) with the same bytes, or two names of one inode."""
    if not (is_regular(sa) and is_regular(sb)):
        return False
    if inode(sa) == inode(sb):
        return True
    if sa.st_size != sb.st_size:
        return False
    fa, _ = open_exact(a, inode(sa))
    try:
        fb, _ = open_exact(b, inode(sb))
        try:
            return fs.hash_fd(fa) == fs.hash_fd(fb)
        finally:
            os.close(fb)
    finally:
        os.close(fa)

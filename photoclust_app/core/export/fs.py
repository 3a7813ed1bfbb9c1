"""Low-level file operations for export and undo: copy+hash, no-clobber publish, fsync.

Everything that touches a user's photo goes through these few functions so that the
rules are in one place: write to a temporary name, fsync, verify by hash, and only then
give the file its final name with an operation that fails rather than overwrite.
Tests monkeypatch attributes of this module (e.g. ``copy_and_hash``, ``device_of``) to
inject failures; callers therefore use ``export_fs.X`` rather than importing names.
"""
from __future__ import annotations

import errno
import hashlib
import logging
import os
import secrets
import shutil
import stat
from pathlib import Path

log = logging.getLogger(__name__)

CHUNK = 1 << 20
HASH_NAME = "sha256"
TMP_PREFIX = ".photoclust-"
_O_BINARY = getattr(os, "O_BINARY", 0)
# os.link failing with these means "this file system cannot hard-link", not "name taken".
_NO_LINK_ERRNOS = {errno.EPERM, errno.EACCES, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS,
                   errno.EMLINK, errno.EXDEV}


def tmp_name(token: str, tag: str) -> str:
    """Temporary names carry the export's token so undo can sweep exactly its own leftovers."""
    return f"{TMP_PREFIX}{token}-{tag}.part"


def hash_file(path: Path) -> tuple[int, str]:
    """(size, hex digest) of a file's bytes, read without following a final symlink."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | _O_BINARY)
    try:
        return hash_fd(fd)
    finally:
        os.close(fd)


def hash_fd(fd: int) -> tuple[int, str]:
    """(size, hex digest) of an open file's bytes, from its start."""
    h = hashlib.new(HASH_NAME)
    size = 0
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, CHUNK):
        h.update(chunk)
        size += len(chunk)
    return size, h.hexdigest()


def copy_and_hash(src: Path, tmp: Path, fd: int | None = None) -> tuple[int, str]:
    """Copy src's bytes to a new file tmp (never an existing one), fsync it, copy the
    timestamps/permissions, and return (size, digest) of the bytes read. With ``fd`` (src
    opened and checked by guard.open) the bytes come from that open file, not the name,
    so a file swapped in after the check is never read."""
    h = hashlib.new(HASH_NAME)
    size = 0
    out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
    with (open(src, "rb") if fd is None else open(fd, "rb", closefd=False)) as fin, os.fdopen(out, "wb") as fout:
        fin.seek(0)
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    try:
        if fd is None:
            shutil.copystat(src, tmp)
        else:
            st = os.fstat(fd)
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    except OSError as err:  # e.g. chmod on FAT; the bytes are what matter
        log.debug("could not copy timestamps to %s: %s", tmp, err)
    return size, h.hexdigest()


def verified_copy(src: Path, tmp: Path, fd: int | None = None) -> tuple[int, str]:
    """copy_and_hash, then re-read tmp and compare size and digest; raise OSError(EIO) if
    they differ. On any failure tmp is removed and src is untouched."""
    try:
        size, digest = copy_and_hash(src, tmp, fd)
        if hash_file(tmp) != (size, digest):
            raise OSError(errno.EIO, "the copy does not match the original after writing", str(tmp))
    except BaseException:
        remove_quietly(tmp)
        raise
    return size, digest


def remove_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        log.warning("could not remove temporary file %s: %s", path, err)


def publish(tmp: Path, dst: Path) -> bool:
    """Give tmp the name dst unless dst exists; True if done, False if dst was taken.

    os.link fails with EEXIST instead of replacing, so there is no window in which a
    file that appeared at dst could be clobbered. Where the file system cannot hard-link
    (FAT, some network shares) dst is first claimed with O_EXCL and then replaced by tmp.
    """
    try:
        os.link(tmp, dst)
    except FileExistsError:
        return False
    except (OSError, AttributeError, NotImplementedError) as err:
        if isinstance(err, OSError) and err.errno not in _NO_LINK_ERRNOS:
            raise
        try:
            os.close(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666))
        except FileExistsError:
            return False
        os.replace(tmp, dst)
        return True
    os.unlink(tmp)
    return True


def hard_link(src: Path, dst: Path) -> None:
    """os.link of src itself: a symbolic link at src is linked as a link, never followed
    (callers compare the new name's inode with the file they checked)."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except NotImplementedError:   # platforms without linkat flags
        os.link(src, dst)


def link_no_clobber(src: Path, dst: Path) -> bool | None:
    """Hard-link src at dst. True: done; False: dst exists; None: the FS cannot link here."""
    try:
        hard_link(src, dst)
    except FileExistsError:
        return False
    except (OSError, AttributeError, NotImplementedError) as err:
        if isinstance(err, OSError) and err.errno not in _NO_LINK_ERRNOS:
            raise
        return None
    return True


class Changed(OSError):
    """The file at a path is no longer the one that was checked; nothing was removed."""

    def __init__(self, path: Path, detail: str = "it changed while it was being exported"):
        super().__init__(errno.EBUSY, detail, str(path))


def rename_no_replace(src: Path, dst: Path) -> bool:
    """Give src's file the name dst unless dst exists (False then): a hard link and an
    unlink of src, or a checked rename where the file system cannot link."""
    try:
        hard_link(src, dst)
    except FileExistsError:
        return False
    except OSError as err:
        if err.errno not in _NO_LINK_ERRNOS:
            raise
        if os.path.lexists(dst):
            return False
        os.rename(src, dst)
        return True
    os.unlink(src)
    return True


def remove_source(src: Path, expect: tuple | None = None, tmp: Path | None = None) -> None:
    """Remove a file only if it is still the one that was checked (a seam for crash tests).

    With ``expect`` ((dev, ino) or (dev, ino, size, mtime_ns)) the file is first renamed to
    ``tmp`` in the same folder, which takes exactly the file holding the name at that
    instant; it is unlinked only if it is the expected one. Otherwise (an editor saved a
    new version by writing a temp file and renaming it over the photo) it gets its name
    back and Changed is raised: a new version is never removed in place of the old one.
    """
    if expect is not None:
        tmp = tmp or src.parent / tmp_name(secrets.token_hex(6), "rm")
        if os.path.lexists(tmp):
            raise Changed(src, f"a leftover temporary file {tmp.name} is in the way")
        os.rename(src, tmp)
        st = os.lstat(tmp)
        if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)[:len(expect)] != tuple(expect):
            if not rename_no_replace(tmp, src):
                raise Changed(src, f"it changed meanwhile; the new version was kept as {tmp}")
            raise Changed(src)
        src = tmp
    os.unlink(src)
    fsync_dir(src.parent)


def fsync_dir(path: Path) -> None:
    """Make a directory's entries durable (POSIX); a no-op where directories can't be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def existing_ancestor(path: Path) -> Path:
    """path itself or its nearest ancestor that exists."""
    p = path
    while not p.exists() and p.parent != p:
        p = p.parent
    return p


def device_of(path: Path) -> int:
    """st_dev of path, or of its nearest existing ancestor."""
    return os.stat(existing_ancestor(path)).st_dev


def same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def files_identical(a: Path, b: Path) -> bool:
    """True if both are regular files with the same bytes (same inode counts)."""
    try:
        if not (os.path.isfile(a) and os.path.isfile(b)) or os.path.islink(a) or os.path.islink(b):
            return False
        if same_file(a, b):
            return True
        if os.path.getsize(a) != os.path.getsize(b):
            return False
        return hash_file(a) == hash_file(b)
    except OSError:
        return False

"""Content identity for rename/move detection, reading at most 192 KiB per file.

size + blake2b of the first, middle and last 64 KiB (the whole file when it is smaller).
Photos differ in their first 64 KiB already (headers carry EXIF times, the entropy-coded
data starts there), so a collision needs two files of the same size that agree on all
three windows: edited copies with only a few bytes changed mid-file could collide, which
costs at most a moved-instead-of-new guess for a copy whose original vanished.
"""
from __future__ import annotations

import hashlib
import os

CHUNK = 64 * 1024


def _digest(size: int, parts) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(size.to_bytes(8, "little"))
    for p in parts:
        h.update(p)
    return f"{size:x}-{h.hexdigest()}"


def _windows(size: int) -> list[tuple[int, int]]:
    if size <= 3 * CHUNK:
        return [(0, size)]
    return [(0, CHUNK), (size // 2 - CHUNK // 2, CHUNK), (size - CHUNK, CHUNK)]


def quick_hash(path: str | os.PathLike) -> str:
    """Quick content hash of the file at PATH (raises OSError like open())."""
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        parts = []
        for off, n in _windows(size):
            f.seek(off)
            parts.append(f.read(n))
    return _digest(size, parts)


def quick_hash_bytes(data: bytes) -> str:
    """The same hash for a file already read into memory."""
    size = len(data)
    view = memoryview(data)
    return _digest(size, [view[off:off + n] for off, n in _windows(size)])

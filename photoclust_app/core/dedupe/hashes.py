"""What tells two files apart: the full content hash, a perceptual hash and sharpness.

The content hash (SHA-256) is read from a file opened the safe way (guard.Guard: inside the
photo folder, no symbolic link on the way, the very file that was checked). The perceptual
hash and the sharpness are computed on the thumbnail the index stored (EXIF-rotated, long
side 256 px), so they cost a 256-px JPEG decode and never a read of the photo itself:
- pHash: 32x32 grey, 2-D DCT, the 8x8 lowest frequencies against their median -> 64 bits
  (the classic construction, as imagededup and czkawka compute it);
- sharpness: the variance of the Laplacian of the grey thumbnail scaled to a 256-px long
  side, so photos of different resolutions compare on one scale.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from photoclust_app.core.export import fs
from photoclust_app.core.export.guard import Guard

THUMB_SIDE = 256


def content_hash(guard: Guard, path: Path) -> tuple[os.stat_result, str]:
    """(fstat, SHA-256 hex) of the regular file at path, read through guard.open
    (raises guard.Unsafe, or OSError when it is gone or unreadable)."""
    fd, st = guard.open(path)
    try:
        size, digest = fs.hash_fd(fd)
    finally:
        os.close(fd)
    return st, digest


def _grey(jpeg: bytes) -> np.ndarray | None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(jpeg)) as im:
            im.draft("L", (THUMB_SIDE, THUMB_SIDE))
            g = im.convert("L")
            if max(g.size) != THUMB_SIDE:
                scale = THUMB_SIDE / max(g.size)
                g = g.resize((max(1, round(g.width * scale)), max(1, round(g.height * scale))),
                             Image.Resampling.BILINEAR)
            return np.asarray(g, dtype=np.float32)
    except Exception:   # a damaged thumbnail row: no facts, the photo is compared on the rest
        return None


def phash_of(grey: np.ndarray) -> int:
    from PIL import Image
    from scipy.fft import dctn

    small = Image.fromarray(grey.astype(np.uint8), "L").resize((32, 32), Image.Resampling.LANCZOS)
    coeffs = dctn(np.asarray(small, dtype=np.float64), norm="ortho")[:8, :8].ravel()
    med = np.median(coeffs[1:])
    bits = coeffs > med
    return int("".join("1" if b else "0" for b in bits), 2)


def sharpness_of(grey: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian (higher = sharper)."""
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    lap = (grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1])
    return float(lap.var())


def thumbnail_facts(jpeg: bytes | None) -> tuple[str | None, float | None]:
    """(pHash as 16 hex digits, sharpness) of a stored thumbnail; (None, None) if unreadable."""
    grey = _grey(jpeg) if jpeg else None
    if grey is None:
        return None, None
    return f"{phash_of(grey):016x}", round(sharpness_of(grey), 2)


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()

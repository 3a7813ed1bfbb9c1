"""A photo's colour descriptor: a small CIE Lab histogram, from pixels the index already has.

Layout (COLOUR_DIM = 260 float16, 520 bytes per photo): a joint histogram of L (4 bins over
0-100) x a (8 bins over -96..96) x b (8 bins over -96..96), summing to 1, then the share of
pixels by chroma sqrt(a^2 + b^2): < 8 (grey), 8-16, 16-32, >= 32 (vivid), summing to 1.
Computed on at most 64 px on the long side: colour proportions need no more. The a/b range
reaches +-96 because saturated sRGB blue sits at b = -90 (a range of +-60 clipped it into
the purple bins).
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

L_BINS, A_BINS, B_BINS = 4, 8, 8
AB_RANGE = 96.0
CHROMA_EDGES = (8.0, 16.0, 32.0)
COLOUR_DIM = L_BINS * A_BINS * B_BINS + len(CHROMA_EDGES) + 1
SIDE = 64
_M = np.array([[0.4124564, 0.3575761, 0.1804375],
               [0.2126729, 0.7151522, 0.0721750],
               [0.0193339, 0.1191920, 0.9503041]], dtype=np.float32)
_WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (..., 3) -> float32 CIE Lab (D65) (..., 3)."""
    c = np.asarray(rgb, dtype=np.float32) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = lin @ _M.T / _WHITE
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def bin_centres() -> np.ndarray:
    """Lab centre of each joint-histogram bin, (L_BINS * A_BINS * B_BINS, 3)."""
    l = (np.arange(L_BINS) + 0.5) * 100 / L_BINS
    a = (np.arange(A_BINS) + 0.5) * 2 * AB_RANGE / A_BINS - AB_RANGE
    b = (np.arange(B_BINS) + 0.5) * 2 * AB_RANGE / B_BINS - AB_RANGE
    return np.stack(np.meshgrid(l, a, b, indexing="ij"), axis=-1).reshape(-1, 3).astype(np.float32)


def colour_descriptor(image: Image.Image | np.ndarray) -> np.ndarray:
    """float32 (COLOUR_DIM,) for an RGB image (PIL or uint8 array)."""
    im = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
    im = im.convert("RGB")
    if max(im.size) > SIDE:
        im = im.copy()
        im.thumbnail((SIDE, SIDE), Image.Resampling.BILINEAR)
    lab = rgb_to_lab(np.asarray(im)).reshape(-1, 3)
    li = np.clip((lab[:, 0] / (100 / L_BINS)).astype(int), 0, L_BINS - 1)
    ai = np.clip(((lab[:, 1] + AB_RANGE) / (2 * AB_RANGE / A_BINS)).astype(int), 0, A_BINS - 1)
    bi = np.clip(((lab[:, 2] + AB_RANGE) / (2 * AB_RANGE / B_BINS)).astype(int), 0, B_BINS - 1)
    joint = np.bincount((li * A_BINS + ai) * B_BINS + bi, minlength=L_BINS * A_BINS * B_BINS).astype(np.float32)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    grades = np.bincount(np.searchsorted(CHROMA_EDGES, chroma, side="right"),
                         minlength=len(CHROMA_EDGES) + 1).astype(np.float32)
    n = max(1, len(lab))
    return np.concatenate([joint / n, grades / n])


def descriptor_from_jpeg(data: bytes) -> np.ndarray | None:
    """The descriptor of a stored thumbnail (drafted small: no full decode); None if unreadable."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.draft("RGB", (SIDE, SIDE))
            return colour_descriptor(im)
    except Exception:
        return None

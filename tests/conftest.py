"""Shared test fixtures: synthetic photos made in code (no files in the repo).

``make_photo(path, ...)`` writes a photo that DISPLAYS as an upright image with a white
block top-left and a black block top-right on a coloured ground; with ``orientation=k``
the stored pixels are the inverse-transformed image plus EXIF orientation k, so a correct
decoder always shows the same upright layout. ``photo_folder`` is a fresh copy of 30 small
photos in 3 visually distinct groups (``photo_labels`` maps relpath -> group).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Engines the tests start skip their background JIT warm-up (test_reduce covers it): dozens of
# engines each compiling on 2 cores would slow every other test.
os.environ.setdefault("PHOTOCLUST_NO_WARM", "1")

# exif_transpose applies T_k to stored pixels; storing T_k^-1(upright) displays upright.
_INVERSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".gif": "GIF", ".bmp": "BMP", ".tif": "TIFF",
            ".tiff": "TIFF", ".webp": "WEBP", ".heic": "HEIF", ".avif": "AVIF"}
GROUP_COLORS = {"red": (205, 45, 35), "green": (40, 170, 60), "blue": (35, 70, 200)}


def upright_image(size=(640, 480), color=(200, 40, 40), pattern: str = "markers", seed: int = 0) -> Image.Image:
    """The image as a viewer should show it."""
    w, h = size
    rng = np.random.default_rng(seed)
    a = np.empty((h, w, 3), dtype=np.float32)
    a[:] = color
    yy, xx = np.mgrid[0:h, 0:w]
    if pattern == "stripes":
        period = rng.uniform(8, 14) * max(1, h / 120)
        a *= (0.75 + 0.25 * np.sign(np.sin(2 * np.pi * (yy / period + rng.uniform()))))[..., None]
    elif pattern == "checker":
        cell = int(rng.integers(10, 16) * max(1, w / 160))
        a *= (0.7 + 0.3 * (((xx // cell) + (yy // cell)) % 2))[..., None]
    elif pattern == "rings":
        cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
        r = np.hypot(xx - cx, yy - cy)
        a *= (0.75 + 0.25 * np.cos(r / (4 * max(1, w / 160))))[..., None]
    a += rng.normal(0, 6, a.shape)
    if pattern == "markers":
        a[: h // 3, : w // 3] = 255  # white, top-left
        a[: h // 3, w - w // 3:] = 0  # black, top-right
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")


def _exif(orientation, exif_datetime, camera) -> Image.Exif | None:
    if orientation is None and exif_datetime is None and camera is None:
        return None
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if camera is not None:
        exif[0x010F], exif[0x0110] = camera
    if exif_datetime is not None:
        exif.get_ifd(0x8769)[0x9003] = exif_datetime
    return exif


def make_photo(path, size=(640, 480), color=(200, 40, 40), *, orientation: int | None = None,
               fmt: str | None = None, exif_datetime: str | None = None, camera: tuple[str, str] | None = None,
               mode: str = "RGB", pattern: str = "markers", quality: int = 90, seed: int = 0,
               exif_raw: bytes | None = None) -> Path:
    """Write a synthetic photo; SIZE is the displayed (upright) size (orientations 2-8 are
    stored inverse-transformed; other tag values are written as given, pixels untouched).
    ``exif_raw`` replaces the EXIF block with raw bytes (to test corrupt ones)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = fmt or _FORMATS.get(path.suffix.lower(), "JPEG")
    im = upright_image(size, color, pattern, seed)
    if orientation in _INVERSE:
        im = im.transpose(_INVERSE[orientation])
    if mode in ("I;16", "I"):
        gray = np.asarray(im.convert("L"), dtype=np.uint32) * 257
        im = Image.fromarray(gray.astype(np.uint16 if mode == "I;16" else np.int32))  # -> I;16 / I
    elif mode == "P":
        im = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    elif mode != "RGB":
        im = im.convert(mode)
    kw = {}
    exif = _exif(orientation, exif_datetime, camera)
    if exif is not None:
        kw["exif"] = exif.tobytes()
    if exif_raw is not None:
        kw["exif"] = exif_raw
    if fmt in ("JPEG", "WEBP", "AVIF", "HEIF"):
        kw["quality"] = quality
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    im.save(path, format=fmt, **kw)
    return path


@pytest.fixture(name="make_photo")
def make_photo_fixture():
    return make_photo


def make_group_folder(folder: Path, per_group: int = 10, size=(160, 120)) -> dict[str, str]:
    """3 visually distinct groups (colour AND texture) with per-photo variation."""
    patterns = {"red": "stripes", "green": "checker", "blue": "rings"}
    labels = {}
    rng = np.random.default_rng(7)
    for g, color in GROUP_COLORS.items():
        for i in range(per_group):
            jitter = tuple(int(np.clip(c + rng.integers(-20, 21), 0, 255)) for c in color)
            rel = f"{g}_{i:02d}.jpg"
            make_photo(folder / rel, size, jitter, pattern=patterns[g], seed=int(rng.integers(1 << 30)))
            labels[rel] = g
    return labels


@pytest.fixture(scope="session")
def _group_template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("groups-template")
    return folder, make_group_folder(folder)


@pytest.fixture
def photo_folder(tmp_path, _group_template) -> Path:
    """A fresh copy of 30 small JPEGs, 10 per group (red stripes, green checks, blue rings)."""
    dest = tmp_path / "photos"
    shutil.copytree(_group_template[0], dest)
    return dest


@pytest.fixture
def photo_labels(_group_template) -> dict[str, str]:
    """relpath -> group ('red' | 'green' | 'blue') for ``photo_folder``."""
    return dict(_group_template[1])


@pytest.fixture
def no_network(monkeypatch):
    """Weights not cached and a hub host that cannot resolve (.invalid never does, RFC 2606)."""
    import huggingface_hub
    from huggingface_hub import constants

    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    monkeypatch.setattr(constants, "ENDPOINT", "https://huggingface.invalid")

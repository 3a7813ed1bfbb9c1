"""Decode a photo once into everything indexing needs: model input, thumbnail, EXIF meta.

Speed: for JPEG, ``draft()`` asks libjpeg for a 1/2..1/8-scale decode before any pixel is
read, so a 12-MP photo decodes in ~40 ms of CPU instead of ~230 ms; rotation happens on
the small image afterwards (``exif_transpose`` before draft would force a full decode).

Safety: every failure becomes ``UnreadableImage`` whose text is the skip reason shown to
the user. Truncated files are refused, not patched up: ``ImageFile.LOAD_TRUNCATED_IMAGES``
is process-global and would silently index half-grey photos; a truncated file is listed
as skipped so the user can see it and re-copy it.
"""
from __future__ import annotations

import io
import logging
import os
import re
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from photoclust_app.core.errors import UnreadableImage
from photoclust_app.core.ingest.capture_time import capture_time, exif_text, iso_datetime
from photoclust_app.core.ingest.colour import colour_descriptor
from photoclust_app.core.records import PhotoMeta

log = logging.getLogger(__name__)

# 200 MP: above the largest stills a person is likely to own (Fuji GFX100 102 MP, Phase
# One IQ4 151 MP, long phone panoramas ~150 MP) while bounding a worst-case decode that
# cannot be drafted (PNG, TIFF, HEIC) at ~600 MB of RGB per worker.
MAX_PIXELS = 200_000_000
# Pillow's own guard (also used by any other Pillow call in the app) matches ours: it
# warns above MAX_PIXELS and refuses above twice that straight from the header.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Files up to this size are read in one go: the same bytes feed the quick hash and the
# decoder (one consistent snapshot, one sequential read). Larger ones are streamed.
IN_MEMORY_LIMIT = 64 * 1024 * 1024

# JPEGs are drafted so the short side stays >= DRAFT_FACTOR x the model input (and the
# thumbnail fits). libjpeg's DCT scaling is an area-averaging low-pass, so 1x loses nothing
# measurable: on textured 12-MP JPEGs, 1x vs 2x gave lite embeddings with cosine 0.9999
# (a q92 -> q80 re-save of the same photo moves them more: 0.9996) and cost 39-41 instead
# of 53-56 ms of CPU per photo (draft 1/8 instead of 1/4 scale; decode is the bottleneck).
DRAFT_FACTOR = 1

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_HIGH_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}
_plugins_ready = False


@dataclass(frozen=True)
class Decoded:
    pixels: np.ndarray  # uint8 (S, S, 3) RGB, EXIF-rotated, short side -> S, centre-cropped
    thumbnail: bytes  # JPEG, long side <= thumb_size, EXIF-rotated
    meta: PhotoMeta
    colour: np.ndarray | None = None  # ingest/colour.py's Lab histogram of the same pixels


def _ensure_plugins() -> None:
    """Register HEIC/HEIF support once per process, only when a decode first needs it."""
    global _plugins_ready
    if _plugins_ready:
        return
    _plugins_ready = True
    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except Exception as err:  # optional dependency; HEIC files are then skipped with a reason
        log.info("HEIC support unavailable: %s", err)


def os_error_reason(err: OSError) -> str:
    if isinstance(err, FileNotFoundError):
        return "file disappeared during indexing"
    if isinstance(err, PermissionError):
        return "permission denied"
    if isinstance(err, IsADirectoryError):
        return "is a folder, not a file"
    return f"could not be read ({err.strerror or err})"


def read_file(path: str | os.PathLike) -> bytes:
    """The whole file, with OS errors turned into UnreadableImage."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as err:
        raise UnreadableImage(os_error_reason(err)) from err


def decode_photo(path: str | os.PathLike, input_size: int = 224, thumb_size: int = 256) -> Decoded:
    """Decode PATH; raises UnreadableImage (never anything else) with a one-line reason."""
    try:
        size = os.stat(path).st_size
    except OSError as err:
        raise UnreadableImage(os_error_reason(err)) from err
    if size == 0:
        raise UnreadableImage("empty file (0 bytes)")
    if size <= IN_MEMORY_LIMIT:
        return decode_bytes(read_file(path), input_size, thumb_size)
    try:
        with open(path, "rb") as f:
            return decode_bytes(f, input_size, thumb_size)
    except OSError as err:
        raise UnreadableImage(os_error_reason(err)) from err


def decode_bytes(data: bytes | io.BufferedIOBase, input_size: int = 224, thumb_size: int = 256, *,
                 like: PhotoMeta | None = None) -> Decoded:
    """Decode an in-memory file (or an open binary file); same contract as decode_photo.
    LIKE: the photo's own meta when DATA is its embedded preview (ingest/preview.py): its
    orientation is applied and it is returned as the meta, whatever the preview's EXIF says."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        if len(data) == 0:
            raise UnreadableImage("empty file (0 bytes)")
        data = io.BytesIO(data)
    _ensure_plugins()
    try:
        return _decode(data, input_size, thumb_size, like)
    except UnreadableImage:
        raise
    except MemoryError as err:
        raise UnreadableImage("too large to decode in the memory available") from err
    except Exception as err:  # a decoder bug or an exotic file: skip it, never crash indexing
        first = (str(err).strip().splitlines() or [""])[0][:120]
        raise UnreadableImage(f"could not be decoded ({type(err).__name__}: {first})") from err


def _too_large(w: int, h: int) -> UnreadableImage:
    return UnreadableImage(f"too large ({w}x{h} pixels, limit {MAX_PIXELS // 1_000_000} MP)")


def _bomb_reason(err: Exception) -> UnreadableImage:
    m = re.search(r"\((\d+) pixels\)", str(err))
    got = f"{int(m.group(1)) // 1_000_000} MP" if m else "too many pixels"
    return UnreadableImage(f"too large ({got}, limit {MAX_PIXELS // 1_000_000} MP)")


def _open(fp, header_errors: tuple = (OSError, SyntaxError, ValueError, EOFError)) -> Image.Image:
    """Pillow's open with our guards: a decompression bomb, an unknown or unreadable header
    (HEADER_ERRORS) and a size over MAX_PIXELS or of zero are UnreadableImage sentences."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(fp)
        except UnidentifiedImageError as err:
            raise UnreadableImage("not an image (unrecognised format)") from err
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise _bomb_reason(err) from err
        except header_errors as err:
            raise UnreadableImage("not an image (unreadable header)") from err
    w, h = im.size
    # Our own guard, independent of whatever Image.MAX_IMAGE_PIXELS holds right now.
    if w * h > MAX_PIXELS or w <= 0 or h <= 0:
        im.close()
        raise _too_large(w, h) if w * h > MAX_PIXELS else UnreadableImage("not an image (zero-sized)")
    return im


def _decode(fp, input_size: int, thumb_size: int, like: PhotoMeta | None = None) -> Decoded:
    with _open(fp) as im:
        w, h = im.size
        fmt = im.format or "image"
        need = max(DRAFT_FACTOR * input_size, thumb_size)
        if fmt in ("JPEG", "MPO"):
            im.draft("RGB", (need, need))
        try:
            im.load()
        except (OSError, SyntaxError, ValueError, EOFError, IndexError) as err:
            raise UnreadableImage(f"truncated or corrupt {fmt} data") from err
        # EXIF after load(): Pillow's TIFF loader (like pillow-heif) applies the rotation
        # itself and drops the tag, so reading it earlier would rotate twice.
        if like is None:
            orientation, taken_at, taken_source, camera = read_exif_meta(im)
        else:
            orientation = like.orientation
        rgb = _to_rgb(im)
        factor = min(rgb.size) // need
        if factor >= 2:  # PNG/TIFF/HEIC have no draft: a cheap box reduction first
            rgb = rgb.reduce(factor)
        if orientation in _TRANSPOSE:
            rgb = rgb.transpose(_TRANSPOSE[orientation])
        pixels, thumb = _model_input(rgb, input_size), _thumbnail(rgb, thumb_size)
        colour = colour_descriptor(rgb)
    if like is not None:
        return Decoded(pixels, thumb, like, colour)
    if orientation >= 5:
        w, h = h, w
    meta = PhotoMeta(width=w, height=h, orientation=orientation, taken_at=taken_at, camera=camera,
                     taken_source=taken_source)
    return Decoded(pixels, thumb, meta, colour)


def header_meta(data: bytes) -> PhotoMeta:
    """The photo's meta from its header and EXIF alone (no pixel is decoded); raises
    UnreadableImage for what decode_bytes would refuse before decoding."""
    _ensure_plugins()
    with _open(io.BytesIO(data), header_errors=(Exception,)) as im:
        w, h = im.size
        orientation, taken_at, taken_source, camera = read_exif_meta(im)
    if orientation >= 5:
        w, h = h, w
    return PhotoMeta(width=w, height=h, orientation=orientation, taken_at=taken_at, camera=camera,
                     taken_source=taken_source)


def _model_input(im: Image.Image, s: int) -> np.ndarray:
    """Short side to S, centre crop: one resize of the central square."""
    w, h = im.size
    side = min(w, h)
    left, top = (w - side) / 2, (h - side) / 2
    out = im.resize((s, s), Image.Resampling.BICUBIC, box=(left, top, left + side, top + side), reducing_gap=2.0)
    return np.asarray(out, dtype=np.uint8)


def _thumbnail(im: Image.Image, t: int) -> bytes:
    w, h = im.size
    scale = min(1.0, t / max(w, h))
    if scale < 1.0:
        im = im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BICUBIC,
                       reducing_gap=2.0)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is composited on white."""
    mode = im.mode
    if mode == "RGB" and "transparency" not in im.info:
        return im
    if mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = im.convert("RGBA")
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    if mode in _HIGH_BIT_MODES:
        a = np.asarray(im).astype(np.float32)
        if mode == "F" and a.size and float(a.max()) <= 1.0:
            a = a * 255.0
        elif a.size and float(a.max()) > 255.0:  # 16-bit range
            a = a / 257.0
        return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L").convert("RGB")
    return im.convert("RGB")  # L, 1, P, CMYK (Adobe inversion handled by Pillow), YCbCr, LAB...


def read_exif(im: Image.Image) -> tuple[int, str | None, str | None]:
    """(orientation 1-8, taken_at ISO, camera); a corrupt EXIF block yields defaults."""
    orientation, taken_at, _, camera = read_exif_meta(im)
    return orientation, taken_at, camera


def read_exif_meta(im: Image.Image) -> tuple[int, str | None, str | None, str | None]:
    """(orientation 1-8, taken_at ISO, the EXIF tag it came from, camera)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Corrupt EXIF data": we fall back to defaults anyway
            exif = im.getexif()
            exif.get_ifd(0x8769)  # parse the sub-IFD now, inside the filter
    except Exception:
        return 1, None, None, None
    orientation = 1
    try:
        o = exif.get(0x0112, 1)
        o = int(o[0] if isinstance(o, (tuple, list)) else o)
        orientation = o if 1 <= o <= 8 else 1
    except Exception:
        pass
    taken_at, taken_source = capture_time(exif)
    camera = None
    try:
        make, model = exif_text(exif.get(0x010F)), exif_text(exif.get(0x0110))
        if make and model and model.lower().startswith(make.split()[0].lower()):
            make = None  # "Canon" + "Canon EOS 5D" -> "Canon EOS 5D"
        camera = " ".join(p for p in (make, model) if p) or None
    except Exception:
        pass
    return orientation, taken_at, taken_source, camera


def _iso_datetime(raw: str | None, offset: str | None = None) -> str | None:
    """'2021:07:14 18:03:59' -> '2021-07-14T18:03:59' (+ offset when EXIF has one)."""
    return iso_datetime(raw, offset)

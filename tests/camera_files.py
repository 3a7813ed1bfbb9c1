"""Photo files written the way cameras write them, for the embedded-preview tests and benches.

``camera_jpeg`` writes the main JPEG with an EXIF block (IFD0 orientation, IFD1 thumbnail)
and optionally an MPF index whose second image, appended after the main image's EOI, is a
larger preview (the layout of Canon/Nikon/Sony/Fuji JPEGs). ``raw_like_tiff`` writes a
TIFF container shaped like a DNG/NEF: IFD0 with a small JPEG via JPEGInterchangeFormat, a
SubIFD holding a large one-strip JPEG preview, and a SubIFD of fake "raw" data. Every byte
is generated here.
"""
from __future__ import annotations

import io
import struct

from PIL import Image


def jpeg_bytes(im: Image.Image, quality: int = 85, **kw) -> bytes:
    buf = io.BytesIO()
    (im if im.mode in ("RGB", "L") else im.convert("RGB")).save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


def fit(im: Image.Image, box: tuple[int, int]) -> Image.Image:
    """IM shrunk to fit in BOX, aspect kept."""
    scale = min(box[0] / im.width, box[1] / im.height)
    return im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.LANCZOS)


def exif_block(orientation: int = 1, thumbnail: bytes | None = None) -> bytes:
    """APP1 payload: b'Exif\\0\\0' + a little-endian TIFF with IFD0 (orientation) and IFD1 (thumbnail)."""
    ifd0_at = 8
    ifd1_at = ifd0_at + 2 + 12 + 4
    thumb_at = ifd1_at + 2 + 3 * 12 + 4
    out = b"II*\x00" + struct.pack("<I", ifd0_at)
    out += struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0)
    out += struct.pack("<I", ifd1_at if thumbnail else 0)
    if thumbnail:
        out += struct.pack("<H", 3)
        out += struct.pack("<HHIHH", 0x0103, 3, 1, 6, 0)
        out += struct.pack("<HHII", 0x0201, 4, 1, thumb_at)
        out += struct.pack("<HHII", 0x0202, 4, 1, len(thumbnail))
        out += struct.pack("<I", 0) + thumbnail
    return b"Exif\x00\x00" + out


_MPF_LEN = 8 + 2 + 3 * 12 + 4 + 32  # TIFF header, an IFD of 3 entries, two 16-byte MP entries


def _mpf_segment(entries: bytes) -> bytes:
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 3)
    tiff += struct.pack("<HHI", 0xB000, 7, 4) + b"0100"
    tiff += struct.pack("<HHII", 0xB001, 4, 1, 2)
    tiff += struct.pack("<HHII", 0xB002, 7, 32, 8 + 2 + 36 + 4)
    tiff += struct.pack("<I", 0) + entries
    assert len(tiff) == _MPF_LEN
    body = b"MPF\x00" + tiff
    return b"\xff\xe2" + struct.pack(">H", 2 + len(body)) + body


def camera_jpeg(main: Image.Image, *, orientation: int = 1, thumb: tuple[int, int] | None = (160, 120),
                preview: Image.Image | tuple[int, int] | None = None, quality: int = 92, thumb_quality: int = 80,
                preview_quality: int = 85, mp_type: int = 0x010002, exif: bytes | None = None) -> bytes:
    """MAIN as a camera JPEG: EXIF IFD1 thumbnail fitted in THUMB, and PREVIEW (an image, or a
    box MAIN is fitted in) as an MPF secondary image of type MP_TYPE (default: large thumbnail).
    EXIF: an APP1 payload to write instead (then ORIENTATION and THUMB are not used)."""
    if exif is None:
        thumbnail = jpeg_bytes(fit(main, thumb), thumb_quality) if thumb else None
        exif = exif_block(orientation, thumbnail)
    if preview is None:
        return jpeg_bytes(main, quality, exif=exif)
    small = preview if isinstance(preview, Image.Image) else fit(main, preview)
    second = jpeg_bytes(small, preview_quality)
    first = jpeg_bytes(main, quality, exif=exif, extra=_mpf_segment(b"\x00" * 32))
    base = first.index(b"MPF\x00") + 4
    entries = struct.pack("<IIIHH", 0x20030000, len(first), 0, 0, 0)
    entries += struct.pack("<IIIHH", mp_type, len(second), len(first) - base, 0, 0)
    entries_at = base + _MPF_LEN - 32
    return first[:entries_at] + entries + first[entries_at + 32:] + second


def raw_like_tiff(small: bytes, large: bytes, *, orientation: int = 1, big_endian: bool = False) -> bytes:
    """A TIFF-based RAW lookalike: IFD0 (orientation, SMALL via JPEGInterchangeFormat, two
    SubIFDs), SubIFD A = LARGE as one JPEG strip, SubIFD B = 'raw' sensor data (uncompressed)."""
    e = ">" if big_endian else "<"
    raw = bytes(range(256)) * 16
    ifd0_at, sub_a_at = 8, 8 + 2 + 5 * 12 + 4
    sub_b_at = sub_a_at + 2 + 3 * 12 + 4
    subs_at = sub_b_at + 2 + 3 * 12 + 4
    small_at = subs_at + 8
    large_at = small_at + len(small)
    raw_at = large_at + len(large)

    def entry(tag, typ, count, value):
        if typ == 3 and count == 1:
            return struct.pack(e + "HHIHH", tag, typ, count, value, 0)
        return struct.pack(e + "HHII", tag, typ, count, value)

    out = (b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(e + "I", ifd0_at)
    out += struct.pack(e + "H", 5) + entry(0x0103, 3, 1, 6) + entry(0x0112, 3, 1, orientation)
    out += entry(0x014A, 4, 2, subs_at) + entry(0x0201, 4, 1, small_at) + entry(0x0202, 4, 1, len(small))
    out += struct.pack(e + "I", 0)
    out += struct.pack(e + "H", 3) + entry(0x0103, 3, 1, 7) + entry(0x0111, 4, 1, large_at)
    out += entry(0x0117, 4, 1, len(large)) + struct.pack(e + "I", 0)
    out += struct.pack(e + "H", 3) + entry(0x0103, 3, 1, 1) + entry(0x0111, 4, 1, raw_at)
    out += entry(0x0117, 4, 1, len(raw)) + struct.pack(e + "I", 0)
    out += struct.pack(e + "II", sub_a_at, sub_b_at)
    assert len(out) == small_at
    return out + small + large + raw

"""Find the largest JPEG preview a photo file carries, without decoding the photo itself.

Cameras and phones store smaller copies of the picture next to it: the EXIF IFD1 thumbnail
(160x120, inside APP1, so < 64 KB), MPF "large thumbnails" appended after the main JPEG
(1620x1080, 1920x1280...), and in TIFF-based RAWs (DNG, NEF, CR2, ARW, ORF, PEF) baseline
JPEGs referenced from IFD0, its SubIFDs or IFD1. Decoding such a preview costs a fraction of
a full decode, which is what a first indexing pass over a large folder wants.

Every offset and length comes from the file, so every read is bounds-checked against the
bytes given and every walk is capped: hostile or truncated input yields "no preview" (None),
never an exception or a read outside the buffer. A candidate counts only if it is a complete
baseline/progressive colour JPEG (SOF0/1/2, 3 components, an EOI marker), which rules out
DNG's lossless-JPEG raw tiles and the grey HDR gain maps / depth maps phones put in MPF.

Previews are stored as the sensor saw them, like the main image: they are shown and
embedded with the main image's EXIF orientation (``Preview.orientation``).
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass

# Caps on how much structure a hostile file can make us walk.
_MAX_SEGMENTS = 256
_MAX_IFDS = 32
_MAX_ENTRIES = 1024
_MAX_MPF_IMAGES = 16
_MIN_JPEG = 64  # bytes; anything smaller cannot be a picture
_EOI_SLACK = 64 * 1024  # RAW preview lengths may include padding after the JPEG's EOI
# A secondary MPF image whose header says this is not a copy of the picture.
_NOT_A_PREVIEW = (b"hdrgm", b"GainMap", b"Depth", b"Matte")

SOURCES = ("exif-thumbnail", "mpf", "raw")
# A preview stands in for the full decode only when its short side is this many times the
# model input. Measured with lite on oxford_flowers12 (docs/research/embedded-previews.md):
# a preview exactly at the input size (224 px) moved clustering NMI by -0.014, one at 1.6x
# (363 px) by -0.009; camera previews (1080 px and up) are far above either.
PREVIEW_MARGIN = 1.5


@dataclass(frozen=True)
class Preview:
    jpeg: bytes  # a complete JPEG file
    width: int  # as stored (before orientation)
    height: int
    source: str  # one of SOURCES
    orientation: int = 1  # the main image's EXIF orientation, 1-8
    main_size: tuple[int, int] | None = None  # (w, h) of the main JPEG when the container says

    def covers(self, input_size: int) -> bool:
        """True when this preview can stand in for the full decode at model input INPUT_SIZE:
        its short side reaches the input, and its shape is the main image's (cameras pad a
        160x120 thumbnail of a 3:2 photo with black bars)."""
        if min(self.width, self.height) < input_size:
            return False
        if self.main_size is None:
            return True
        mw, mh = self.main_size
        return mw > 0 and mh > 0 and abs(self.width / self.height - mw / mh) <= 0.02 * (mw / mh)


@dataclass(frozen=True)
class _Jpeg:
    width: int
    height: int
    components: int
    sof: int
    segments: list  # (marker, start, end) of each header segment's payload
    header_end: int  # where the scan (SOS) starts


def find_preview(data: bytes) -> Preview | None:
    """The largest usable preview in DATA (a JPEG or a TIFF-based RAW file), or None."""
    try:
        buf = memoryview(data).cast("B") if not isinstance(data, bytes) else data
        if buf[:2] == b"\xff\xd8":
            return _from_jpeg(buf)
        if buf[:4] in (b"II*\x00", b"MM\x00*", b"IIRO", b"IIU\x00"):  # TIFF; ORF and RW2 variants
            return _from_tiff(buf)
    except (struct.error, IndexError, ValueError, OverflowError, RecursionError):
        pass  # every read is checked; this is the last line of defence
    return None


def read_preview(path, limit: int = 256 * 1024 * 1024) -> Preview | None:
    """find_preview on a file's bytes; an unreadable or oversized file has no preview."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError:
        return None
    return None if len(data) > limit else find_preview(data)


# --- JPEG ------------------------------------------------------------------------------------

def _jpeg_header(buf, start: int = 0, end: int | None = None) -> _Jpeg | None:
    """Walk the markers of the JPEG at BUF[start:end] up to SOS; None unless it is well formed."""
    end = len(buf) if end is None else min(end, len(buf))
    if end - start < 4 or buf[start:start + 2] != b"\xff\xd8":
        return None
    pos = start + 2
    size = None
    segments = []
    for _ in range(_MAX_SEGMENTS):
        if pos + 4 > end or buf[pos] != 0xFF:
            return None
        marker = buf[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = (buf[pos + 2] << 8) | buf[pos + 3]
        if length < 2 or pos + 2 + length > end:
            return None
        seg_start, seg_end = pos + 4, pos + 2 + length
        if marker == 0xDA:
            if size is None:
                return None
            return _Jpeg(size[0], size[1], size[2], size[3], segments, pos)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and size is None:
            if length < 8:
                return None
            h = (buf[seg_start + 1] << 8) | buf[seg_start + 2]
            w = (buf[seg_start + 3] << 8) | buf[seg_start + 4]
            size = (w, h, buf[seg_start + 5], marker)
        segments.append((marker, seg_start, seg_end))
        pos = seg_end
    return None


def _candidate(buf, start: int, length: int, source: str) -> tuple[bytes, _Jpeg] | None:
    """The JPEG at BUF[start:start+length] if it is complete and decodable as a colour preview."""
    if start < 0 or length < _MIN_JPEG or start + length > len(buf):
        return None
    end = start + length
    head = _jpeg_header(buf, start, end)
    if head is None or head.sof not in (0xC0, 0xC1, 0xC2) or head.components != 3:
        return None
    if head.width <= 0 or head.height <= 0:
        return None
    tail = bytes(buf[max(head.header_end, end - _EOI_SLACK):end])
    eoi = tail.rfind(b"\xff\xd9")
    if eoi < 0:
        return None  # truncated
    end = end - len(tail) + eoi + 2
    header = bytes(buf[start:head.header_end])
    if source == "mpf" and any(tag in header for tag in _NOT_A_PREVIEW):
        return None
    return bytes(buf[start:end]), head


def _from_jpeg(buf) -> Preview | None:
    main = _jpeg_header(buf)
    if main is None:
        return None
    orientation = 1
    found: list[tuple[bytes, _Jpeg, str]] = []
    for marker, s, e in main.segments:
        if marker == 0xE1 and bytes(buf[s:s + 6]) == b"Exif\x00\x00":
            tiff = _Tiff(buf, s + 6, e)
            if tiff.ok:
                orientation = tiff.orientation() or orientation
                found += [(j, h, "exif-thumbnail") for j, h in tiff.jpegs(only_ifd1=True)]
        elif marker == 0xE2 and bytes(buf[s:s + 4]) == b"MPF\x00":
            found += [(j, h, "mpf") for j, h in _mpf_images(buf, s + 4, e)]
    return _largest(found, orientation, (main.width, main.height))


def _mpf_images(buf, base: int, end: int):
    """Secondary images of an MPF index (offsets relative to the MPF TIFF header at BASE)."""
    tiff = _Tiff(buf, base, end)
    if not tiff.ok:
        return []
    entries = tiff.ifd_entries(tiff.first_ifd)
    if entries is None or 0xB002 not in entries:
        return []
    typ, count, value_at = entries[0xB002]
    n = min(count // 16, _MAX_MPF_IMAGES)
    if typ != 7 or n < 2 or value_at + 16 * n > end:
        return []
    out = []
    for i in range(1, n):  # entry 0 is the primary image
        attr, size, offset = struct.unpack_from(tiff.e + "III", buf, value_at + 16 * i)
        fmt, mp_type = (attr >> 24) & 0x7, attr & 0xFFFFFF
        if fmt != 0 or (mp_type >> 16) not in (0x00, 0x01):  # JPEG; undefined or a large thumbnail
            continue  # (0x02xxxx are other views: panorama frames, stereo pairs, multi-angle)
        got = _candidate(buf, base + offset, size, "mpf")
        if got is not None:
            out.append(got)
    return out


# --- TIFF (EXIF blocks, RAW files) -----------------------------------------------------------

_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}


class _Tiff:
    """Bounds-checked reads of a TIFF structure at BUF[base:end]; offsets are relative to BASE."""

    def __init__(self, buf, base: int, end: int):
        self.buf, self.base, self.end = buf, base, min(end, len(buf))
        self.ok = False
        if self.base + 8 > self.end:
            return
        order = bytes(buf[base:base + 2])
        if order not in (b"II", b"MM"):
            return
        self.e = "<" if order == b"II" else ">"
        self.first_ifd = struct.unpack_from(self.e + "I", buf, base + 4)[0]
        self.ok = True

    def ifd_entries(self, offset: int) -> dict | None:
        """tag -> (type, count, absolute position of the value) for the IFD at OFFSET."""
        at = self.base + offset
        if offset < 8 or at + 2 > self.end:
            return None
        n = struct.unpack_from(self.e + "H", self.buf, at)[0]
        if n == 0 or n > _MAX_ENTRIES or at + 2 + 12 * n + 4 > self.end:
            return None
        out = {}
        for i in range(n):
            p = at + 2 + 12 * i
            tag, typ, count = struct.unpack_from(self.e + "HHI", self.buf, p)
            width = _TYPE_SIZE.get(typ, 0) * count
            if width == 0:
                continue
            value_at = p + 8 if width <= 4 else self.base + struct.unpack_from(self.e + "I", self.buf, p + 8)[0]
            if value_at + width > self.end:
                continue
            out.setdefault(tag, (typ, count, value_at))
        out[-1] = (4, 1, at + 2 + 12 * n)  # where the next-IFD offset lives
        return out

    def ints(self, entry, limit: int = 64) -> list[int]:
        typ, count, at = entry
        code = {1: "B", 3: "H", 4: "I", 13: "I", 16: "Q"}.get(typ)
        if code is None:
            return []
        count = min(count, limit)
        return list(struct.unpack_from(self.e + code * count, self.buf, at))

    def one(self, entries: dict, tag: int) -> int | None:
        v = self.ints(entries[tag], 1) if tag in entries else []
        return v[0] if v else None

    def orientation(self) -> int | None:
        entries = self.ifd_entries(self.first_ifd)
        o = self.one(entries, 0x0112) if entries else None
        return o if o is not None and 1 <= o <= 8 else None

    def walk(self):
        """(index in the IFD chain or -1 for a SubIFD, entries) for IFD0, IFD1... and their SubIFDs."""
        seen: set[int] = set()
        todo = [(self.first_ifd, 0)]
        while todo and len(seen) < _MAX_IFDS:
            offset, index = todo.pop(0)
            if offset in seen:
                continue
            seen.add(offset)
            entries = self.ifd_entries(offset)
            if entries is None:
                continue
            yield index, entries
            nxt = self.one(entries, -1)
            if nxt and index >= 0:
                todo.append((nxt, index + 1))
            if 0x014A in entries:
                todo += [(o, -1) for o in self.ints(entries[0x014A], 16)]

    def jpegs(self, only_ifd1: bool = False):
        """Complete colour JPEGs referenced by JPEGInterchangeFormat or by one-strip JPEG IFDs."""
        out = []
        for index, entries in self.walk():
            if only_ifd1 and index != 1:
                continue
            start, length = self.one(entries, 0x0201), self.one(entries, 0x0202)
            if start is None or length is None:
                compression = self.one(entries, 0x0103)
                strips, counts = entries.get(0x0111), entries.get(0x0117)
                if compression not in (6, 7) or strips is None or counts is None or strips[1] != 1:
                    continue
                start, length = self.one(entries, 0x0111), self.one(entries, 0x0117)
            got = _candidate(self.buf, self.base + start, length, "raw") if start is not None and length else None
            if got is not None:
                out.append(got)
            if only_ifd1:
                break
        return out


def _from_tiff(buf) -> Preview | None:
    tiff = _Tiff(buf, 0, len(buf))  # the magic number is not checked: ORF and RW2 vary it
    if not tiff.ok:
        return None
    found = [(j, h, "raw") for j, h in tiff.jpegs()]
    return _largest(found, tiff.orientation() or 1, None)


def _largest(found, orientation: int, main_size) -> Preview | None:
    if not found:
        return None
    jpeg, head, source = max(found, key=lambda f: (f[1].width * f[1].height, len(f[0])))
    return Preview(jpeg, head.width, head.height, source, orientation, main_size)


def decode_preview(data: bytes, input_size: int = 224, thumb_size: int = 256):
    """(Decoded, Preview) from the photo's own preview, or None when it has none that covers
    PREVIEW_MARGIN x the model input (the caller then decodes the photo). The meta (size, orientation, capture
    time, camera) is the main image's, read from its header; raises UnreadableImage only for
    what the full decode would refuse too (a photo over the pixel limit), so a preview never
    gets a photo into the library that the full decode would keep out."""
    from photoclust_app.core.errors import UnreadableImage
    from photoclust_app.core.ingest.decode import decode_bytes, header_meta

    preview = find_preview(data)
    if preview is None or not preview.covers(math.ceil(PREVIEW_MARGIN * input_size)):
        return None
    if preview.source == "raw":
        return None  # RAW files are not indexed (scan.py); their meta would come from the TIFF
    meta = header_meta(data)
    try:
        return decode_bytes(preview.jpeg, input_size, thumb_size, like=meta), preview
    except UnreadableImage:
        return None  # a broken preview: the full decode decides

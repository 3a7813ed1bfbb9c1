"""When a photo was taken, from its EXIF: DateTimeOriginal with OffsetTimeOriginal, else
DateTimeDigitized with OffsetTimeDigitized, else DateTime with OffsetTime. A tag holding
garbage (a blank '    :  :     ', a year 0000, a month 13) is passed over for the next.
The file's own modification time is the last resort; the library records which one it used.
"""
from __future__ import annotations

import re

# (source name, tag, its offset tag, where the tag lives: 'exif' sub-IFD or 'ifd0')
SOURCES = (("DateTimeOriginal", 0x9003, 0x9011, "exif"),
           ("DateTimeDigitized", 0x9004, 0x9012, "exif"),
           ("DateTime", 0x0132, 0x9010, "ifd0"))
FILE_TIME = "file time"

_EXIF_DT = re.compile(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")


def exif_text(value) -> str | None:
    """An EXIF ASCII value as text: bytes decoded, NULs dropped, blank -> None."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    s = str(value).replace("\x00", "").strip()
    return s or None


def iso_datetime(raw: str | None, offset: str | None = None) -> str | None:
    """'2021:07:14 18:03:59' -> '2021-07-14T18:03:59', plus '+02:00' when OFFSET is a valid
    UTC offset (-12:00..+14:00); None when RAW is not a real date and time."""
    if not raw:
        return None
    m = _EXIF_DT.match(raw)
    if not m:
        return None
    y, mo, d, hh, mi, ss = (int(g) for g in m.groups())
    if not (1 <= mo <= 12 and 1 <= d <= 31 and hh < 24 and mi < 60 and ss < 61 and y > 1800):
        return None
    iso = f"{y:04d}-{mo:02d}-{d:02d}T{hh:02d}:{mi:02d}:{min(ss, 59):02d}"
    om = _OFFSET.match(offset or "")
    if om:
        sign, oh, omin = om.groups()
        minutes = int(oh) * 60 + int(omin)
        if int(omin) < 60 and (-12 * 60 <= (minutes if sign == "+" else -minutes) <= 14 * 60):
            iso += f"{sign}{oh}:{omin}"
    return iso


def capture_time(exif) -> tuple[str | None, str | None]:
    """(ISO capture time, the tag it came from) from a Pillow Exif, or (None, None)."""
    try:
        sub = exif.get_ifd(0x8769)
    except Exception:
        sub = {}
    for name, tag, offset_tag, where in SOURCES:
        try:
            raw = exif_text((sub if where == "exif" else exif).get(tag))
            offset = exif_text(sub.get(offset_tag))
        except Exception:
            continue
        iso = iso_datetime(raw, offset)
        if iso:
            return iso, name
    return None, None

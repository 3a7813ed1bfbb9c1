"""The filter words of a search box: file name, folder and date, beside the free text.

    2023  2023-07  2023-07-14  2021..2023      a date, month, day or range (capture date, else file date)
    holiday/  trips/2023/                        a folder anywhere in the path
    IMG_  DSC0012  .png  name:beach             a part of the file name
    folder:holiday  date:2023                    the same, spelled out
    colour:blue  color:bw                       ranks by colour (search/colour.py)
Everything else is free text for the model. Words in quotes stay together as text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from photoclust_app.core.errors import PhotoclustError


class BadQuery(PhotoclustError):
    """A search filter that cannot be understood."""


_DAY = r"\d{4}(?:-\d{1,2}(?:-\d{1,2})?)?"
_DATE = re.compile(rf"^({_DAY})(?:\.\.({_DAY})?)?$|^\.\.({_DAY})$")
_NAMEISH = re.compile(r"[_.\d]")


@dataclass
class Query:
    text: str = ""
    names: list[str] = field(default_factory=list)     # lower-case parts of the file name
    folders: list[str] = field(default_factory=list)   # lower-case folder paths, no slashes at the ends
    dates: list[tuple[str, str]] = field(default_factory=list)  # inclusive ISO day ranges
    colour: str | None = None                          # a swatch name (search/colour.py)

    @property
    def has_filters(self) -> bool:
        return bool(self.names or self.folders or self.dates)

    def matches(self, relpath: str, day: str | None) -> bool:
        """True when RELPATH (and its capture day 'YYYY-MM-DD', or None) pass every filter."""
        low = relpath.lower()
        base = low.rsplit("/", 1)[-1]
        folder = "/" + low.rsplit("/", 1)[0] + "/" if "/" in low else "/"
        if any(n not in base for n in self.names):
            return False
        if any(f"/{f}/" not in folder for f in self.folders):
            return False
        if self.dates and (day is None or not any(a <= day <= b for a, b in self.dates)):
            return False
        return True


def _bounds(text: str, end: bool) -> str:
    parts = [int(p) for p in text.split("-")]
    y = parts[0]
    if not 1800 <= y <= 2200:
        raise BadQuery(f"'{text}' is not a year photoclust understands (1800-2200).")
    mo = parts[1] if len(parts) > 1 else (12 if end else 1)
    if not 1 <= mo <= 12:
        raise BadQuery(f"'{text}' has no month {mo}.")
    if len(parts) > 2:
        d = parts[2]
        try:
            date(y, mo, d)
        except ValueError:
            raise BadQuery(f"'{text}' is not a date.") from None
    elif end:
        d = (date(y + (mo == 12), mo % 12 + 1, 1) - date(y, mo, 1)).days
    else:
        d = 1
    return f"{y:04d}-{mo:02d}-{d:02d}"


def _date_range(token: str) -> tuple[str, str] | None:
    m = _DATE.match(token)
    if not m:
        return None
    a, b, only_end = m.groups()
    if only_end:
        return "0000-01-01", _bounds(only_end, True)
    if b is None and token.endswith(".."):
        return _bounds(a, False), "9999-12-31"
    lo, hi = _bounds(a, False), _bounds(b or a, True)
    if lo > hi:
        raise BadQuery(f"The date range '{token}' ends before it starts.")
    return lo, hi


def parse_query(text: str) -> Query:
    """Split a search box's text into filters and free text (see the module docstring)."""
    q = Query()
    words: list[str] = []
    for quoted, token in re.findall(r'"([^"]*)"|(\S+)', text or ""):
        if quoted:
            words.append(quoted)
            continue
        key, sep, value = token.partition(":")
        key = key.lower()
        if sep and key in ("name", "file", "folder", "dir", "date", "colour", "color") and value:
            if key in ("colour", "color"):
                from photoclust_app.core.search.colour import colour_name

                q.colour = colour_name(value.replace("-", " "))
                if q.colour is None:
                    raise BadQuery(f"'{value}' is not a colour photoclust knows: try red, orange, yellow, green, "
                                   "teal, blue, purple, pink, brown, white, grey, black or bw.")
            elif key == "date":
                rng = _date_range(value)
                if rng is None:
                    raise BadQuery(f"'{value}' is not a date: write 2023, 2023-07, 2023-07-14 or 2021..2023.")
                q.dates.append(rng)
            elif key in ("folder", "dir"):
                q.folders.append(value.strip("/").lower())
            else:
                q.names.append(value.lower())
            continue
        if re.fullmatch(r"\d{4}", token) and not 1800 <= int(token) <= 2200:
            q.names.append(token)  # not a plausible year: a part of a file name (DSC_1234 -> 1234)
            continue
        rng = _date_range(token)
        if rng is not None and (".." in token or len(token) >= 4):
            q.dates.append(rng)
        elif "/" in token and token.strip("/"):
            q.folders.append(token.strip("/").lower())
        elif _NAMEISH.search(token):
            q.names.append(token.lower())
        else:
            words.append(token)
    q.text = " ".join(words).strip()
    if q.colour is None:
        from photoclust_app.core.search.colour import colour_name

        named = colour_name(q.text)  # the whole free text names a colour: "mostly blue", "black and white"
        if named is not None:
            q.colour, q.text = named, ""
    return q

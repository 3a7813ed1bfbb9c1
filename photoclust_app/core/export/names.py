"""Folder and file names for export: safe on Linux, macOS and Windows alike.

Cluster names are typed by users (or suggested by a model), so they can hold anything:
separators, '..', NUL, reserved device names. Every name that export creates passes
through here so that it is exactly one path component that every common file system
accepts, and so that names that would collide on a case-insensitive file system
(macOS, Windows, exFAT) get " (2)", " (3)" instead.
"""
from __future__ import annotations

import unicodedata

MAX_FOLDER_BYTES = 120   # leaves room for " (999)" and file names under the 255-byte limit
MAX_FILE_BYTES = 200

_REPLACED = set('/\\:*?"<>|')
# Bidi overrides and friends let a name display as something it is not; the BOM is invisible.
_DROPPED = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
_SUPERSCRIPT_DIGITS = "\u00b9\u00b2\u00b3"
WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{p}{d}" for p in ("COM", "LPT") for d in "0123456789" + _SUPERSCRIPT_DIGITS]
)


def _clean_chars(name: str) -> str:
    out = []
    for ch in unicodedata.normalize("NFC", name):
        cat = unicodedata.category(ch)
        if ch in _REPLACED or cat == "Cs":      # separators, Windows-forbidden, undecodable bytes
            out.append("_")
        elif ch.isspace():                      # newline, tab, NBSP... -> a plain space
            out.append(" ")
        elif cat == "Cc" or ch in _DROPPED:     # NUL, other controls, bidi overrides
            continue
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def _cap_bytes(name: str, max_bytes: int) -> str:
    """Cut to at most max_bytes of UTF-8 on a character boundary."""
    data = name.encode("utf-8")
    if len(data) <= max_bytes:
        return name
    cut = data[:max_bytes].decode("utf-8", errors="ignore")
    # Do not leave half an emoji sequence dangling on a joiner.
    return cut.rstrip("\u200d")


def _avoid_reserved(name: str) -> str:
    """'CON' -> 'CON_', 'con.txt' -> 'con_.txt' (Windows reserves these with any extension)."""
    stem, dot, rest = name.partition(".")
    if stem.rstrip(" ").upper() in WINDOWS_RESERVED:
        return stem.rstrip(" ") + "_" + dot + rest
    return name


def _sanitize(name: str, max_bytes: int) -> str:
    s = _clean_chars(str(name))
    s = s.lstrip(". ")          # never '.', '..' or a hidden folder
    s = s.rstrip(". ")          # Windows drops trailing dots and spaces
    s = _cap_bytes(s, max_bytes).rstrip(". ")
    return _avoid_reserved(s) if s else ""


def sanitize_folder_name(name: str, fallback: str = "Cluster") -> str:
    """One safe path component made from a display name; ``fallback`` if nothing is left.

    Separators and ':*?"<>|' become '_', whitespace runs become one space, control and
    bidi characters go, leading/trailing dots and spaces go, Windows device names get a
    '_' (CON -> CON_), and the result is capped at 120 UTF-8 bytes. Emoji are kept.
    """
    s = _sanitize(name, MAX_FOLDER_BYTES)
    if s:
        return s
    return _sanitize(fallback, MAX_FOLDER_BYTES) or "Cluster"


def sanitize_file_name(name: str, fallback: str = "photo") -> str:
    """Like sanitize_folder_name, keeping the extension (``.JPG`` stays ``.JPG``)."""
    stem, dot, ext = str(name).rpartition(".")
    if not dot or not stem.strip(". ") or len(ext) > 16 or not ext.isalnum():
        stem, ext = str(name), ""
    ext = _sanitize(ext, 16)
    suffix = "." + ext if ext else ""
    s = _sanitize(stem, MAX_FILE_BYTES - len(suffix.encode("utf-8")))
    if not s:
        s = _sanitize(fallback, MAX_FILE_BYTES) or "photo"
    return s + suffix


def name_key(name: str) -> str:
    """Collision key: equal for names a case-/normalisation-insensitive FS treats as one."""
    return unicodedata.normalize("NFC", name).casefold()


def numbered(name: str, n: int, *, keep_extension: bool) -> str:
    """'Dogs' -> 'Dogs (2)'; for files 'a.jpg' -> 'a (2).jpg'."""
    if n < 2:
        return name
    if keep_extension:
        stem, dot, ext = name.rpartition(".")
        if dot and stem:
            return f"{stem} ({n}).{ext}"
    return f"{name} ({n})"


def unique_name(name: str, taken: set[str], *, keep_extension: bool) -> str:
    """First of name, 'name (2)', 'name (3)'... whose key is not in ``taken``; adds it."""
    n = 1
    while True:
        candidate = numbered(name, n, keep_extension=keep_extension)
        key = name_key(candidate)
        if key not in taken:
            taken.add(key)
            return candidate
        n += 1

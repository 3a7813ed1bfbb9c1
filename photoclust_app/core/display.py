"""How file names are shown to people: one line, unambiguous, whatever bytes they hold."""
from __future__ import annotations


def printable_path(path: str) -> str:
    r"""Undecodable bytes (surrogate escapes from os.fsdecode) become \xNN and line breaks \n,
    so 'bad\xff.jpg' never displays as another file's name and a list stays one row a file."""
    text = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text.replace("\r", "\\r").replace("\n", "\\n")

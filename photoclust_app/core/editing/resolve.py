"""Names the command line uses for clusters and photos, resolved against a session.

CLUSTER is a cluster id (``12`` or ``#12``), a cluster's current name, ``unsorted``, or
``new:NAME`` (a cluster made for the edit). PHOTO is a path relative to the photo folder,
or a path (absolute or relative to the working directory) inside it.
"""
from __future__ import annotations

import os
from pathlib import Path

from photoclust_app.core.editing.session import Session
from photoclust_app.core.errors import PhotoclustError

UNSORTED = "unsorted"
NEW_PREFIX = "new:"


class UnknownTarget(PhotoclustError):
    """A cluster or photo named on the command line is not in the library."""


def resolve_cluster(session: Session, text: str) -> int | None:
    """The cluster TEXT names (None: Unsorted). ``new:NAME`` is handled by the caller."""
    t = text.strip()
    if t.lower() == UNSORTED:
        return None
    by_name = [c.id for c in session.clusters() if c.display_name == t]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        raise UnknownTarget(f"Several clusters are called \u201c{t}\u201d; name one by its id "
                            f"({', '.join('#' + str(i) for i in by_name)}).")
    digits = t[1:] if t.startswith("#") else t
    if digits.isdigit() and session.cluster(int(digits)) is not None:
        return int(digits)
    folded = [c.id for c in session.clusters() if c.display_name.casefold() == t.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise UnknownTarget(f"There is no cluster \u201c{t}\u201d; `photoclust info FOLDER` lists them.")


def resolve_photos(session: Session, paths: list[str]) -> list[int]:
    """Photo ids for PATHS, in order; every path must be a photo of the library."""
    by_rel = {session.relpath(pid): pid for pid in session.photo_ids()}
    folder = session.folder
    out, missing = [], []
    for p in paths:
        rel = _relative(folder, p)
        if rel in by_rel:
            out.append(by_rel[rel])
        else:
            missing.append(p)
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise UnknownTarget(f"Not photos of this library: {shown}.")
    return out


def _relative(folder: Path, text: str) -> str:
    """TEXT as a relpath of FOLDER: as given when it names a photo there, else resolved from
    the working directory (without following a symlink at the end)."""
    posix = text.replace(os.sep, "/")
    if not os.path.isabs(text) and (folder / text).exists():
        return posix[2:] if posix.startswith("./") else posix
    path = Path(os.path.abspath(text))
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return posix

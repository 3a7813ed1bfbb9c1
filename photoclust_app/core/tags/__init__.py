"""Cluster names as keywords in XMP sidecars, for digiKam, darktable and Lightroom.

The public API the CLI and the GUI use: tag_library writes every cluster's name into its
photos' sidecars (and takes photoclust's keywords out of Unsorted photos' sidecars);
untag_library undoes the newest tagging. The packet handling is in xmp, the careful file
work and the journal in write. Qt-free.
"""
from __future__ import annotations

from pathlib import Path

from photoclust_app.core.progress import ProgressFn
from photoclust_app.core.tags.write import (NAMINGS, TagError, TagReport, UntagReport, journals, sidecar_name,
                                            tag_photos, undo_tags)

__all__ = ["NAMINGS", "TagError", "TagReport", "UntagReport", "journal_dir", "sidecar_name", "tag_library",
           "tag_photos", "undo_tags", "untag_library", "journals"]


def journal_dir(lib) -> Path:
    """Where the tag journals of a library live: beside the library file."""
    return Path(lib.path).parent / "tags"


def tag_library(lib, *, naming: str = NAMINGS[0], progress: ProgressFn | None = None) -> TagReport:
    """Write the library's cluster names into its photos' XMP sidecars (see write.tag_photos)."""
    groups, unsorted = lib.cluster_paths()
    return tag_photos(groups, unsorted, lib.folder, journal_dir(lib), naming=naming, progress=progress)


def untag_library(lib) -> UntagReport:
    """Undo the newest tagging of this library's folder."""
    return undo_tags(lib.folder, journal_dir(lib))

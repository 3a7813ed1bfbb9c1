"""Records that cross module boundaries. Vectors stay plain numpy arrays."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PhotoRecord:
    """A file found by scan. relpath is POSIX-style, relative to the library folder;
    undecodable bytes in names survive as surrogate escapes (os.fsdecode)."""

    relpath: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class PhotoMeta:
    """What one decode learns besides the pixels. width/height are after EXIF rotation."""

    width: int
    height: int
    orientation: int = 1
    taken_at: str | None = None  # ISO 8601, from EXIF DateTimeOriginal
    camera: str | None = None
    taken_source: str | None = None  # the EXIF tag taken_at came from (ingest/capture_time.py)


@dataclass(frozen=True)
class Skip:
    """A file that is not in the index, and why (one line, for the user)."""

    relpath: str
    reason: str


@dataclass(frozen=True)
class Photo:
    """A photo in the library."""

    id: int
    relpath: str
    size: int
    mtime_ns: int
    width: int = 0
    height: int = 0
    taken_at: str | None = None


@dataclass
class Cluster:
    """A named group with an identity that survives re-clustering.
    cluster id None never appears here: Unsorted is the absence of a cluster."""

    id: int
    name: str
    suggested_name: str = ""
    user_named: bool = False
    size: int = 0
    representatives: list[int] = field(default_factory=list)  # photo ids, medoid first
    alternatives: list[str] = field(default_factory=list)     # other names worth offering

    @property
    def display_name(self) -> str:
        return self.name or self.suggested_name or f"Cluster {self.id}"

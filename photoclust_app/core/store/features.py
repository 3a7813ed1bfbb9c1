"""What search reads and writes beside the embeddings: capture-time sources and colour
histograms (schema 4)."""
from __future__ import annotations

from typing import Iterable

import numpy as np


class FeatureStore:
    """Mixin of Library: per-photo search features."""

    def capture_times(self) -> dict[int, tuple[str | None, str | None, int]]:
        """photo id -> (taken_at ISO or None, the EXIF tag it came from or None, mtime_ns)."""
        return {r[0]: (r[1], r[2], r[3]) for r in self._q("SELECT id, taken_at, taken_source, mtime_ns FROM photos")}

    def colour_matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids, float32 histograms) of every photo with one, ordered by id."""
        from photoclust_app.core.ingest.colour import COLOUR_DIM

        size = 2 * COLOUR_DIM   # a histogram of another layout is left out (recomputed by the next index)
        rows = [r for r in self._q("SELECT photo_id, hist FROM colours ORDER BY photo_id")
                if isinstance(r[1], (bytes, memoryview)) and len(r[1]) == size]
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return ids, np.stack([np.frombuffer(r[1], dtype=np.float16) for r in rows]).astype(np.float32)

    def photos_without_colour(self) -> list[int]:
        """Photos with a thumbnail and no colour histogram of the current layout."""
        from photoclust_app.core.ingest.colour import COLOUR_DIM

        return [r[0] for r in self._q(
            "SELECT p.id FROM photos p JOIN thumbnails t ON t.photo_id = p.id WHERE p.id NOT IN"
            " (SELECT photo_id FROM colours WHERE length(hist) = ?) ORDER BY p.id", (2 * COLOUR_DIM,))]

    def thumbnails_of(self, photo_ids: Iterable[int]) -> dict[int, bytes]:
        ids = [int(p) for p in photo_ids]
        out: dict[int, bytes] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            marks = ",".join("?" * len(part))
            for pid, jpeg in self._q(f"SELECT photo_id, jpeg FROM thumbnails WHERE photo_id IN ({marks})", part):
                if isinstance(jpeg, (bytes, memoryview)):
                    out[pid] = bytes(jpeg)
        return out

    def set_colours(self, colours: dict[int, np.ndarray]) -> None:
        with self.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO colours(photo_id, hist) VALUES(?, ?)",
                          [(int(pid), np.ascontiguousarray(h, dtype=np.float16).tobytes())
                           for pid, h in colours.items()])

"""The one search API the window and the command line share.

``Searcher(lib)`` reads the library's vectors, paths and dates once (a snapshot) and then
answers any number of queries from memory: text (with file name, folder and date filters
in the same string), more like this, and colour (colour.py). Results are photo ids with a
score, best first; ``within`` restricts them (the window's cluster filter).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from photoclust_app.core.errors import ModelUnavailable, PhotoclustError
from photoclust_app.core.ingest.capture_time import FILE_TIME
from photoclust_app.core.search.dates import photo_time
from photoclust_app.core.search.filters import BadQuery, Query, parse_query
from photoclust_app.core.search.rank import VectorIndex
from photoclust_app.core.search.similar import more_like_this
from photoclust_app.core.search.text import NoLabel, has_text_tower, rank_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    photo_id: int
    relpath: str
    score: float


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    mode: str                 # "text" | "labels" | "names" | "filters" | "similar" | "colour"
    notice: str | None = None  # a sentence for the user (offline limits, a fallback)

    @property
    def photo_ids(self) -> list[int]:
        return [h.photo_id for h in self.hits]


class Searcher:
    """Repeated queries over one library snapshot. Not thread-safe; cheap to rebuild."""

    def __init__(self, lib, *, embedder=None, device: str = "cpu"):
        with lib.snapshot():
            photos = lib.photos()
            missing = set(lib.missing())
            self.index = VectorIndex.from_library(lib)
            self._colour_ids, self._colours = lib.colour_matrix()
            captured = lib.capture_times()
        self.model = lib.model or ""
        self.relpaths = {p.id: p.relpath for p in photos if p.id not in missing}
        self.times: dict[int, float] = {}
        self.days: dict[int, str] = {}
        self.date_sources: dict[int, str] = {}
        for p in photos:
            if p.id in self.relpaths:
                self.times[p.id], self.days[p.id] = photo_time(p.taken_at, p.mtime_ns)
                taken_at, source, _ = captured.get(p.id, (None, None, 0))
                self.date_sources[p.id] = (source or "EXIF") if taken_at else FILE_TIME
        self._embedder = embedder
        self._device = device
        self._scorer = None

    # -- helpers -------------------------------------------------------------------------
    def embedder(self):
        if self._embedder is None:
            if not self.model:
                raise PhotoclustError("This folder has not been indexed yet: run `photoclust index FOLDER` first.")
            from photoclust_app.core.embed import create_embedder

            self._embedder = create_embedder(self.model, self._device, fallback=False)
        return self._embedder

    @property
    def offline_limited(self) -> bool:
        """True when text search can only match a fixed vocabulary (the 'lite' model)."""
        return self.model == "lite"

    def _mask(self, ids) -> np.ndarray:
        mask = np.zeros(len(self.index), dtype=bool)
        mask[self.index.rows(ids)] = True
        return mask

    def _hits(self, pairs) -> list[Hit]:
        return [Hit(int(pid), self.relpaths[int(pid)], round(float(s), 6)) for pid, s in pairs
                if int(pid) in self.relpaths]

    def _filtered(self, q: Query, within) -> list[int]:
        ids = self.relpaths if within is None else [i for i in within if i in self.relpaths]
        if not q.has_filters:
            return list(ids)
        return [i for i in ids if q.matches(self.relpaths[i], self.days.get(i))]

    # -- queries -------------------------------------------------------------------------
    def search(self, text: str, *, limit: int = 20, min_score: float | None = None, within=None) -> SearchResult:
        """Photos matching TEXT: filters narrow, free text ranks (see filters.py)."""
        if limit <= 0:
            raise BadQuery("The number of results must be at least 1.")
        q = parse_query(text)
        if not q.text and not q.has_filters and q.colour is None:
            raise BadQuery("Type something to search for: words, a file name, a folder/ or a date.")
        ids = self._filtered(q, within)
        if q.colour is not None:
            return self._by_colour(q, ids, limit)
        if not q.text:
            ids.sort(key=lambda i: (self.times.get(i, 0.0), self.relpaths[i]))
            return SearchResult(self._hits((i, 1.0) for i in ids[:limit]), "filters")
        if len(self.index) == 0:
            return SearchResult([], "text", "No photo has been indexed yet.")
        allowed = self._mask(ids) if (q.has_filters or within is not None) else None
        try:
            emb = self.embedder()
        except ModelUnavailable as err:   # CLIP weights not here (offline): names still work
            reason = str(err).rstrip(".")
            return self._by_name(q, ids, limit, f"Text search needs the model's weights ({reason}). "
                                                "Showing photos whose file or folder name contains it.")
        try:
            if not has_text_tower(emb) and self._scorer is None:
                from photoclust_app.core.search.labels import LabelScorer

                self._scorer = LabelScorer.from_embedder(emb)
            r = rank_text(self.index, q.text, emb, limit=limit, min_score=min_score, allowed=allowed,
                          scorer=self._scorer)
        except NoLabel as err:
            return self._by_name(q, ids, limit, f"{err} Showing photos whose file or folder name contains it.")
        return SearchResult(self._hits(zip(self.index.ids[r.rows], r.scores)), r.mode, r.notice)

    def _by_colour(self, q: Query, ids: list[int], limit: int) -> SearchResult:
        from photoclust_app.core.search.colour import colour_scores
        from photoclust_app.core.search.rank import top_k

        if q.text:
            raise BadQuery("Search by colour or by text, not both at once (try the colour alone).")
        notice = None
        if len(self._colour_ids) < len(self.relpaths):
            notice = "Some photos have no colour yet: index the folder once more to add them."
        if len(self._colour_ids) == 0:
            return SearchResult([], "colour", notice)
        scores = colour_scores(self._colours, q.colour)
        wanted = np.isin(self._colour_ids, np.asarray(ids, dtype=np.int64))
        rows = top_k(scores, limit, wanted & (scores > 0.05))
        return SearchResult(self._hits(zip(self._colour_ids[rows], scores[rows])), "colour", notice)

    def _by_name(self, q: Query, ids: list[int], limit: int, notice: str) -> SearchResult:
        words = [w.lower() for w in q.text.split()]
        found = [i for i in ids if all(w in self.relpaths[i].lower() for w in words)]
        found.sort(key=lambda i: self.relpaths[i])
        return SearchResult(self._hits((i, 1.0) for i in found[:limit]), "names", notice)

    def similar(self, photo_ids, *, limit: int = 20, within=None) -> SearchResult:
        """Photos most like PHOTO_IDS (one photo, or the mean of a selection)."""
        if limit <= 0:
            raise BadQuery("The number of results must be at least 1.")
        allowed = self._mask(within) if within is not None else None
        pairs = more_like_this(self.index, photo_ids, limit, allowed)
        return SearchResult(self._hits(pairs), "similar")

    def colour_groups(self, within=None) -> dict[str, list[Hit]]:
        """Photos grouped by their dominant colour (search/colour.group_by_colour)."""
        from photoclust_app.core.search.colour import group_by_colour

        ids, hists = self._colour_ids, self._colours
        if within is not None:
            keep = np.isin(ids, np.asarray(list(within), dtype=np.int64))
            ids, hists = ids[keep], hists[keep]
        return {name: self._hits(pairs) for name, pairs in group_by_colour(ids, hists).items()}

    def sort_by_date(self, photo_ids) -> list[int]:
        """PHOTO_IDS oldest first (capture time, else file time)."""
        return sorted(photo_ids, key=lambda i: (self.times.get(i, float("inf")), i))


def resolve_photo_refs(searcher: Searcher, folder, refs: list[str]) -> list[int]:
    """Photo ids for paths (relative to FOLDER, or absolute); every one must be in the library."""
    from pathlib import Path

    from photoclust_app.core.editing.resolve import UnknownTarget, _relative

    by_rel = {rel: pid for pid, rel in searcher.relpaths.items()}
    out, unknown = [], []
    for ref in refs:
        pid = by_rel.get(_relative(Path(folder), ref))
        (out if pid is not None else unknown).append(pid if pid is not None else ref)
    if unknown:
        shown = ", ".join(unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        raise UnknownTarget(f"Not photos of this library: {shown}.")
    return out


def library_events(searcher: Searcher, gap_hours: float, within=None):
    """Events (dates.Event) across the library, or inside WITHIN (a cluster's photo ids)."""
    from photoclust_app.core.search.dates import events

    ids = searcher.relpaths if within is None else [i for i in within if i in searcher.relpaths]
    return events({i: searcher.times[i] for i in ids}, gap_hours)


def cluster_date_ranges(searcher: Searcher, members: dict[int, list[int]]) -> dict[int, str]:
    """cluster id -> '2021-07-14 – 2021-08-02' (its photos' first and last day)."""
    from photoclust_app.core.search.dates import date_range

    return {cid: date_range([searcher.days[i] for i in ids if i in searcher.days]) for cid, ids in members.items()}

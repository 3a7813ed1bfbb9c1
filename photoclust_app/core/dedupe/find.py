"""Finding copies in a library: identical, near-identical, and bursts.

- identical: the same bytes. Only photos whose quick hash (size + three 64 KiB windows,
  stored by the index) agrees with another's are read in full, and their SHA-256 compared.
- near-identical: the same picture resized, recompressed, re-saved in another format,
  lightly cropped or edited: embedding cosine >= the model's threshold (measured by
  `photoclust bench duplicates`) AND a perceptual-hash distance <= PHASH_MAX on the
  thumbnails; or a pHash distance <= PHASH_STRONG with a cosine >= COSINE_FLOOR (a small
  resize moves the embedding, not the pHash); or a cosine >= the model's "sure" threshold.
  Two photos with camera EXIF and different capture times are never copies of each other
  (they are frames of a burst, or two shots).
- bursts: different frames of one moment: EXIF capture times at most ``burst_window``
  seconds apart, the same camera, embedding cosine >= BURST_COSINE. Copies of one picture
  count as one frame (the group's keeper), so a burst never lists a photo and its copy.
Groups are connected components of those links; each gets a keeper (keeper.py).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

import numpy as np

from photoclust_app.core.dedupe import hashes
from photoclust_app.core.dedupe.keeper import Candidate, choose_keeper
from photoclust_app.core.dedupe.neighbours import cosine_pairs, phash_pairs
from photoclust_app.core.errors import PhotoclustError
from photoclust_app.core.export.guard import Guard, Unsafe
from photoclust_app.core.progress import ProgressFn, no_progress
from photoclust_app.core.store.duplicates import DupeRow, Facts

log = logging.getLogger(__name__)

KINDS = ("identical", "near", "burst")
# Embedding cosine from which a pair is a near-identical candidate, and from which it is one
# without a perceptual-hash confirmation; per model family (bench duplicates measures them).
# Measured with lite on the planted set (bench duplicates, 60 originals, 600 copies): hard
# negatives (same class, other photo) reach cosine 0.90 but a pHash distance of 12 at the
# least (24-30 for those above 0.85); copies: crop 5% cosine >= 0.91 with pHash <= 12, resize
# 25% cosine down to 0.39 but pHash <= 2, every other transformation pHash <= 6. CLIP's
# figures are not measured here (no weights offline) and are set a little higher.
NEAR_COSINE = {"lite": 0.88, "clip": 0.90, "tiny-test": 0.97}
SURE_COSINE = {"lite": 0.97, "clip": 0.97, "tiny-test": 0.995}
PHASH_MAX = 16          # of 64 bits, together with the near cosine
PHASH_STRONG = 6        # alone (with COSINE_FLOOR): the same picture at any size
COSINE_FLOOR = 0.30
BURST_COSINE = 0.75
BURST_WINDOW = 2.0      # seconds between consecutive frames


class DuplicatesError(PhotoclustError):
    """The duplicate finder cannot run on this library (a sentence for the user)."""


@dataclass
class Member:
    """One photo of a group, with what the review view shows."""

    id: int
    relpath: str
    size: int
    mtime_ns: int
    quick_hash: str
    width: int
    height: int
    taken_at: str | None
    camera: str | None
    sha256: str | None = None
    phash: str | None = None
    sharpness: float | None = None

    @property
    def format(self) -> str:
        return PurePosixPath(self.relpath).suffix.lstrip(".").upper() or "?"

    @property
    def folder(self) -> str:
        return str(PurePosixPath(self.relpath).parent)

    def candidate(self) -> Candidate:
        return Candidate(self.id, self.relpath, self.size, self.mtime_ns, self.width, self.height,
                         self.taken_at, self.camera, self.sharpness)


@dataclass
class Group:
    kind: str                      # "identical" | "near" | "burst"
    members: list[Member]          # the keeper first
    keeper: int                    # photo id
    why: str = ""                  # the criterion that chose the keeper, in words
    similarity: float = 1.0        # the weakest link's cosine (1.0 for identical)

    @property
    def copies(self) -> list[Member]:
        return [m for m in self.members if m.id != self.keeper]

    def as_json(self) -> dict:
        return {"kind": self.kind, "keeper": self.members[0].relpath, "members": [m.relpath for m in self.members],
                "why": self.why}


@dataclass
class Settings:
    near_threshold: float | None = None     # None: the model's measured default
    sure_threshold: float | None = None
    phash_max: int = PHASH_MAX
    phash_strong: int = PHASH_STRONG
    cosine_floor: float = COSINE_FLOOR
    burst_window: float = BURST_WINDOW
    burst_cosine: float = BURST_COSINE
    kinds: tuple[str, ...] = KINDS


def model_family(model: str | None) -> str:
    m = (model or "clip").split(":")[0]
    return m if m in NEAR_COSINE else "clip"


def default_threshold(model: str | None) -> float:
    return NEAR_COSINE[model_family(model)]


class _Union:
    def __init__(self, n: int):
        self.p = list(range(n))

    def find(self, a: int) -> int:
        while self.p[a] != a:
            self.p[a] = self.p[self.p[a]]
            a = self.p[a]
        return a

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i in range(len(self.p)):
            out.setdefault(self.find(i), []).append(i)
        return [g for g in out.values() if len(g) > 1]


@dataclass
class _Work:
    lib: object
    members: list[Member]
    by_id: dict[int, int]
    guard: Guard
    cache: bool
    new_facts: dict[int, Facts] = field(default_factory=dict)

    def facts(self, idx: list[int], *, content: bool = False, thumb: bool = False,
              progress: ProgressFn = no_progress) -> None:
        """Fill sha256 / phash+sharpness of members idx, from the cache or computed."""
        need = [i for i in idx if (content and self.members[i].sha256 is None)
                or (thumb and self.members[i].phash is None and self.members[i].sharpness is None)]
        if not need:
            return
        for k, i in enumerate(need):
            if k % 256 == 0:
                progress(k, len(need), "hashing thumbnails" if thumb else "hashing files")
            m = self.members[i]
            got = {}
            if content and m.sha256 is None:
                try:
                    st, digest = hashes.content_hash(self.guard, self.lib.folder / m.relpath)
                    if (st.st_size, st.st_mtime_ns) == (m.size, m.mtime_ns):
                        m.sha256, got["sha256"] = digest, digest
                    else:
                        log.info("%s changed since the last index; not compared by content", m.relpath)
                except (OSError, Unsafe) as why:
                    log.info("cannot hash %s: %s", m.relpath, why)
            if thumb and m.phash is None and m.sharpness is None:
                m.phash, m.sharpness = hashes.thumbnail_facts(self.lib.thumbnail(m.id))
                got["phash"], got["sharpness"] = m.phash, m.sharpness
            if got:
                old = self.new_facts.get(m.id, Facts())
                self.new_facts[m.id] = Facts(got.get("sha256", old.sha256), got.get("phash", old.phash),
                                             got.get("sharpness", old.sharpness))

    def save(self) -> None:
        if self.cache and self.new_facts and not getattr(self.lib, "readonly", True):
            self.lib.set_photo_facts((pid, self.members[self.by_id[pid]].size,
                                      self.members[self.by_id[pid]].mtime_ns, f)
                                     for pid, f in self.new_facts.items())


def _members(rows: list[DupeRow], facts: dict[int, Facts]) -> list[Member]:
    out = []
    for r in rows:
        f = facts.get(r.id, Facts())
        out.append(Member(r.id, r.relpath, r.size, r.mtime_ns, r.quick_hash, r.width, r.height, r.taken_at,
                          r.camera, f.sha256, f.phash, f.sharpness))
    return out


def _identical_links(w: _Work, progress: ProgressFn) -> list[tuple[int, int]]:
    by_quick: dict[str, list[int]] = {}
    for i, m in enumerate(w.members):
        by_quick.setdefault(m.quick_hash, []).append(i)
    candidates = [g for g in by_quick.values() if len(g) > 1]
    links = []
    for k, g in enumerate(candidates):
        w.facts(g, content=True)
        by_sha: dict[str, list[int]] = {}
        for i in g:
            if w.members[i].sha256:
                by_sha.setdefault(w.members[i].sha256, []).append(i)
        for same in by_sha.values():
            links += [(same[0], j) for j in same[1:]]
        progress(k + 1, len(candidates), "comparing identical candidates")
    return links


def _near_links(w: _Work, s: Settings, model: str | None, progress: ProgressFn) -> list[tuple[int, int, float]]:
    ids, vecs = w.lib.embedding_block(model)
    keep = [k for k, pid in enumerate(ids.tolist()) if pid in w.by_id]
    if len(keep) < 2:
        return []
    rows = np.array([w.by_id[int(ids[k])] for k in keep])
    vecs = vecs[keep]
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    fam = model_family(model)
    t = s.near_threshold if s.near_threshold is not None else NEAR_COSINE[fam]
    sure = s.sure_threshold if s.sure_threshold is not None else max(t, SURE_COSINE[fam])
    # pHash of every thumbnail (cached after the first run): copies the embedding no longer
    # recognises (a 25% resize) still hash alike
    w.facts(rows.tolist(), thumb=True, progress=progress)
    progress(0, 1, "looking for near-identical photos")
    links: dict[tuple[int, int], float] = {}
    pairs, sims = cosine_pairs(vecs, t)
    for (a, b), c in zip(pairs.tolist(), sims.tolist()):
        ma, mb = w.members[rows[a]], w.members[rows[b]]
        if c >= sure or (ma.phash and mb.phash and hashes.hamming(ma.phash, mb.phash) <= s.phash_max):
            links[(int(rows[a]), int(rows[b]))] = float(c)
    with_hash = [k for k in range(len(rows)) if w.members[rows[k]].phash]
    if len(with_hash) >= 2:
        codes = np.array([int(w.members[rows[k]].phash, 16) for k in with_hash], dtype=np.uint64)
        hp = phash_pairs(codes, s.phash_strong)
        if len(hp):
            a_k = np.array(with_hash)[hp[:, 0]]
            b_k = np.array(with_hash)[hp[:, 1]]
            cos = np.einsum("ij,ij->i", vecs[a_k], vecs[b_k])
            for a, b, c in zip(a_k.tolist(), b_k.tolist(), cos.tolist()):
                if c >= s.cosine_floor:
                    key = (int(rows[a]), int(rows[b]))
                    links.setdefault(key if key[0] < key[1] else key[::-1], float(c))
    progress(1, 1, "looking for near-identical photos")
    return [(a, b, c) for (a, b), c in links.items() if not _distinct_shots(w.members[a], w.members[b])]


def _distinct_shots(a: Member, b: Member) -> bool:
    """Two frames the camera took at different times are two shots (a burst), not copies:
    a copy keeps its capture time, or loses the EXIF altogether."""
    return bool(a.taken_at and b.taken_at and a.camera and b.camera and a.taken_at != b.taken_at)


def _when(text: str | None) -> float | None:
    if not text:
        return None
    try:
        d = datetime.fromisoformat(text)
    except ValueError:
        return None
    return d.timestamp() if d.tzinfo else (d - datetime(1970, 1, 1)).total_seconds()


def _make_group(w: _Work, kind: str, idx: list[int], weakest: float = 1.0) -> Group:
    w.facts(idx, thumb=True)
    ms = [w.members[i] for i in idx]
    keeper, why = choose_keeper([m.candidate() for m in ms], burst=kind == "burst")
    ms.sort(key=lambda m: (m.id != keeper.id, m.relpath))
    return Group(kind, ms, keeper.id, why, weakest)


def find_duplicates(lib, settings: Settings | None = None, *, progress: ProgressFn | None = None,
                    cache: bool = True, learned: list | None = None) -> list[Group]:
    """Every group of copies in LIB (an open Library) of the kinds in settings.kinds.

    identical and near groups are connected components of identical and near links (a group
    of byte-identical files only is "identical", any other "near"); with only "identical"
    asked, embeddings are not looked at. Burst groups link keepers of those groups and lone
    photos. Facts computed on the way are cached in the library unless it is read-only; with
    LEARNED (a list), they are appended there as (photo id, size, mtime_ns, Facts) rows for the
    caller to store on a writable connection (the GUI finds on a reader in a worker thread)."""
    s = settings or Settings()
    progress = progress or no_progress
    bad = [k for k in s.kinds if k not in KINDS]
    if bad:
        raise DuplicatesError(f"Unknown kind {bad[0]!r}; choose identical, near or burst.")
    rows = lib.dupe_rows()
    if not rows:
        return []
    members = _members(rows, lib.photo_facts(r.id for r in rows))
    w = _Work(lib, members, {m.id: i for i, m in enumerate(members)}, Guard(lib.folder), cache)
    model = lib.model
    want_near = "near" in s.kinds or "burst" in s.kinds
    if want_near and not lib.count_embedded(model):
        raise DuplicatesError("This library has no embeddings yet: run `photoclust index FOLDER` first.")
    ident = _identical_links(w, progress)
    u = _Union(len(members))
    for a, b in ident:
        u.join(a, b)
    sims: dict[tuple[int, int], float] = {}
    near = _near_links(w, s, model, progress) if want_near else []
    for a, b, c in near:
        u.join(a, b)
        sims[(a, b)] = c
    groups: list[Group] = []
    comps = u.groups()
    weakest: dict[int, float] = {}
    for (a, b), c in sims.items():
        r = u.find(a)
        weakest[r] = min(weakest.get(r, 1.0), c)
    for comp in comps:
        shas = {members[i].sha256 for i in comp}
        kind = "identical" if len(shas) == 1 and None not in shas and all(
            members[i].quick_hash == members[comp[0]].quick_hash for i in comp) else "near"
        if kind in s.kinds:
            groups.append(_make_group(w, kind, comp, weakest.get(u.find(comp[0]), 1.0)))
    if "burst" in s.kinds:
        groups += _bursts(w, s, model, u, comps, groups)
    w.save()
    if learned is not None:
        learned.extend((pid, members[w.by_id[pid]].size, members[w.by_id[pid]].mtime_ns, f)
                       for pid, f in w.new_facts.items())
    groups.sort(key=lambda g: (KINDS.index(g.kind), g.members[0].relpath))
    return groups


def _bursts(w: _Work, s: Settings, model, u: _Union, comps: list[list[int]], found: list[Group]) -> list[Group]:
    # one frame per picture: the keeper of its copy group (chosen now if that kind was not asked)
    frame_of: dict[int, int] = {}
    keepers = {w.by_id[g.keeper] for g in found}
    for comp in comps:
        keeper = next((w.members[i].id for i in comp if i in keepers), None)
        if keeper is None:
            keeper, _ = choose_keeper([w.members[i].candidate() for i in comp])
            keeper = keeper.id
        for i in comp:
            frame_of[i] = w.by_id[keeper]
    frames = sorted({frame_of.get(i, i) for i in range(len(w.members))})
    timed = []
    for i in frames:
        m = w.members[i]
        t = _when(m.taken_at)
        if t is not None and m.camera:
            timed.append((m.camera, t, i))
    timed.sort()
    if len(timed) < 2:
        return []
    ids, vecs = w.lib.embedding_block(model)
    row = {int(p): k for k, p in enumerate(ids.tolist())}
    norms = np.linalg.norm(vecs, axis=1) if len(vecs) else np.zeros(0)
    bu = _Union(len(w.members))
    linked = False
    for (cam_a, ta, a), (cam_b, tb, b) in zip(timed, timed[1:]):
        if cam_a != cam_b or tb - ta > s.burst_window:
            continue
        ra, rb = row.get(w.members[a].id), row.get(w.members[b].id)
        if ra is None or rb is None:
            continue
        cos = float(vecs[ra] @ vecs[rb] / max(norms[ra] * norms[rb], 1e-12))
        if cos >= s.burst_cosine:
            bu.join(a, b)
            linked = True
    return [_make_group(w, "burst", g) for g in bu.groups()] if linked else []

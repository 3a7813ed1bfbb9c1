"""Turn a clustering into named clusters with identity that survives re-clustering.

Computing (UMAP, HDBSCAN, layout, names) is separate from applying, so a GUI can compute
in a worker and apply in one short transaction; a kill mid-way leaves the previous
clustering intact. Applying matches old clusters to new ones by member overlap: a matched
cluster keeps its id and the user's name, and photos placed by hand stay where they are.
A cluster the user named is never removed by a re-clustering: unmatched, it keeps its photos.
A photo the user moved out of a cluster (kept_out) never joins it again, and the pieces of a
split stay apart.

Why a hand placement does not pull its neighbours along at the next re-cluster (measured with
`bench learn`'s simulated user, 5 photos per class, on cached lite vectors; NMI before ->
after): pulling the branch of the tree that holds a cluster's examples, flowers12 0.874 ->
0.863 and clothing10 0.588 -> 0.579; whole groups holding examples, 0.847 / 0.557; the
examples' atoms, 0.863 / 0.554; photos of the group as like the examples as the cluster's
own, 0.832 / 0.542; no pull (placements and kept-out only), 0.921 / 0.599. A hand move mostly
corrects a photo the clustering got wrong, so it is atypical of its neighbours: they must not
follow it. Look-alikes are offered as suggestions (suggest.py) for the user to accept.
"""
from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from photoclust_app.core.errors import PhotoclustError
from photoclust_app.core.clustering import hierarchy
from photoclust_app.core.clustering.naming import Namer, suggest_names
from photoclust_app.core.store.constraints import KEPT_APART_KEY
from photoclust_app.core.store.library import Library
from photoclust_app.core.progress import CancelFn, ProgressFn, check_cancel, no_progress

log = logging.getLogger(__name__)

N_REPRESENTATIVES = 9
# Library meta: the stored tree (store/trees.py) the current clusters were cut from.
TREE_KEY = "cluster.tree"
# An old cluster and a new one are "the same" when they share at least this share of the smaller.
MATCH_OVERLAP = 0.5


@dataclass
class ClusteringPlan:
    """A computed clustering, not yet written. labels index photo_ids; -1 is Unsorted."""

    model: str
    photo_ids: np.ndarray
    labels: np.ndarray
    probabilities: np.ndarray
    representatives: dict[int, list[int]]  # label -> photo ids, medoid first
    names: dict[int, str]                  # label -> suggested name ("" when none is sure enough)
    params: dict
    metrics: dict
    xy: np.ndarray | None = None
    scope: int | None = None               # None: whole library; else the cluster being split
    seconds: float = 0.0
    alternatives: dict[int, list[str]] = field(default_factory=dict)  # label -> other names to offer
    settings: dict = field(default_factory=dict)  # library meta to store with it (the chosen granularity)
    reduced: np.ndarray | None = None       # the space it clustered in (stored with a new tree)
    tree: hierarchy.Tree | None = None      # a new run's hierarchy, stored when the plan is applied
    tree_id: int | None = None              # the stored tree this plan was cut from (no refit)
    stops: list[tuple[int, int]] = field(default_factory=list)  # (clusters, level) the tree offers
    hand: set[int] = field(default_factory=set)  # photos a split by example places by hand


@dataclass
class ClusteringSummary:
    n_photos: int
    n_clusters: int
    unsorted: int
    metrics: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    seconds: float = 0.0


def compute_clustering(lib: Library, *, min_cluster_size: int | None = None, groups: int | None = None,
                       level: int | None = None, reuse: bool = True, layout: bool = True,
                       namer: Namer | None = None, seed: int = 42, progress: ProgressFn | None = None,
                       cancel: CancelFn | None = None) -> ClusteringPlan:
    """Cluster every photo embedded with the library's model, automatically, at exactly
    ``groups`` clusters or at tree ``level``. The user's corrections are honoured when the
    plan is applied: hand-placed photos stay, kept-out photos never join the cluster they
    were moved out of. With ``reuse`` a granularity change cuts the tree the current clusters
    came from when it still covers exactly these photos (milliseconds, the map stays); else
    UMAP and a new tree. Writes nothing."""
    ids, vectors = lib.embedding_matrix()
    m = int(min_cluster_size) if min_cluster_size is not None else hierarchy.MIN_SIZE
    stored = usable_tree(lib, ids, m) if reuse else None
    if stored is not None:
        from photoclust_app.core.clustering.cluster import cut_result

        row, tree = stored
        tree_id = row.id
        t0 = time.perf_counter()
        result = cut_result(tree, row.reduced, groups=groups, level=level, seed=seed,
                            params={"seed": int(seed), "n": len(ids), "min_cluster_size": m, "path": "tree",
                                    "tree": tree_id, "n_levels": len(tree.order) + 1,
                                    "default_level": tree.default})
        plan = _finish(lib.model or "", ids, vectors, result, layout=False, namer=namer, t0=t0)
        plan.tree, plan.tree_id = None, tree_id
        plan.stops = hierarchy.stops(tree)
        return plan
    return _compute(lib.model or "", ids, vectors, min_cluster_size=m, groups=groups, level=level,
                    layout=layout, namer=namer, seed=seed, progress=progress, cancel=cancel)


def usable_tree(lib: Library, ids: np.ndarray, min_size: int):
    """(the stored row, its hierarchy.Tree): the tree the current clusters were cut from, if it
    was built from exactly these photos with this model and smallest group; None means a
    granularity change must re-cluster."""
    stored = lib.load_tree(lib.get_meta(TREE_KEY))
    if stored is None or stored.model != (lib.model or "") or not np.array_equal(stored.photo_ids, ids):
        return None
    try:
        tree = hierarchy.from_bytes(stored.blob)
    except ValueError:
        log.warning("stored cluster tree %s is unreadable; re-clustering", stored.id)
        return None
    if tree.min_size != int(min_size) or len(tree.atom_of) != len(ids):
        return None
    return stored, tree


def compute_split(lib: Library, cluster_id: int, *, namer: Namer | None = None, seed: int = 42,
                  progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> ClusteringPlan:
    """Re-cluster one cluster's members on their own: its own UMAP and tree, cut at the tree's
    default level, or into two when that level keeps it whole (the user asked for pieces)."""
    members = set(lib.cluster_members(cluster_id))
    ids, vectors = lib.embedding_matrix()
    keep = np.isin(ids, np.fromiter(members, dtype=np.int64, count=len(members)))
    n = int(keep.sum())
    m = max(2, min(hierarchy.MIN_SIZE, n // 4)) if n else 2
    plan = _compute(lib.model or "", ids[keep], vectors[keep], min_cluster_size=m, groups=None, level=None,
                    layout=False, namer=None, seed=seed, progress=progress, cancel=cancel)
    if plan.tree is not None and len({int(x) for x in plan.labels if x >= 0}) < 2:
        two = hierarchy.level_for(plan.tree, 2)
        if two is not None:
            plan.labels = hierarchy.cut(plan.tree, two)
            plan.probabilities = (plan.labels >= 0).astype(np.float32)
    plan = _finish(plan.model, plan.photo_ids, vectors[keep], plan, layout=False, namer=namer, t0=None, relabel=True)
    plan.scope, plan.tree = cluster_id, None
    return plan


def _compute(model, ids, vectors, *, min_cluster_size, groups, level, layout, namer, seed, progress, cancel):
    from photoclust_app.core.clustering.cluster import cluster_vectors

    progress = progress or no_progress
    t0 = time.perf_counter()
    result = cluster_vectors(vectors, min_cluster_size=min_cluster_size, groups=groups, level=level, seed=seed,
                             layout=layout, progress=progress, cancel=cancel)
    check_cancel(cancel)
    plan = _finish(model, ids, vectors, result, layout=False, namer=namer, t0=t0)
    plan.xy, plan.tree = result.xy, result.tree
    plan.stops = hierarchy.stops(result.tree) if result.tree is not None else []
    return plan


def _finish(model, ids, vectors, result, *, layout, namer, t0, relabel=False) -> ClusteringPlan:
    """Representatives and names for labels already chosen (a ClusterResult, or a plan to
    relabel in place)."""
    from photoclust_app.core.clustering.representatives import medoids

    labels = np.asarray(result.labels, dtype=np.int64)
    reps_rows = medoids(vectors, labels, k=N_REPRESENTATIVES) if len(ids) else {}
    reps = {int(lab): [int(ids[r]) for r in rows] for lab, rows in reps_rows.items()}
    names, alternatives = suggest_names(vectors, labels, namer)
    if relabel:
        result.labels, result.representatives, result.names, result.alternatives = labels, reps, names, alternatives
        return result
    return ClusteringPlan(model=model, photo_ids=np.asarray(ids, dtype=np.int64), labels=labels,
                          probabilities=np.asarray(result.probabilities, dtype=np.float32),
                          representatives=reps, names=names, alternatives=alternatives, params=dict(result.params),
                          metrics=dict(result.metrics), seconds=time.perf_counter() - t0,
                          reduced=result.reduced)


def _match(old: dict[int, set[int]], new: dict[int, set[int]]) -> dict[int, int]:
    """new label -> old cluster id, greedily by overlap; each side used at most once."""
    # Overlaps from one pass over the photos (a dict of pair counts), not |old| x |new| set
    # intersections: 500 x 500 clusters at 100k photos took 0.9 s that way.
    owner = {pid: cid for cid, members in old.items() for pid in members}
    overlap: dict[tuple[int, int], int] = {}
    for lab, group in new.items():
        for pid in group:
            cid = owner.get(pid)
            if cid is not None:
                overlap[cid, lab] = overlap.get((cid, lab), 0) + 1
    pairs = [(inter, -cid, lab, cid) for (cid, lab), inter in overlap.items()
             if inter >= MATCH_OVERLAP * min(len(old[cid]), len(new[lab]))]
    pairs.sort(reverse=True)
    used_old, out = set(), {}
    for _, _, lab, cid in pairs:
        if lab not in out and cid not in used_old:
            out[lab] = cid
            used_old.add(cid)
    return out


def apply_clustering(lib: Library, plan: ClusteringPlan, *, text: str | None = None) -> ClusteringSummary:
    """Write a whole-library plan in one transaction, keeping identity, names and hand
    placements; recorded as one undoable history entry named TEXT (None: not undoable).
    The plan's settings (library meta: the granularity that produced it) are written in the
    same entry, so undo puts them back too."""
    if plan.scope is not None:
        raise ValueError("apply_split applies a split plan")
    settings = {**plan.settings, TREE_KEY: None}  # the tree's id is filled in below, once it has one
    with _recorded(lib, text, list(settings), layout=plan.xy is not None):
        if plan.tree is not None and plan.reduced is not None:
            plan.tree_id = lib.save_tree(plan.model, plan.photo_ids, plan.reduced, hierarchy.to_bytes(plan.tree))
        if plan.tree_id is not None:
            settings[TREE_KEY] = str(plan.tree_id)
        for key, value in settings.items():
            lib.set_meta(key, value)
        current = lib.assignment_table()
        manual = {pid for pid, (_, _, hand) in current.items() if hand}
        clusters = lib.clusters()
        old: dict[int, set[int]] = {c.id: set() for c in clusters}
        for pid, (cid, _, _) in current.items():
            if cid is not None:
                old[cid].add(pid)
        new: dict[int, set[int]] = {}
        for pid, lab in zip(plan.photo_ids.tolist(), plan.labels.tolist()):
            if lab >= 0 and pid not in manual:
                new.setdefault(lab, set()).add(pid)
        matched = _match(old, new)
        # A cluster the user named, or a piece of a split, never vanishes: when no new group
        # matches it, it keeps the photos it holds (as hand-placed photos keep theirs) and the
        # new groups do without them; so a group that would join split pieces again cannot.
        named = {c.id for c in clusters if c.user_named} | lib.kept_apart()
        stay = set().union(*(old[cid] for cid in named - set(matched.values())))
        if stay:
            new = {lab: g - stay for lab, g in new.items() if g - stay}
            manual = manual | stay
        label_to_cid: dict[int, int] = {}
        for lab in sorted(new, key=lambda k: -len(new[k])):  # the biggest group names a cluster
            suggested = plan.names.get(lab, "")
            if lab not in matched:
                matched[lab] = lib.create_cluster()
            if matched[lab] not in label_to_cid.values():
                lib.set_suggested_name(matched[lab], suggested, plan.alternatives.get(lab, []))
            label_to_cid[lab] = matched[lab]
        kept = set(label_to_cid.values())
        holds_manual = {current[pid][0] for pid in manual if current[pid][0] is not None}
        for cid in old:
            if cid not in kept and cid not in holds_manual and cid not in named:
                lib.delete_cluster(cid)  # its remaining members go to Unsorted (SET NULL) or below
        gone = set(old) - kept - holds_manual - named
        kept_out = lib.kept_out()
        # Only the rows that change: a level change at 100k photos rewrites what moved.
        lib.assign_many((pid, new_cid, p, False)
                        for pid, lab, p in zip(plan.photo_ids.tolist(), plan.labels.tolist(),
                                               plan.probabilities.tolist())
                        if pid not in manual
                        for new_cid in (None if label_to_cid.get(lab) in kept_out.get(pid, ()) else label_to_cid.get(lab),)
                        if pid not in current or current[pid][0] != new_cid or current[pid][0] in gone
                        or abs(current[pid][1] - p) > 1e-6)
        done: set[int] = set()
        for lab, cid in label_to_cid.items():  # in size order: the biggest group's medoids
            if cid not in done:
                lib.set_representatives(cid, plan.representatives.get(lab, []))
                done.add(cid)
        if plan.xy is not None:
            lib.set_layout(plan.photo_ids, plan.xy)
        lib.record_clustering(plan.model, len(plan.photo_ids), plan.params, plan.metrics)
    return summarize(lib, plan)


def apply_split(lib: Library, plan: ClusteringPlan, *, text: str = "Split") -> list[int]:
    """Write a split: the largest part keeps the cluster (id, name); each other part is a new
    cluster, named distinctly (split_names). Photos the split calls noise stay in the original
    cluster: splitting never evicts. Returns the new clusters' ids, largest first."""
    if plan.scope is None:
        raise ValueError("apply_clustering applies a whole-library plan")
    parts = [int(x) for x in np.unique(plan.labels) if x >= 0]
    if len(parts) < 2:
        raise PhotoclustError("This cluster cannot be split further: its photos look too much alike.")
    sizes = {lab: int((plan.labels == lab).sum()) for lab in parts}
    keep_label = max(parts, key=lambda lab: (sizes[lab], -lab))
    order = sorted(parts, key=lambda k: (-sizes[k], k))
    clusters = lib.clusters()
    origin = next((c.display_name for c in clusters if c.id == plan.scope), f"Cluster {plan.scope}")
    names = split_names(origin, [lab for lab in order if lab != keep_label], plan.names,
                        {c.display_name for c in clusters})
    new_ids = []
    with lib.record(text) as rec:
        rec.touch("assignments", plan.photo_ids.tolist())
        rec.touch("representatives", [plan.scope])
        rec.touch("meta", [KEPT_APART_KEY])
        for lab in order:
            if lab == keep_label:
                cid = plan.scope
            else:
                offered = [n for n in [plan.names.get(lab, ""), *plan.alternatives.get(lab, [])]
                           if n and n != names[lab]]
                cid = lib.create_cluster(suggested_name=names[lab])
                lib.set_suggested_name(cid, names[lab], list(dict.fromkeys(offered)))
                rec.created("clusters", [cid])
                rec.created("representatives", [cid])
                new_ids.append(cid)
                lib.assign(plan.photo_ids[plan.labels == lab].tolist(), cid, manual=False)
            picked = [p for p in plan.photo_ids[plan.labels == lab].tolist() if p in plan.hand]
            if picked:  # the photos the user picked for this side are placed by hand: they stay
                lib.assign(picked, cid, manual=True)
            lib.set_representatives(cid, plan.representatives.get(lab, []))
        lib.keep_apart([plan.scope, *new_ids])  # a split separates its pieces for good (cannot-link)
    return new_ids


def compute_split_by_example(lib: Library, cluster_id: int, sides: list[list[int]], *,
                             namer: Namer | None = None) -> ClusteringPlan:
    """Split a cluster by example: the user picks a few photos for each side (two or more);
    every other member goes to the side whose picks it is most like (the mean of its best
    cosines to them, as suggestions score). Writes nothing; apply_split applies it, and the
    picked photos become hand placements of their side. A preview is this plan's labels."""
    from photoclust_app.core.clustering.suggest import _affinity

    members = np.array(sorted(lib.cluster_members(cluster_id)), dtype=np.int64)
    picks = [[int(p) for p in dict.fromkeys(side) if int(p) in set(members.tolist())] for side in sides]
    picks = [side for side in picks if side]
    if len(picks) < 2:
        raise PhotoclustError("Pick at least one photo of this cluster for each of two sides.")
    if any(set(a) & set(b) for i, a in enumerate(picks) for b in picks[i + 1:]):
        raise PhotoclustError("A photo was picked for two sides; pick each photo for one side only.")
    ids, vectors = lib.embedding_matrix()
    keep = np.isin(ids, members)
    ids, X = ids[keep], vectors[keep]
    Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    row = {int(p): r for r, p in enumerate(ids.tolist())}
    scores = np.stack([_affinity(Xn, Xn[[row[p] for p in side if p in row]]) for side in picks])
    labels = scores.argmax(axis=0).astype(np.int64)
    for k, side in enumerate(picks):
        labels[[row[p] for p in side if p in row]] = k
    result = ClusteringPlan(model=lib.model or "", photo_ids=ids, labels=labels,
                            probabilities=np.ones(len(ids), np.float32), representatives={}, names={},
                            params={"path": "split-by-example", "sides": len(picks)}, metrics={})
    plan = _finish(result.model, ids, X, result, layout=False, namer=namer, t0=None, relabel=True)
    plan.scope, plan.hand = cluster_id, {p for side in picks for p in side}
    return plan


def split_names(origin: str, labels: list[int], suggested: dict[int, str], taken: set[str]) -> dict[int, str]:
    """A name for each new piece of a split of the cluster named ORIGIN: the namer's suggestion
    when it has one that no cluster uses yet (a numbered duplicate, "daisy (2)", counts as used),
    else "ORIGIN · 2", "ORIGIN · 3", ...; distinct from each other, from ORIGIN and from TAKEN
    (every cluster's name now), compared without case."""
    used = {t.casefold() for t in taken} | {origin.casefold()}
    out: dict[int, str] = {}
    n = 1
    for lab in labels:
        name = _unnumbered((suggested.get(lab) or "").strip())
        if not name or name.casefold() in used:
            n += 1
            while f"{origin} \u00b7 {n}".casefold() in used:
                n += 1
            name = f"{origin} \u00b7 {n}"
        used.add(name.casefold())
        out[lab] = name
    return out


def _unnumbered(name: str) -> str:
    """NAME without a duplicate's " (2)" ending."""
    import re

    return re.sub(r"\s*\(\d+\)$", "", name)


@contextlib.contextmanager
def _recorded(lib: Library, text: str | None, meta_keys: list[str], *, layout: bool = True):
    """A history entry named TEXT covering every table a clustering writes, or (None) a
    plain transaction."""
    if text is None:
        with lib.transaction():
            yield None
        return
    with lib.record(text) as rec:
        for table in ("clusters", "assignments", "representatives") + (("layout",) if layout else ()):
            rec.touch(table)
        rec.touch("meta", meta_keys)
        yield rec


def summarize(lib: Library, plan: ClusteringPlan | None = None) -> ClusteringSummary:
    clusters = [c for c in lib.clusters() if c.size > 0]
    return ClusteringSummary(
        n_photos=lib.count_photos(), n_clusters=len(clusters), unsorted=lib.count_unsorted(),
        metrics=dict(plan.metrics) if plan else {}, params=dict(plan.params) if plan else {},
        seconds=plan.seconds if plan else 0.0)

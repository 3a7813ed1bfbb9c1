"""The editing session over one Library: the single Qt-free source of truth the GUI adapts.

Every edit (rename, move, new cluster, merge, dissolve, split, re-cluster) is a method that
writes to the library at once as one recorded history entry (store/history.py), brings the
in-memory state up to date from the rows it wrote, and notifies listeners. Undo and redo
come from the library's history, so they survive a restart and agree with the command line.

Events passed to ``subscribe`` callbacks as ``(name, payload)``:
  ("clusters_changed", {"ids": [...], "structure": bool})  names, sizes, mosaics; structure: clusters added/removed
  ("assignments_changed", {"photo_ids": [...]})            photos that changed cluster
  ("photos_added", {"photo_ids": [...]})                   photos just indexed, Unsorted until clustered
  ("reset", {})                                            anything may have changed: reload views
  ("history_changed", {})                                  undo/redo availability or text changed
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from photoclust_app.core.editing.state import MOSAIC_SIZE, SessionState, StateCache, read_state
from photoclust_app.core.records import Cluster
from photoclust_app.core.store.history import Applied
from photoclust_app.core.store.clusters import cluster_labels
from photoclust_app.core.store.library import Library

__all__ = ["Session", "SessionState", "read_state", "MOSAIC_SIZE"]

log = logging.getLogger(__name__)

Listener = Callable[[str, dict], None]


class Session(StateCache):
    """Edits and reads of one library, with undo/redo. Call it from one thread only."""

    def __init__(self, library: Library, state: SessionState | None = None):
        self.library = library
        self._listeners: list[Listener] = []
        # Bumped before and after every edit: a state read in a worker while the counter moved
        # is stale (see install_state's caller), so edits are never lost to an older read.
        self.generation = 0
        self.last_conflicts = 0  # keys the last undo/redo left alone (the library changed under them)
        self.new_ids: set[int] = set()   # indexed while the window watched, still Unsorted (state.py)
        self.set_state(state if state is not None else read_state(library))
        self._read_history()

    # -- listeners -----------------------------------------------------------------------
    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call CALLBACK(event, payload) after every change; returns an unsubscribe function."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _emit(self, event: str, **payload) -> None:
        for cb in list(self._listeners):
            try:
                cb(event, payload)
            except Exception:  # a broken view must not break the edit that already happened
                log.exception("Session listener failed on %s", event)

    # -- state ---------------------------------------------------------------------------
    def install_state(self, state: SessionState) -> None:
        """Swap in a freshly read state (after indexing) and tell the views to reload."""
        self.set_state(self.merge_order(state))
        self._read_history()
        self._emit("reset")
        self._emit("history_changed")

    def reload(self) -> None:
        self.install_state(read_state(self.library))

    def add_photos(self, photo_ids: Iterable[int], relpaths: Iterable[str]) -> list[int]:
        """Photos the index has just committed (a live batch, no read of the library): they
        show as Unsorted, and as new, until a clustering or placement takes them in. A photo
        already known (a changed file) keeps its cluster; nothing the user did is touched.
        Returns the ids added."""
        added = []
        for pid, rel in zip(photo_ids, relpaths):
            pid = int(pid)
            if pid in self._relpaths:
                continue
            self._relpaths[pid] = str(rel)
            self._assign[pid] = None
            self._members[None].add(pid)
            self.new_ids.add(pid)
            added.append(pid)
        if added:
            self._emit("photos_added", photo_ids=added)
        return added

    def new_count(self) -> int:
        """Photos indexed while the window watched that no clustering has taken in yet."""
        return len(self.new_ids)

    def set_count_copies_once(self, on: bool) -> None:
        """Count each duplicate group (store: the last groups found) once in cluster sizes."""
        if bool(on) != self.count_copies_once:
            self.count_copies_once = bool(on)
            self._emit("reset")

    # -- reads ---------------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        return self.library.folder

    @property
    def readonly(self) -> bool:
        return self.library.readonly

    def clusters(self) -> list[Cluster]:
        """Clusters in display order (stable while editing) with live sizes and mosaics."""
        return [self.cluster(cid) for cid in self._order]

    def cluster_ids(self) -> list[int]:
        return list(self._order)

    def members(self, cluster_id: int | None) -> list[int]:
        """Photo ids of a cluster, or of Unsorted (None), by id."""
        return sorted(self._members.get(cluster_id, ()))

    def unsorted_count(self) -> int:
        return len(self._members.get(None, ()))

    def photo_ids(self) -> list[int]:
        return sorted(self._relpaths)

    def photo_count(self) -> int:
        return len(self._relpaths)

    def relpath(self, photo_id: int) -> str:
        return self._relpaths.get(photo_id, "")

    def photo_path(self, photo_id: int) -> Path:
        return self.library.folder / self._relpaths[photo_id]

    def layout(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(photo ids, xy, cluster ids with -1 for Unsorted) of the 2-D map."""
        ids, xy = self._layout
        labels = np.array([-1 if (c := self.cluster_of(int(p))) is None else c for p in ids], dtype=np.int64)
        return ids, xy, labels

    def layout_ids(self) -> np.ndarray:
        """The photo ids the 2-D map has a position for, ascending (no labels computed)."""
        return self._layout[0]

    def export_groups(self, include_unsorted: bool = False,
                      unsorted_name: str = "Unsorted") -> list[tuple[str, list[Path]]]:
        """(folder name, member paths) per non-empty cluster in display order, read live from
        the session: what an export of the library as it is now needs. Missing photos are
        left out (there is nothing to copy)."""
        folder = self.library.folder

        def paths(cid):
            return [folder / self._relpaths[p] for p in self.members(cid) if p not in self._missing]

        groups = [(c.display_name, paths(c.id)) for c in self.clusters() if c.size]
        if include_unsorted:
            groups.append((unsorted_name, paths(None)))
        return [(name, members) for name, members in groups if members]

    # -- history -------------------------------------------------------------------------
    def _read_history(self) -> None:
        self._undo_text = self.library.undo_text()
        self._redo_text = self.library.redo_text()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo_text)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo_text)

    @property
    def undo_text(self) -> str:
        return self._undo_text

    @property
    def redo_text(self) -> str:
        return self._redo_text

    @contextlib.contextmanager
    def _editing(self):
        self.generation += 1
        try:
            yield
        finally:
            self.generation += 1

    def undo(self) -> bool:
        return self._step(self.library.undo)

    def redo(self) -> bool:
        return self._step(self.library.redo)

    def _step(self, step: Callable[[], Applied | None]) -> bool:
        with self._editing():
            applied = step()
        if applied is None:
            return False
        self.last_conflicts = applied.conflicts
        if applied.conflicts:
            log.info("%s: %d rows had changed since and were left alone", applied.text, applied.conflicts)
        self._take(applied.rows)
        self._read_history()
        self._emit("history_changed")
        return True

    def clear_history(self) -> None:
        self.library.clear_history()
        self._read_history()
        self._emit("history_changed")

    def _take(self, rows: dict[str, dict]) -> None:
        """Bring the views up to date with rows the library now holds."""
        if rows.get("layout"):  # a whole-library change: read it all again
            self.set_state(self.merge_order(read_state(self.library)))
            self._emit("reset")
            return
        changed, moved, structure = self.absorb(rows)
        if moved:
            self._emit("assignments_changed", photo_ids=moved)
        if changed or structure:
            self._emit("clusters_changed", ids=sorted(changed), structure=structure)

    @contextlib.contextmanager
    def _edit(self, text: str):
        """Run an edit as one history entry, then update the views from what it wrote."""
        with self._editing(), self.library.record(text) as rec:
            yield rec
        self._take(rec.diff.side(1))
        self._read_history()
        self._emit("history_changed")

    # -- edits ---------------------------------------------------------------------------
    def rename(self, cluster_id: int, name: str) -> None:
        """Give a cluster the user's name; an empty name goes back to the suggestion."""
        c = self._clusters.get(cluster_id)
        if c is None:
            raise KeyError(cluster_id)
        name = name.strip()
        if name == (c.name if c.user_named else ""):
            return
        shown = name or c.suggested_name or f"Cluster {cluster_id}"
        with self._edit(f"Rename cluster to \u201c{shown}\u201d") as rec:
            rec.touch("clusters", [cluster_id])
            self.library.rename_cluster(cluster_id, name)

    def move(self, photo_ids: Iterable[int], cluster_id: int | None) -> int:
        """Put photos into a cluster (None: Unsorted) by hand; returns how many moved."""
        if cluster_id is not None and cluster_id not in self._clusters:
            raise KeyError(cluster_id)
        ids = [int(p) for p in dict.fromkeys(photo_ids) if int(p) in self._relpaths
               and self.cluster_of(int(p)) != cluster_id]
        if not ids:
            return 0
        target = self._clusters[cluster_id].display_name if cluster_id is not None else "Unsorted"
        noun = "photo" if len(ids) == 1 else "photos"
        with self._edit(f"Move {len(ids)} {noun} to \u201c{target}\u201d") as rec:
            self._record_correction(rec, ids, cluster_id)
            self.library.assign(ids, cluster_id, manual=True)
        return len(ids)

    def _record_correction(self, rec, ids: list[int], target: int | None) -> None:
        """A hand move is a constraint: a must-link to TARGET (the manual placement), a
        cannot-link to the cluster each photo left ("not this one"), and it settles the
        photo's To-review entry. All in the move's history entry."""
        rec.touch("assignments", ids)
        rec.touch("kept_out", ids)
        rec.touch("review", ids)
        left = [(p, self.cluster_of(p)) for p in ids if self.cluster_of(p) not in (None, target)]
        self.library.keep_out(left)
        if target is not None:
            self.library.let_in(ids, target)
        self.library.resolve_review(ids)

    def new_cluster(self, photo_ids: Iterable[int], name: str = "") -> int:
        """A new cluster holding PHOTO_IDS (placed by hand); returns its id."""
        ids = [int(p) for p in dict.fromkeys(photo_ids) if int(p) in self._relpaths]
        with self._edit("New cluster") as rec:
            self._record_correction(rec, ids, None)
            cid = self.library.create_cluster(name.strip(), suggested_name=self._fresh_name())
            rec.created("clusters", [cid])
            rec.created("representatives", [cid])
            self.library.assign(ids, cid, manual=True)
            self.library.set_representatives(cid, ids[:MOSAIC_SIZE])
        return cid

    def _fresh_name(self) -> str:
        names = {c.display_name for c in self._clusters.values()}
        n = 1
        while f"New cluster {n}" in names:
            n += 1
        return f"New cluster {n}"

    def merge(self, sources: int | Iterable[int], target: int) -> None:
        """Move every photo of SOURCES into TARGET and remove the sources; TARGET keeps its name."""
        srcs = [int(s) for s in ([sources] if isinstance(sources, int) else sources)]
        srcs = [s for s in dict.fromkeys(srcs) if s != target and s in self._clusters]
        if target not in self._clusters:
            raise KeyError(target)
        if not srcs:
            return
        ids = [p for s in srcs for p in self.members(s)]
        names = ", ".join(self._clusters[s].display_name for s in srcs)
        with self._edit(f"Merge \u201c{names}\u201d into \u201c{self._clusters[target].display_name}\u201d") as rec:
            rec.touch("assignments", ids)
            rec.touch("clusters", srcs)
            rec.touch("representatives", srcs)
            self.library.assign(ids, target, manual=True)
            for s in srcs:
                self.library.delete_cluster(s)

    def dissolve(self, cluster_id: int) -> None:
        """Remove a cluster; its photos go to Unsorted."""
        if cluster_id not in self._clusters:
            raise KeyError(cluster_id)
        with self._edit(f"Dissolve \u201c{self._clusters[cluster_id].display_name}\u201d") as rec:
            rec.touch("assignments", self.members(cluster_id))
            rec.touch("clusters", [cluster_id])
            rec.touch("representatives", [cluster_id])
            self.library.delete_cluster(cluster_id)

    def corrections(self, cluster_id: int) -> tuple[int, int]:
        """(photos placed in the cluster by hand, photos kept out of it)."""
        return self.library.constraint_counts().get(int(cluster_id), (0, 0))

    def clear_corrections(self, cluster_id: int | None = None) -> int:
        """Forget the corrections of one cluster (None: of every cluster): its hand placements
        become ordinary members the next re-cluster may move, and photos kept out of it may
        return. The photos stay where they are now. One undoable entry; returns how many
        constraints went."""
        table = self.library.assignment_table()
        placed = [p for p, (c, _, hand) in table.items() if hand and (cluster_id is None or c == cluster_id)]
        kept = self.library.kept_out_photos(cluster_id)
        apart = self.library.kept_apart() & ({cluster_id} if cluster_id is not None else self.library.kept_apart())
        if not placed and not kept and not apart:
            return 0
        what = "every cluster" if cluster_id is None else f"\u201c{self.cluster(cluster_id).display_name}\u201d"
        with self._edit(f"Clear the corrections of {what}") as rec:
            rec.touch("assignments", placed)
            rec.touch("kept_out", kept)
            if apart:
                from photoclust_app.core.store.constraints import KEPT_APART_KEY

                rec.touch("meta", [KEPT_APART_KEY])
                self.library.let_apart(apart)
            self.library.assign_many((p, table[p][0], table[p][1], False) for p in placed)
            if cluster_id is None:
                self.library.clear_kept_out()
            else:
                self.library.let_in(kept, cluster_id)
        return len(placed) + len(kept) + len(apart)

    def _matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids, L2-normalised vectors), cached until the library's embeddings change."""
        version = (self.library.model, self.library.embedding_version())
        cached = getattr(self, "_vectors", None)
        if cached is None or cached[2] != version:
            ids, X = self.library.embedding_matrix()
            X /= np.maximum(np.sqrt(np.einsum("ij,ij->i", X, X))[:, None], 1e-12)
            self._vectors = (ids, X, version)
        return self._vectors[0], self._vectors[1]

    def suggestions(self, cluster_id: int, limit: int = 200) -> list[tuple[int, float]]:
        """(photo id, score) of photos that look like CLUSTER_ID's hand-placed examples (or
        its members), best first (clustering/suggest.py)."""
        from photoclust_app.core.clustering.suggest import suggest

        if cluster_id not in self._clusters:
            raise KeyError(cluster_id)
        ids, Xn = self._matrix()

        def rows(pids) -> np.ndarray:
            pids = np.fromiter(pids, dtype=np.int64)
            at = np.searchsorted(ids, pids)
            ok = at < len(ids)
            ok[ok] = ids[at[ok]] == pids[ok]
            return np.unique(at[ok])

        # from the session's own state and the (small) constraint tables, not a 100k-row table
        inside = set(self._members.get(cluster_id, ()))
        hand = self.library.manual_photos()
        members = rows(inside)
        examples = rows(inside & hand)
        barred = np.zeros(len(ids), dtype=bool)
        barred[members] = True
        barred[rows(hand)] = True
        barred[rows(p for p, cids in self.library.kept_out().items() if cluster_id in cids)] = True
        candidates = np.flatnonzero(~barred)
        return [(int(ids[r]), s) for r, s in suggest(Xn, members, examples, candidates, limit)]

    def reject(self, cluster_id: int, photo_ids: Iterable[int]) -> int:
        """"Not this one": keep photos out of CLUSTER_ID (they stay where they are)."""
        if cluster_id not in self._clusters:
            raise KeyError(cluster_id)
        ids = [int(p) for p in dict.fromkeys(photo_ids) if int(p) in self._relpaths
               and self.cluster_of(int(p)) != cluster_id]
        if not ids:
            return 0
        noun = "photo" if len(ids) == 1 else "photos"
        with self._edit(f"Keep {len(ids)} {noun} out of \u201c{self._clusters[cluster_id].display_name}\u201d") as rec:
            rec.touch("kept_out", ids)
            self.library.keep_out((p, cluster_id) for p in ids)
        return len(ids)

    def assign_rest(self) -> int:
        """Give every Unsorted photo the cluster it is most like (clustering/assign.py); photos
        the user put into Unsorted by hand stay. One undoable entry; returns how many moved."""
        from photoclust_app.core.clustering.assign import nearest_clusters

        table = self.library.assignment_table()
        ids, vectors = self._matrix()
        cid = cluster_labels(table, ids)
        loose = np.flatnonzero((cid < 0) & np.array([not table.get(int(p), (None, 0, False))[2]
                                                     for p in ids.tolist()], dtype=bool))
        if not len(loose) or not (cid >= 0).any():
            return 0
        target, cos = nearest_clusters(vectors, cid, loose)
        rows = [(int(ids[r]), int(t), float(max(c, 0.0)), False) for r, t, c in zip(loose, target, cos)]
        noun = "photo" if len(rows) == 1 else "photos"
        with self._edit(f"Assign {len(rows)} Unsorted {noun} to their nearest clusters") as rec:
            rec.touch("assignments", [r[0] for r in rows])
            self.library.assign_many(rows)
        return len(rows)

    # -- whole-library changes -----------------------------------------------------------
    def _apply_whole(self, apply: Callable[[], object]) -> object:
        with self._editing():
            result = apply()
        self.reload()
        return result

    def recluster(self, plan, *, undoable: bool = True, text: str = "Re-cluster"):
        """Apply a ClusteringPlan computed in a worker; keeps names and hand-placed photos."""
        from photoclust_app.core.clustering.plan import apply_clustering

        self.new_ids = set()   # the clustering covered them: in a cluster, or Unsorted as any other
        return self._apply_whole(lambda: apply_clustering(self.library, plan, text=text if undoable else None))

    def place_new(self, plan) -> None:
        """Apply a placement of new photos (clustering/place.py): one undoable entry."""
        from photoclust_app.core.clustering.place import apply_placement
        from photoclust_app.core.pipeline import placement_text

        self.new_ids -= {int(p) for p in plan.photo_ids.tolist()}
        self._apply_whole(lambda: apply_placement(self.library, plan, text=placement_text(plan)))

    def review_items(self) -> list[tuple[int, int | None, float]]:
        """The To-review list: (photo, the cluster it would join or None, confidence)."""
        return [r for r in self.library.review_items() if r[0] in self._relpaths]

    def accept_review(self, photo_ids: Iterable[int] | None = None) -> int:
        """Put To-review photos (all when None) into the cluster each would join, by hand."""
        want = None if photo_ids is None else {int(p) for p in photo_ids}
        items = [(p, c) for p, c, _ in self.review_items() if c is not None and (want is None or p in want)]
        if not items:
            return 0
        with self._edit(f"Accept {len(items)} reviewed photo{'s' if len(items) != 1 else ''}") as rec:
            ids = [p for p, _ in items]
            rec.touch("assignments", ids)
            rec.touch("review", ids)
            rec.touch("kept_out", ids)
            for p, c in items:
                self.library.assign([p], c, manual=True)
                self.library.let_in([p], c)
            self.library.resolve_review(ids)
        return len(items)

    def dismiss_review(self, photo_ids: Iterable[int]) -> int:
        """Take photos off the To-review list; they stay where they are (Unsorted)."""
        listed = {p for p, _, _ in self.review_items()}
        ids = [int(p) for p in dict.fromkeys(photo_ids) if int(p) in listed]
        if not ids:
            return 0
        with self._edit(f"Leave {len(ids)} photo{'s' if len(ids) != 1 else ''} Unsorted") as rec:
            rec.touch("review", ids)
            self.library.resolve_review(ids)
        return len(ids)

    def split(self, plan) -> list[int]:
        """Apply a split plan (clustering.plan.compute_split); returns the ids of the parts,
        which the display order puts right after the cluster they came from."""
        from dataclasses import replace

        from photoclust_app.core.clustering.plan import apply_split

        name = ""
        if plan.scope in self._clusters:
            name = f" \u201c{self._clusters[plan.scope].display_name}\u201d"
        with self._editing():
            parts = apply_split(self.library, plan, text=f"Split{name}")
        state = self.merge_order(read_state(self.library))
        if plan.scope in state.order:
            rest = [c for c in state.order if c not in parts]
            at = rest.index(plan.scope) + 1
            state = replace(state, order=rest[:at] + [p for p in parts if p in state.clusters] + rest[at:])
        self.set_state(state)   # not install_state: that would put the new parts last again
        self._read_history()
        self._emit("reset")
        self._emit("history_changed")
        return parts

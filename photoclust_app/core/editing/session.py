"""The editing session over one Library: the single Qt-free source of truth the GUI adapts.

Every edit (rename, move, new cluster, merge, dissolve, split, re-cluster) is a method that
writes to the library at once as one recorded history entry (store/history.py), brings the
in-memory state up to date from the rows it wrote, and notifies listeners. Undo and redo
come from the library's history, so they survive a restart and agree with the command line.

Events passed to ``subscribe`` callbacks as ``(name, payload)``:
  ("clusters_changed", {"ids": [...], "structure": bool})  names, sizes, mosaics; structure: clusters added/removed
  ("assignments_changed", {"photo_ids": [...]})            photos that changed cluster
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
            rec.touch("assignments", ids)
            self.library.assign(ids, cluster_id, manual=True)
        return len(ids)

    def new_cluster(self, photo_ids: Iterable[int], name: str = "") -> int:
        """A new cluster holding PHOTO_IDS (placed by hand); returns its id."""
        ids = [int(p) for p in dict.fromkeys(photo_ids) if int(p) in self._relpaths]
        with self._edit("New cluster") as rec:
            rec.touch("assignments", ids)
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

    def assign_rest(self) -> int:
        """Give every Unsorted photo the cluster it is most like (clustering/assign.py); photos
        the user put into Unsorted by hand stay. One undoable entry; returns how many moved."""
        from photoclust_app.core.clustering.assign import nearest_clusters

        table = self.library.assignment_table()
        ids, vectors = self.library.embedding_matrix()
        cid = np.array([table.get(int(p), (None, 0, False))[0] or -1 for p in ids.tolist()], dtype=np.int64)
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

        return self._apply_whole(lambda: apply_clustering(self.library, plan, text=text if undoable else None))

    def split(self, plan) -> list[int]:
        """Apply a split plan (clustering.plan.compute_split); returns the ids of the parts."""
        from photoclust_app.core.clustering.plan import apply_split

        name = ""
        if plan.scope in self._clusters:
            name = f" \u201c{self._clusters[plan.scope].display_name}\u201d"
        return self._apply_whole(lambda: apply_split(self.library, plan, text=f"Split{name}"))

"""The editing session over one Library: the single Qt-free source of truth the GUI adapts.

Every edit (rename, move, new cluster, merge, dissolve, split, re-cluster) is a method that
writes to the library at once, records an undoable command holding what it needs to revert,
and notifies listeners. Reads come from an in-memory copy of the library state so views
never query SQLite for what they paint; the copy is built by ``read_state`` (safe in a
worker thread) and swapped in with ``install_state`` on the session's own thread.

Events passed to ``subscribe`` callbacks as ``(name, payload)``:
  ("clusters_changed", {"ids": [...], "structure": bool})  names, sizes, mosaics; structure: clusters added/removed
  ("assignments_changed", {"photo_ids": [...]})            photos that changed cluster
  ("reset", {})                                            anything may have changed: reload views
  ("history_changed", {})                                  undo/redo availability or text changed
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from photoclust_app.core.store.library import Library
from photoclust_app.core.records import Cluster

log = logging.getLogger(__name__)

Listener = Callable[[str, dict], None]
MOSAIC_SIZE = 4


@dataclass
class SessionState:
    """Everything the views show, read in one go."""

    relpaths: dict[int, str] = field(default_factory=dict)          # photo id -> relpath
    assignments: dict[int, int | None] = field(default_factory=dict)  # photo id -> cluster (None: Unsorted)
    clusters: dict[int, Cluster] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)                   # cluster ids, largest first
    layout_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    layout_xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))


def read_state(lib: Library) -> SessionState:
    """Read what a session shows. Pure reads: fine in a worker thread."""
    relpaths = {p.id: p.relpath for p in lib.photos()}
    assigned = lib.assignments()
    assignments = {pid: assigned.get(pid) for pid in relpaths}
    clusters = {c.id: c for c in lib.clusters()}
    ids, xy = lib.layout()
    return SessionState(relpaths, assignments, clusters, list(clusters), ids, xy)


@dataclass
class Command:
    """One undoable edit; ``redo`` has already run once when it is recorded."""

    text: str
    redo: Callable[[], Any]
    undo: Callable[[], Any]


class Session:
    """Edits and reads of one library, with undo/redo. Call it from one thread only."""

    def __init__(self, library: Library, state: SessionState | None = None):
        self.library = library
        self._listeners: list[Listener] = []
        self._undo: list[Command] = []
        self._redo: list[Command] = []
        # Bumped before and after every edit: a state read in a worker while the counter moved
        # is stale (see install_state's caller), so edits are never lost to an older read.
        self.generation = 0
        self._set_state(state if state is not None else read_state(library))

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
    def _set_state(self, st: SessionState) -> None:
        self._relpaths = dict(st.relpaths)
        self._assign = dict(st.assignments)
        self._clusters = dict(st.clusters)
        self._order = [c for c in st.order if c in self._clusters]
        self._layout = (st.layout_ids, st.layout_xy)
        self._members: dict[int | None, set[int]] = {None: set()}
        for cid in self._clusters:
            self._members[cid] = set()
        for pid, cid in self._assign.items():
            self._members.setdefault(cid if cid in self._clusters else None, set()).add(pid)

    def install_state(self, state: SessionState) -> None:
        """Swap in a freshly read state (after indexing) and tell the views to reload."""
        keep = [c for c in self._order if c in state.clusters]
        new = [c for c in state.order if c not in keep]
        self._set_state(replace(state, order=keep + new))
        self._emit("reset")

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

    def cluster(self, cluster_id: int) -> Cluster | None:
        c = self._clusters.get(cluster_id)
        if c is None:
            return None
        members = self._members.get(cluster_id, set())
        reps = [p for p in c.representatives if p in members][:MOSAIC_SIZE]
        if len(reps) < MOSAIC_SIZE:  # photos moved out of the mosaic: fill it from the members
            reps += [p for p in sorted(members) if p not in reps][:MOSAIC_SIZE - len(reps)]
        return replace(c, size=len(members), representatives=reps)

    def cluster_ids(self) -> list[int]:
        return list(self._order)

    def members(self, cluster_id: int | None) -> list[int]:
        """Photo ids of a cluster, or of Unsorted (None), by id."""
        return sorted(self._members.get(cluster_id, ()))

    def unsorted_count(self) -> int:
        return len(self._members.get(None, ()))

    def cluster_of(self, photo_id: int) -> int | None:
        cid = self._assign.get(photo_id)
        return cid if cid in self._clusters else None

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

    def name_exists(self, name: str) -> bool:
        return any(c.display_name == name for c in self._clusters.values())

    # -- history -------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        return self._undo[-1].text if self._undo else ""

    @property
    def redo_text(self) -> str:
        return self._redo[-1].text if self._redo else ""

    @contextlib.contextmanager
    def _editing(self):
        self.generation += 1
        try:
            yield
        finally:
            self.generation += 1

    def undo(self) -> bool:
        if not self._undo:
            return False
        cmd = self._undo.pop()
        with self._editing():
            cmd.undo()
        self._redo.append(cmd)
        self._emit("history_changed")
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        cmd = self._redo.pop()
        with self._editing():
            cmd.redo()
        self._undo.append(cmd)
        self._emit("history_changed")
        return True

    def clear_history(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self._emit("history_changed")

    def _record(self, text: str, redo: Callable[[], Any], undo: Callable[[], Any]) -> Any:
        with self._editing():
            result = redo()
        self._undo.append(Command(text, redo, undo))
        self._redo.clear()
        self._emit("history_changed")
        return result

    # -- cache upkeep --------------------------------------------------------------------
    def _set_assignments(self, photo_ids: Iterable[int], cluster_id: int | None) -> None:
        for p in photo_ids:
            self._place(p, cluster_id)

    def _place(self, pid: int, cid: int | None) -> None:
        if pid not in self._relpaths:
            return
        old = self._assign.get(pid)
        self._members.get(old if old in self._clusters else None, set()).discard(pid)
        self._assign[pid] = cid
        self._members.setdefault(cid if cid in self._clusters else None, set()).add(pid)

    def _restore_rows(self, rows: list[tuple]) -> list[int]:
        """Put assignment rows back, skipping photos that left the library since."""
        live = [r for r in rows if r[0] in self._relpaths]
        self.library.restore_assignment_rows(live)
        for r in live:
            self._place(r[0], r[1] if len(r) > 1 else None)
        return [r[0] for r in live]

    def _load_cluster(self, cid: int, position: int | None = None) -> None:
        row = self.library.cluster_row(cid)
        if row is None:
            return
        reps = self._clusters[cid].representatives if cid in self._clusters else []
        self._clusters[cid] = Cluster(row[0], row[1], row[2], bool(row[3]), 0, list(reps))
        self._members.setdefault(cid, set())
        if cid not in self._order:
            self._order.insert(len(self._order) if position is None else position, cid)
        # photos whose assignment points here come back from Unsorted
        for p in [p for p in self._members[None] if self._assign.get(p) == cid]:
            self._members[None].discard(p)
            self._members[cid].add(p)

    def _drop_cluster(self, cid: int) -> None:
        self._clusters.pop(cid, None)
        if cid in self._order:
            self._order.remove(cid)
        for p in self._members.pop(cid, set()):
            self._assign[p] = None
            self._members[None].add(p)

    def _cluster_snapshot(self, cid: int) -> tuple[tuple, list[int], int]:
        """What dissolving or merging away CID loses: its row, mosaic and list position."""
        return self.library.cluster_row(cid), list(self._clusters[cid].representatives), self._order.index(cid)

    def _restore_cluster(self, snap: tuple[tuple, list[int], int]) -> None:
        row, reps, pos = snap
        with self.library.transaction():
            self.library.restore_cluster_row(row)
            self.library.set_representatives(row[0], [p for p in reps if p in self._relpaths])
        self._clusters[row[0]] = Cluster(row[0], row[1], row[2], bool(row[3]), 0, list(reps))
        self._load_cluster(row[0], pos)

    def _changed(self, cluster_ids: Iterable[int | None], photo_ids: Iterable[int] = (),
                 structure: bool = False) -> None:
        photo_ids = list(photo_ids)
        if photo_ids:
            self._emit("assignments_changed", photo_ids=photo_ids)
        self._emit("clusters_changed", ids=[c for c in set(cluster_ids) if c is not None], structure=structure)

    # -- edits ---------------------------------------------------------------------------
    def rename(self, cluster_id: int, name: str) -> None:
        """Give a cluster the user's name; an empty name goes back to the suggestion."""
        old = self.library.cluster_row(cluster_id)
        if old is None:
            raise KeyError(cluster_id)
        name = name.strip()
        if name == (old[1] if old[3] else ""):
            return

        def redo():
            self.library.rename_cluster(cluster_id, name)
            self._load_cluster(cluster_id)
            self._changed([cluster_id])

        def undo():
            self.library.restore_cluster_row(old)
            self._load_cluster(cluster_id)
            self._changed([cluster_id])

        shown = name or old[2] or f"Cluster {cluster_id}"
        self._record(f"Rename cluster to \u201c{shown}\u201d", redo, undo)

    def move(self, photo_ids: Iterable[int], cluster_id: int | None) -> int:
        """Put photos into a cluster (None: Unsorted) by hand; returns how many moved."""
        if cluster_id is not None and cluster_id not in self._clusters:
            raise KeyError(cluster_id)
        ids = [int(p) for p in dict.fromkeys(photo_ids) if int(p) in self._relpaths
               and self.cluster_of(int(p)) != cluster_id]
        if not ids:
            return 0
        before = self.library.assignment_rows(ids)
        sources = {self.cluster_of(p) for p in ids}

        def redo():
            self.library.assign(ids, cluster_id, manual=True)
            self._set_assignments(ids, cluster_id)
            self._changed(sources | {cluster_id}, ids)

        def undo():
            self._restore_rows(before)
            self._changed(sources | {cluster_id}, ids)

        target = self._clusters[cluster_id].display_name if cluster_id is not None else "Unsorted"
        noun = "photo" if len(ids) == 1 else "photos"
        self._record(f"Move {len(ids)} {noun} to \u201c{target}\u201d", redo, undo)
        return len(ids)

    def new_cluster(self, photo_ids: Iterable[int], name: str = "") -> int:
        """A new cluster holding PHOTO_IDS (placed by hand); returns its id."""
        ids = [int(p) for p in dict.fromkeys(photo_ids) if int(p) in self._relpaths]
        before = self.library.assignment_rows(ids)
        sources = {self.cluster_of(p) for p in ids}
        with self._editing(), self.library.transaction():
            cid = self.library.create_cluster(name.strip(), suggested_name=self._fresh_name())
            row = self.library.cluster_row(cid)
            self.library.assign(ids, cid, manual=True)
            self.library.set_representatives(cid, ids[:MOSAIC_SIZE])
        state = {"first": True}

        def redo():
            if not state.pop("first", False):
                with self.library.transaction():
                    self.library.restore_cluster_row(row)
                    self.library.assign(ids, cid, manual=True)
                    self.library.set_representatives(cid, ids[:MOSAIC_SIZE])
            self._clusters[cid] = Cluster(row[0], row[1], row[2], bool(row[3]), 0, ids[:MOSAIC_SIZE])
            self._load_cluster(cid)
            self._set_assignments(ids, cid)
            self._changed(sources | {cid}, ids, structure=True)
            return cid

        def undo():
            with self.library.transaction():
                self._restore_rows(before)
                self.library.delete_cluster(cid)
            self._drop_cluster(cid)
            self._changed(sources, ids, structure=True)

        return self._record("New cluster", redo, undo)

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
        snaps = [self._cluster_snapshot(s) for s in srcs]
        ids = [p for s in srcs for p in self.members(s)]
        before = self.library.assignment_rows(ids)

        def redo():
            with self.library.transaction():
                self.library.assign(ids, target, manual=True)
                for s in srcs:
                    self.library.delete_cluster(s)
            self._set_assignments(ids, target)
            for s in srcs:
                self._drop_cluster(s)
            self._changed([target], ids, structure=True)

        def undo():
            with self.library.transaction():
                for snap in sorted(snaps, key=lambda s: s[2]):
                    self._restore_cluster(snap)
                self._restore_rows(before)
            self._changed([target, *srcs], ids, structure=True)

        names = ", ".join(self._clusters[s].display_name for s in srcs)
        self._record(f"Merge \u201c{names}\u201d into \u201c{self._clusters[target].display_name}\u201d", redo, undo)

    def dissolve(self, cluster_id: int) -> None:
        """Remove a cluster; its photos go to Unsorted."""
        if cluster_id not in self._clusters:
            raise KeyError(cluster_id)
        snap = self._cluster_snapshot(cluster_id)
        ids = self.members(cluster_id)
        before = self.library.assignment_rows(ids)
        name = self._clusters[cluster_id].display_name

        def redo():
            self.library.delete_cluster(cluster_id)
            self._drop_cluster(cluster_id)
            self._changed([], ids, structure=True)

        def undo():
            with self.library.transaction():
                self._restore_cluster(snap)
                self._restore_rows(before)
            self._changed([cluster_id], ids, structure=True)

        self._record(f"Dissolve \u201c{name}\u201d", redo, undo)

    # -- whole-library changes -----------------------------------------------------------
    def _snapshot(self) -> dict:
        snap = self.library.clustering_snapshot()
        snap["layout"] = self.library.layout()
        snap["order"] = list(self._order)
        return snap

    def _restore_snapshot(self, snap: dict) -> None:
        with self.library.transaction():
            self.library.restore_clustering_snapshot(snap)
            ids, xy = snap["layout"]
            live = np.isin(ids, np.fromiter(self._relpaths, np.int64, len(self._relpaths)))
            self.library.set_layout(ids[live], xy[live])
        state = read_state(self.library)
        self._set_state(replace(state, order=[c for c in snap["order"] if c in state.clusters]
                                + [c for c in state.order if c not in snap["order"]]))
        self._emit("reset")

    def _apply_whole(self, text: str, apply: Callable[[], Any], undoable: bool) -> Any:
        """Run a library-wide change (apply_clustering, apply_split) with snapshot undo."""
        before = self._snapshot() if undoable else None
        with self._editing():
            result = apply()
            state = read_state(self.library)
            keep = [c for c in self._order if c in state.clusters]
            self._set_state(replace(state, order=keep + [c for c in state.order if c not in keep]))
        self._emit("reset")
        if undoable:
            after = self._snapshot()
            self._undo.append(Command(text, lambda: self._restore_snapshot(after),
                                      lambda: self._restore_snapshot(before)))
            self._redo.clear()
            self._emit("history_changed")
        return result

    def recluster(self, plan, *, undoable: bool = True, text: str = "Re-cluster"):
        """Apply a ClusteringPlan computed in a worker; keeps names and hand-placed photos."""
        from photoclust_app.core.clustering.plan import apply_clustering

        return self._apply_whole(text, lambda: apply_clustering(self.library, plan), undoable)

    def split(self, plan) -> list[int]:
        """Apply a split plan (organize.compute_split); returns the ids of the parts."""
        from photoclust_app.core.clustering.plan import apply_split

        name = ""
        if plan.scope in self._clusters:
            name = f" \u201c{self._clusters[plan.scope].display_name}\u201d"
        return self._apply_whole(f"Split{name}", lambda: apply_split(self.library, plan), True)

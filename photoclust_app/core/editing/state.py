"""What the views show, held in memory: the session's projection of the library.

Views never query SQLite for what they paint. ``read_state`` reads everything in one read
transaction (a consistent snapshot, safe on a reader connection in a worker thread);
``StateCache`` keeps it current as edits, undos and redos report the rows they wrote, so
an edit costs O(photos it touches), not O(library).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from photoclust_app.core.records import Cluster
from photoclust_app.core.store.clusters import alternatives

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
    missing: set[int] = field(default_factory=set)                   # photos the last scan did not see
    copies: dict[int, int] = field(default_factory=dict)             # photo id -> its duplicate group's keeper


def read_state(lib) -> SessionState:
    """Read what a session shows, in one snapshot. Pure reads."""
    with lib.snapshot():
        relpaths = lib.relpaths()
        assigned = lib.assignments()
        clusters = {c.id: c for c in lib.clusters()}
        ids, xy = lib.layout()
        missing = set(lib.missing())
        copies = {p: keeper for _, keeper, members in lib.duplicate_groups() for p in members}
    assignments = {pid: assigned.get(pid) for pid in relpaths}
    return SessionState(relpaths, assignments, clusters, list(clusters), ids, xy, missing, copies)


class StateCache:
    """The in-memory state with O(1) updates: members per cluster, display order."""

    count_copies_once = False   # a duplicate group counts once in a cluster's size (the user asks)

    def set_state(self, st: SessionState) -> None:
        self._relpaths = dict(st.relpaths)
        self._assign = dict(st.assignments)
        self._clusters = dict(st.clusters)
        self._order = [c for c in st.order if c in self._clusters]
        self._layout = (st.layout_ids, st.layout_xy)
        self._missing = set(st.missing)
        self._copies = dict(st.copies)
        # photos indexed live (Session.add_photos) that are still Unsorted stay new
        self.new_ids = {p for p in getattr(self, "new_ids", ()) if p in st.relpaths and st.assignments.get(p) is None}
        self._positions: dict[int, int] = {}  # where a removed cluster stood, for its undo
        self._members: dict[int | None, set[int]] = {None: set()}
        for cid in self._clusters:
            self._members[cid] = set()
        for pid, cid in self._assign.items():
            self._members.setdefault(cid if cid in self._clusters else None, set()).add(pid)

    def merge_order(self, state: SessionState) -> SessionState:
        """STATE with the current display order kept for clusters that survive."""
        keep = [c for c in self._order if c in state.clusters]
        return replace(state, order=keep + [c for c in state.order if c not in keep])

    # -- reads ---------------------------------------------------------------------------
    def cluster(self, cluster_id: int) -> Cluster | None:
        c = self._clusters.get(cluster_id)
        if c is None:
            return None
        members = self._members.get(cluster_id, set())
        reps = self._one_per_copy(p for p in c.representatives if p in members)[:MOSAIC_SIZE]
        if len(reps) < MOSAIC_SIZE:  # photos moved out of the mosaic: fill it from the members
            reps = self._one_per_copy([*reps, *sorted(members)])[:MOSAIC_SIZE]
        size = len(self._one_per_copy(members)) if self.count_copies_once else len(members)
        return replace(c, size=size, representatives=reps)

    def _one_per_copy(self, pids) -> list[int]:
        """PIDS with at most one photo of each duplicate group: the mosaic never shows two copies."""
        seen, out = set(), []
        for p in pids:
            key = self._copies.get(p, -p - 1)
            if key not in seen:
                seen.add(key)
                out.append(p)
        return out

    def is_missing(self, photo_id: int) -> bool:
        """The last scan did not see this photo (it keeps its cluster and name)."""
        return photo_id in self._missing

    def missing_count(self) -> int:
        return len(self._missing)

    def cluster_of(self, photo_id: int) -> int | None:
        cid = self._assign.get(photo_id)
        return cid if cid in self._clusters else None

    # -- updates -------------------------------------------------------------------------
    def place(self, pid: int, cid: int | None) -> None:
        if pid not in self._relpaths:
            return
        old = self._assign.get(pid)
        self._members.get(old if old in self._clusters else None, set()).discard(pid)
        self._assign[pid] = cid
        self._members.setdefault(cid if cid in self._clusters else None, set()).add(pid)
        if cid is not None:
            self.new_ids.discard(pid)   # placed (by the user, or a clustering): no longer new

    def absorb(self, rows: dict[str, dict]) -> tuple[set, list[int], bool]:
        """Bring the cache in line with rows the library now holds (an edit's "after", or
        what an undo/redo wrote; a changed layout is for a full reload). Returns (clusters changed, photos moved, structure changed)."""
        changed: set = set()
        structure = False
        # Removals first, last shown first, and re-creations by the place they had: each then
        # lands where it stood, however many went and came back together (a split's pieces).
        rank = {cid: r for r, cid in enumerate(self._order)}

        def turn(item):
            cid, row = item
            if row is None:
                return (0, -rank.get(cid, -1), cid)
            return (1, self._positions.get(cid, len(self._order)), cid)

        for cid, row in sorted(rows.get("clusters", {}).items(), key=turn):
            changed.add(cid)
            if row is None:
                structure |= self._drop(cid)
                continue
            known = self._clusters.get(cid)
            reps = known.representatives if known else []
            self._clusters[cid] = Cluster(row[0], row[1], row[2], bool(row[3]), 0, list(reps),
                                          alternatives(row[5]) if len(row) > 5 else [])
            if known is None:
                structure = True
                self._members.setdefault(cid, set())
                pos = self._positions.pop(cid, len(self._order))
                self._order.insert(min(pos, len(self._order)), cid)
        for cid, pids in rows.get("representatives", {}).items():
            if cid in self._clusters:
                self._clusters[cid] = replace(self._clusters[cid], representatives=list(pids or []))
                changed.add(cid)
        moved = []
        for pid, row in rows.get("assignments", {}).items():
            if pid not in self._relpaths:
                continue
            old, new = self.cluster_of(pid), (row[1] if row else None)
            self.place(pid, new)
            changed |= {old, new}
            moved.append(pid)
        changed.discard(None)
        return changed, moved, structure

    def _drop(self, cid: int) -> bool:
        if cid not in self._clusters:
            return False
        self._clusters.pop(cid)
        if cid in self._order:
            self._positions[cid] = self._order.index(cid)
            self._order.remove(cid)
        for p in self._members.pop(cid, set()):
            self._assign[p] = None
            self._members[None].add(p)
        return True

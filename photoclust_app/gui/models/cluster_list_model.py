"""The cluster list: one row per cluster in the session's order, then Unsorted, then a
"New cluster" row that exists only as a drop target.

Drops: photos onto a cluster move them there (onto Unsorted: out of every cluster; onto
"New cluster": into a new one); a cluster onto another merges it in; a cluster onto Unsorted
dissolves it. The edit itself runs from the event loop (QTimer.singleShot(0)), not inside
the drag's nested loop, as Picard does, so the source view never sees rows vanish mid-drag.
"""
from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QAbstractListModel, QMimeData, QModelIndex, Qt, QTimer, Signal

from photoclust_app.core.editing.session import Session
from photoclust_app.gui.models import mime as mimes
from photoclust_app.gui.models.session_bound import SessionBound

log = logging.getLogger(__name__)

ClusterIdRole = Qt.ItemDataRole.UserRole + 1   # int, or None for Unsorted
KindRole = Qt.ItemDataRole.UserRole + 2        # "cluster" | "unsorted" | "new"
SizeRole = Qt.ItemDataRole.UserRole + 3
MosaicRole = Qt.ItemDataRole.UserRole + 4      # photo ids, most representative first
CohesionRole = Qt.ItemDataRole.UserRole + 5    # float (cohesion.cohesion), None until computed
IncoherentRole = Qt.ItemDataRole.UserRole + 6  # True: below cohesion.INCOHERENT, worth a Split
AlternativesRole = Qt.ItemDataRole.UserRole + 7  # names the rename editor offers, best first
CorrectionsRole = Qt.ItemDataRole.UserRole + 8   # (placed by hand, kept out), the cluster's constraints

COHESION_TIP = ("Cohesion {score}: how much closer its photos are to each other than to\n"
                "the nearest other cluster (1: tight and apart; 0 or less: as close to another).")
SPLIT_TIP = ("It looks mixed (cohesion under {limit:.2f}): it may hold two subjects.\n"
             "Click \u201cSplit?\u201d (or Ctrl+Shift+S) to split it.")


def score_text(score: float) -> str:
    """A cohesion as shown: two decimals, with a real minus sign."""
    return f"{score:.2f}".replace("-", "\u2212")

def corrections_text(placed: int, kept: int, short: bool = False) -> str:
    """"12 placed by hand \u00b7 3 kept out" (the non-zero parts; "" when both are 0); SHORT:
    "12 by hand \u00b7 3 kept out", for the list's narrow rows."""
    hand = "by hand" if short else "placed by hand"
    parts = ([f"{placed} {hand}"] if placed else []) + ([f"{kept} kept out"] if kept else [])
    return " \u00b7 ".join(parts)


UNSORTED_LABEL = "Unsorted"
NEW_CLUSTER_LABEL = "New cluster"


def unsorted_label(new: int) -> str:
    """"Unsorted", or "Unsorted · 256 new" while photos just indexed wait for clustering."""
    return f"{UNSORTED_LABEL} \u00b7 {new:,} new" if new else UNSORTED_LABEL


class ClusterListModel(SessionBound, QAbstractListModel):
    editFailed = Signal(str)   # a sentence for the user (e.g. a read-only library)

    def __init__(self, session: Session | None = None, thumbnails=None, parent=None):
        super().__init__(parent)
        self._session: Session | None = None
        self._unsubscribe = None
        self._ids: list[int] = []
        self._rows: dict[int, int] | None = None          # cluster id -> row, built when asked
        self._mosaic_rows: dict[int, list[int]] | None = None  # photo id -> rows showing it
        self.thumbnails = None
        self.defer_drops = True
        self._cohesion: dict[int, float] = {}
        self._corrections: dict[int, tuple[int, int]] | None = None   # read when asked, per history change
        if session is not None:
            self.set_session(session, thumbnails)

    # -- session -------------------------------------------------------------------------
    def _reset_rows(self, session: Session | None) -> None:
        self._ids = session.cluster_ids() if session else []
        self._rows = self._mosaic_rows = None
        self._cohesion = {}
        self._corrections = None

    def set_cohesion(self, scores: dict[int, float]) -> None:
        """Each cluster's cohesion (gui/quality.py computes it in the background)."""
        self._cohesion = dict(scores)
        if self._ids:
            self.dataChanged.emit(self.index(0), self.index(len(self._ids) - 1),
                                  [CohesionRole, IncoherentRole, Qt.ItemDataRole.ToolTipRole])

    def cohesion(self, cluster_id: int | None) -> float | None:
        return self._cohesion.get(cluster_id) if cluster_id is not None else None

    def is_incoherent(self, cluster_id: int | None) -> bool:
        from photoclust_app.core.clustering.cohesion import INCOHERENT

        score = self.cohesion(cluster_id)
        return score is not None and score < INCOHERENT and self._splittable(cluster_id)

    def _splittable(self, cluster_id: int) -> bool:
        c = self._session.cluster(cluster_id) if self._session is not None else None
        return c is not None and c.size >= 4   # a split needs two pieces of at least two

    def split_suggestion(self, index: QModelIndex) -> str | None:
        """The context menu's suggestion for a cluster that looks mixed, else None."""
        cid = self.cluster_id(index)
        if cid is None or not self.is_incoherent(cid):
            return None
        return f"Split \u2014 it looks mixed (cohesion {score_text(self.cohesion(cid))})"

    def corrections(self, cluster_id: int | None) -> tuple[int, int]:
        """(photos placed in the cluster by hand, photos kept out of it), read once per
        history change (every edit, undo and redo is one)."""
        if cluster_id is None or self._session is None:
            return (0, 0)
        if self._corrections is None:
            self._corrections = self._session.library.constraint_counts()
        return self._corrections.get(cluster_id, (0, 0))

    def _on_event(self, event: str, payload: dict) -> None:
        if event == "history_changed":   # constraints change with edits that move nothing (a reject)
            self._corrections = None
            if self._ids:
                self.dataChanged.emit(self.index(0), self.index(len(self._ids) - 1),
                                      [CorrectionsRole, Qt.ItemDataRole.ToolTipRole])
            return
        self._mosaic_rows = None   # mosaics follow the members
        if event == "clusters_changed":
            if payload.get("structure"):
                self._sync()
            else:
                for cid in payload.get("ids", ()):
                    row = self.row_of(cid)
                    if row >= 0:
                        i = self.index(row)
                        self.dataChanged.emit(i, i)
            self._changed_unsorted()
        elif event == "reset":
            self._sync()
            if self.rowCount():
                self.dataChanged.emit(self.index(0), self.index(self.rowCount() - 1))
        elif event in ("assignments_changed", "photos_added"):
            self._changed_unsorted()

    def _changed_unsorted(self) -> None:
        if self._session is not None:
            i = self.index(len(self._ids))
            self.dataChanged.emit(i, i)

    def _sync(self) -> None:
        """Bring rows in line with the session by removals, insertions and a re-order, so
        views keep their selection (a reset would drop it)."""
        self._rows = None
        new = self._session.cluster_ids() if self._session else []
        new_set = set(new)
        for row in range(len(self._ids) - 1, -1, -1):
            if self._ids[row] not in new_set:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._ids[row]
                self.endRemoveRows()
        have = set(self._ids)
        for i, cid in enumerate(new):
            if cid not in have:
                pos = min(i, len(self._ids))
                self.beginInsertRows(QModelIndex(), pos, pos)
                self._ids.insert(pos, cid)
                self.endInsertRows()
        if self._ids != new:
            self.layoutAboutToBeChanged.emit()
            new_rows = {cid: r for r, cid in enumerate(new)}
            persistent = self.persistentIndexList()
            moved = []
            for idx in persistent:
                r = idx.row()
                moved.append(self.index(new_rows[self._ids[r]]) if r < len(self._ids) else self.index(r))
            self._ids = list(new)
            self._rows = None
            self.changePersistentIndexList(persistent, moved)
            self.layoutChanged.emit()
        self._rows = None

    def _on_thumbnail(self, photo_id: int) -> None:
        if self._session is None:
            return
        if self._mosaic_rows is None:   # once per change, not once per cluster per thumbnail
            self._mosaic_rows = {}
            mosaics = [self.data(self.index(r), MosaicRole) or [] for r in range(len(self._ids) + 1)]
            for row, photos in enumerate(mosaics):
                for p in photos[:4]:
                    self._mosaic_rows.setdefault(p, []).append(row)
        for row in self._mosaic_rows.get(photo_id, ()):
            i = self.index(row)
            self.dataChanged.emit(i, i, [MosaicRole, Qt.ItemDataRole.DecorationRole])

    # -- rows ----------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        if parent.isValid() or self._session is None:
            return 0
        return len(self._ids) + 2

    def row_of(self, cluster_id: int | None) -> int:
        """Row of a cluster (None: Unsorted), -1 when absent."""
        if self._session is None:
            return -1
        if cluster_id is None:
            return len(self._ids)
        if self._rows is None:
            self._rows = {cid: r for r, cid in enumerate(self._ids)}
        return self._rows.get(cluster_id, -1)

    def kind(self, row: int) -> str:
        if row < len(self._ids):
            return "cluster"
        return "unsorted" if row == len(self._ids) else "new"

    def cluster_id(self, index: QModelIndex) -> int | None:
        return self._ids[index.row()] if index.isValid() and index.row() < len(self._ids) else None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self._session is None or not 0 <= index.row() < self.rowCount():
            return None
        row = index.row()
        kind = self.kind(row)
        if role == KindRole:
            return kind
        if kind == "new":
            if role == Qt.ItemDataRole.DisplayRole:
                return f"+ {NEW_CLUSTER_LABEL}"
            if role == Qt.ItemDataRole.ToolTipRole:
                return "Drop photos here to make a new cluster of them."
            return None
        if kind == "unsorted":
            n, new = self._session.unsorted_count(), self._session.new_count()
            return {
                Qt.ItemDataRole.DisplayRole: unsorted_label(new),
                Qt.ItemDataRole.ToolTipRole: f"{n:,} photos that fit no cluster" + (
                    f"\n{new:,} of them new: just indexed, they join clusters when clustering ends" if new else ""),
                SizeRole: n,
                ClusterIdRole: None,
                MosaicRole: self._session.members(None)[:4] if n else [],
            }.get(role)
        c = self._session.cluster(self._ids[row])
        if c is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return c.display_name
        if role == Qt.ItemDataRole.ToolTipRole:
            from photoclust_app.core.clustering.cohesion import INCOHERENT

            hint = f"\nSuggested: {c.suggested_name}" if c.user_named and c.suggested_name else ""
            score = self.cohesion(c.id)
            if score is not None:
                hint += "\n" + COHESION_TIP.format(score=score_text(score))
                if self.is_incoherent(c.id):
                    hint += "\n" + SPLIT_TIP.format(limit=INCOHERENT)
            text = corrections_text(*self.corrections(c.id))
            if text:
                hint += f"\n{text} (right-click \u203a Clear Corrections forgets them)"
            return f"{c.display_name}: {c.size} photos{hint}\nF2 or double-click to rename"
        if role == CorrectionsRole:
            return self.corrections(c.id)
        if role == CohesionRole:
            return self.cohesion(c.id)
        if role == IncoherentRole:
            return self.is_incoherent(c.id)
        if role == AlternativesRole:
            return self.alternatives(c)
        return {ClusterIdRole: c.id, SizeRole: c.size, MosaicRole: c.representatives}.get(role)

    @staticmethod
    def alternatives(c) -> list[str]:
        """What the rename editor offers: the suggestion (when the user's name hides it), then
        the namer's other candidates; never the name shown now, never twice."""
        out = []
        for name in ([c.suggested_name] if c.user_named else []) + list(c.alternatives or []):
            name = (name or "").strip()
            if name and name != c.display_name and name not in out:
                out.append(name)
        return out

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsDropEnabled
        kind = self.kind(index.row())
        if kind == "cluster":
            return base | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsDragEnabled
        if kind == "unsorted":
            return base | Qt.ItemFlag.ItemIsSelectable
        return base

    def setData(self, index: QModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (role != Qt.ItemDataRole.EditRole or value is None or self._session is None
                or self.kind(index.row()) != "cluster"):
            return False  # None: a view clearing a dragged item (overwrite mode), not a rename
        cid = self._ids[index.row()]
        c = self._session.cluster(cid)
        name = str(value or "").strip()
        if c is None or name == c.display_name:  # confirming the shown (suggested) name changes nothing
            return False
        try:
            self._session.rename(cid, name)
        except Exception as err:
            log.warning("Rename failed: %s", err)
            self.editFailed.emit(str(err))
            return False
        return True

    # -- drag and drop -------------------------------------------------------------------
    def mimeTypes(self) -> list[str]:
        return [mimes.PHOTO_MIME, mimes.CLUSTER_MIME]

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction | Qt.DropAction.CopyAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeData(self, indexes) -> QMimeData | None:
        ids = [self._ids[i.row()] for i in indexes if i.isValid() and self.kind(i.row()) == "cluster"]
        if not ids or self._session is None:
            return None
        return mimes.cluster_mime(self._session.folder, dict.fromkeys(ids))

    def _target(self, row: int, parent: QModelIndex) -> int | None:
        """The row a drop lands on; drops between rows are refused (-1 -> None)."""
        if parent.isValid() and row == -1:
            return parent.row()
        return None

    def canDropMimeData(self, data: QMimeData, action, row: int, column: int, parent: QModelIndex) -> bool:
        return self._plan_drop(data, row, parent) is not None

    def _plan_drop(self, data: QMimeData, row: int, parent: QModelIndex):
        if self._session is None or data is None:
            return None
        target = self._target(row, parent)
        if target is None:
            return None
        kind = self.kind(target)
        folder = self._session.folder
        photos = mimes.photo_ids(data, folder)
        if photos:
            if kind == "new":
                return ("new_cluster", photos, None)
            return ("move", photos, self._ids[target] if kind == "cluster" else None)
        clusters = mimes.cluster_ids(data, folder)
        if clusters:
            if kind == "cluster":
                sources = [c for c in clusters if c != self._ids[target]]
                return ("merge", sources, self._ids[target]) if sources else None
            if kind == "unsorted":
                return ("dissolve", clusters, None)
        return None

    def dropMimeData(self, data: QMimeData, action, row: int, column: int, parent: QModelIndex) -> bool:
        plan = self._plan_drop(data, row, parent)
        if plan is None or action == Qt.DropAction.IgnoreAction:
            return False
        if self.defer_drops:
            QTimer.singleShot(0, lambda: self._apply_drop(*plan))
        else:
            self._apply_drop(*plan)
        return True

    def _apply_drop(self, op: str, ids: list[int], target: int | None) -> None:
        s = self._session
        if s is None:
            return
        try:
            if op == "move":
                s.move(ids, target)
            elif op == "new_cluster":
                s.new_cluster(ids)
            elif op == "merge":
                s.merge([c for c in ids if c in s.cluster_ids()], target)
            elif op == "dissolve":
                for cid in ids:
                    if cid in s.cluster_ids():
                        s.dissolve(cid)
        except Exception as err:
            log.warning("Drop failed: %s", err)
            self.editFailed.emit(str(err))

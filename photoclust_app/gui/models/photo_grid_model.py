"""The photo grid: the photos of the selected cluster(s), one row per photo.

Thumbnails come from a ThumbnailLoader: ``data(DecorationRole)`` answers from its cache or
a placeholder and asks for the real one, which arrives later as a ``dataChanged``. Views ask
only for rows on screen, so only those load. When photos move in or out of the shown
clusters the model removes or appends just those rows, so the view keeps its selection.
"""
from __future__ import annotations

import os
from typing import Any, Iterable

from PySide6.QtCore import QAbstractListModel, QMimeData, QModelIndex, Qt

from photoclust_app.core.editing.session import Session
from photoclust_app.gui.thumbnails import placeholder
from photoclust_app.gui.models import mime as mimes
from photoclust_app.gui.models.session_bound import SessionBound

PhotoIdRole = Qt.ItemDataRole.UserRole + 1
_PHOTO_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
_NO_FLAGS = Qt.ItemFlag.NoItemFlags


class PhotoGridModel(SessionBound, QAbstractListModel):
    def __init__(self, session: Session | None = None, thumbnails=None, parent=None):
        super().__init__(parent)
        self._session: Session | None = None
        self._unsubscribe = None
        self.thumbnails = None
        self._shown: list[int | None] = []   # cluster ids on show; None = Unsorted
        self._ids: list[int] = []
        self._rows: dict[int, int] = {}
        if session is not None:
            self.set_session(session, thumbnails)

    # -- session and what is shown -------------------------------------------------------
    def _reset_rows(self, session: Session | None) -> None:
        self._shown, self._ids, self._rows = [], [], {}

    def shown_clusters(self) -> list[int | None]:
        return list(self._shown)

    def set_clusters(self, cluster_ids: Iterable[int | None]) -> None:
        """Show the photos of these clusters (None: Unsorted), cluster by cluster."""
        shown = list(dict.fromkeys(cluster_ids))
        if shown == self._shown:
            return
        self.beginResetModel()
        self._shown = shown
        self._ids = self._wanted()
        self._rows = {p: r for r, p in enumerate(self._ids)}
        self.endResetModel()

    def _wanted(self) -> list[int]:
        if self._session is None:
            return []
        return [p for cid in self._shown for p in self._session.members(cid)]

    def photo_ids(self) -> list[int]:
        """Every shown photo id in row order (a copy)."""
        return list(self._ids)

    def ids_in_rows(self, first: int, last: int) -> list[int]:
        """The photo ids of rows FIRST..LAST (inclusive)."""
        return self._ids[first:last + 1]

    def row_of(self, photo_id: int) -> int:
        return self._rows.get(photo_id, -1)

    def photo_id(self, index: QModelIndex) -> int | None:
        return self._ids[index.row()] if index.isValid() and index.row() < len(self._ids) else None

    # -- keeping up with the session -----------------------------------------------------
    def _on_event(self, event: str, payload: dict) -> None:
        if event == "reset":
            live = set(self._session.cluster_ids()) | {None}
            self._shown = [c for c in self._shown if c in live]
            self._resync()
        elif event in ("assignments_changed", "photos_added"):   # only the photos named are looked at
            self._resync(payload.get("photo_ids"))
        elif event == "clusters_changed" and payload.get("structure"):
            live = set(self._session.cluster_ids()) | {None}
            if any(c not in live for c in self._shown):
                self._shown = [c for c in self._shown if c in live]
                self._resync()

    def _resync(self, changed: Iterable[int] | None = None) -> None:
        """Remove rows of photos that left the shown clusters, append those that came in.
        With CHANGED (the photos an edit moved) only those are looked at: a move of 1k photos
        costs 1k lookups, not a pass over 100k rows."""
        if self._session is None:
            return
        if changed is None:
            wanted = self._wanted()
            wanted_set = set(wanted)
            gone = [self._rows[p] for p in self._ids if p not in wanted_set]
            new = [p for p in wanted if p not in self._rows]
        else:
            order = {c: i for i, c in enumerate(self._shown)}
            s = self._session
            gone, new = [], []
            for p in dict.fromkeys(changed):
                pos = order.get(s.cluster_of(p)) if s.relpath(p) else None
                row = self._rows.get(p)
                if row is not None and pos is None:
                    gone.append(row)
                elif row is None and pos is not None:
                    new.append((pos, p))
            new = [p for _, p in sorted(new)]   # cluster by cluster, by id, as a full resync
        if gone:
            self._remove_rows(sorted(gone, reverse=True))
        if new:
            first = len(self._ids)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._ids.extend(new)
            self._rows.update((p, first + i) for i, p in enumerate(new))
            self.endInsertRows()

    def _remove_rows(self, rows_desc: list[int]) -> None:
        """Remove these rows (given bottom up) in contiguous runs, so row numbers stay valid."""
        i = 0
        while i < len(rows_desc):
            hi = lo = rows_desc[i]
            while i + 1 < len(rows_desc) and rows_desc[i + 1] == lo - 1:
                i += 1
                lo = rows_desc[i]
            self.beginRemoveRows(QModelIndex(), lo, hi)
            del self._ids[lo:hi + 1]
            self.endRemoveRows()
            i += 1
        self._rows = {p: r for r, p in enumerate(self._ids)}

    def _on_thumbnail(self, photo_id: int) -> None:
        row = self._rows.get(photo_id)
        if row is not None:
            i = self.index(row)
            self.dataChanged.emit(i, i, [Qt.ItemDataRole.DecorationRole])

    # -- data ----------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._ids) or self._session is None:
            return None
        pid = self._ids[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            name = os.path.basename(self._session.relpath(pid))
            return f"\u26a0 {name} (missing)" if self._session.is_missing(pid) else name
        if role == Qt.ItemDataRole.DecorationRole:
            pm = self.thumbnails.pixmap(pid) if self.thumbnails is not None else None
            return pm if pm is not None else placeholder()
        if role == Qt.ItemDataRole.ToolTipRole:
            if self._session.is_missing(pid):  # kept with its cluster: the drive may come back
                return f"{self._session.relpath(pid)}\nMissing: the last scan did not find this file."
            return self._session.relpath(pid)
        if role == PhotoIdRole:
            return pid
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        # Asked once per index by selections (100k times for Ctrl+A): a constant, not enum arithmetic.
        return _PHOTO_FLAGS if index.isValid() else _NO_FLAGS

    # -- drag ----------------------------------------------------------------------------
    def mimeTypes(self) -> list[str]:
        return [mimes.PHOTO_MIME, mimes.URI_LIST]

    def supportedDragActions(self) -> Qt.DropAction:
        # Copy only: a file manager told "move" would take the files out of the library folder.
        return Qt.DropAction.CopyAction

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.IgnoreAction

    def mime_for_rows(self, runs: Iterable[tuple[int, int]]) -> QMimeData | None:
        """The drag payload of rows given as (first, last) runs: a drag of 100k photos never
        builds one QModelIndex per photo."""
        ids: list[int] = []
        for lo, hi in runs:
            ids += self._ids[lo:hi + 1]
        ids = list(dict.fromkeys(ids))
        if not ids or self._session is None:
            return None
        return mimes.photo_mime(self._session.folder, ids, [self._session.photo_path(p) for p in ids])

    def mimeData(self, indexes) -> QMimeData | None:
        ids = list(dict.fromkeys(self._ids[i.row()] for i in indexes if i.isValid() and i.row() < len(self._ids)))
        if not ids or self._session is None:
            return None
        return mimes.photo_mime(self._session.folder, ids, [self._session.photo_path(p) for p in ids])

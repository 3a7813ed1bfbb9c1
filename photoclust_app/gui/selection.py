"""Selection linked three ways: the cluster list, the photo grid and the map.

A mixin of MainWindow (it uses the window's views, models and session). The list picks
what the grid shows; the grid's selection (or else the shown clusters) is highlighted on
the map; photos picked on the map select their clusters in the list and themselves in the
grid. ``_syncing`` stops the echo while one side updates the others.
"""
from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel


class LinkedSelection:
    _syncing = False

    def selected_clusters(self) -> list[int | None]:
        rows = sorted(i.row() for i in self.cluster_view.selectionModel().selectedRows())
        return [self.cluster_model.cluster_id(self.cluster_model.index(r)) for r in rows
                if self.cluster_model.kind(r) != "new"]

    def selected_photos(self) -> list[int]:
        rows = sorted(i.row() for i in self.grid_view.selectionModel().selectedIndexes())
        return [self.grid_model.photo_ids()[r] for r in rows]

    def select_clusters(self, cluster_ids: list[int | None]) -> None:
        sel = _rows_of(self.cluster_model, cluster_ids)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        self.cluster_view.selectionModel().select(sel, flags)
        if not sel.isEmpty():
            self.cluster_view.selectionModel().setCurrentIndex(sel.indexes()[0],
                                                               QItemSelectionModel.SelectionFlag.NoUpdate)
            self.cluster_view.scrollTo(sel.indexes()[0])

    def select_photos(self, photo_ids: list[int]) -> None:
        sel = _rows_of(self.grid_model, photo_ids)
        self.grid_view.selectionModel().select(sel, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if not sel.isEmpty():
            self.grid_view.scrollTo(sel.indexes()[0])

    def _on_cluster_selection(self, *_) -> None:
        self.grid_model.set_clusters(self.selected_clusters())
        self._update_header()
        if not self._syncing:
            self._push_map_selection()
        self.actions.update()

    def _on_grid_selection(self, *_) -> None:
        if not self._syncing:
            self._push_map_selection()
        self.actions.update()

    def _push_map_selection(self) -> None:
        """The map highlights the selected photos, or else every photo of the selected clusters."""
        ids = self.selected_photos() or self.grid_model.photo_ids()
        self.map_view.set_selection(ids)

    def _on_map_selection(self, photo_ids: list) -> None:
        """Photos picked on the map: select their clusters in the list and them in the grid."""
        if self.session is None:
            return
        ids = [int(p) for p in photo_ids]
        self._syncing = True
        try:
            clusters = list(dict.fromkeys(self.session.cluster_of(p) for p in ids))
            order = {c: i for i, c in enumerate(self.session.cluster_ids())}
            clusters.sort(key=lambda c: order.get(c, len(order)))
            self.select_clusters(clusters)
            self.select_photos(ids)
        finally:
            self._syncing = False

    def _update_header(self) -> None:
        if self.session is None:
            return
        shown = self.grid_model.shown_clusters()
        n = self.grid_model.rowCount()
        if not shown:
            text = "Select a cluster on the left, or photos on the map."
        else:
            names = [self.session.cluster(c).display_name if c is not None and self.session.cluster(c)
                     else "Unsorted" for c in shown]
            more = " \u2026" if len(names) > 3 else ""
            plural = "s" if n != 1 else ""
            text = f"{', '.join(names[:3])}{more} \u2014 {n:,} photo{plural}"
        self.grid_header.setText(text)

    def _apply_filter(self, *_) -> None:
        text = self.filter_edit.text().strip().lower()
        m = self.cluster_model
        for row in range(m.rowCount()):
            name = str(m.data(m.index(row)) or "").lower()
            self.cluster_view.setRowHidden(row, bool(text) and m.kind(row) == "cluster" and text not in name)


def _rows_of(model, keys) -> QItemSelection:
    """The rows of MODEL holding KEYS (via its row_of; keys it lacks are skipped)."""
    sel = QItemSelection()
    for key in keys:
        row = model.row_of(key)
        if row >= 0:
            idx = model.index(row)
            sel.select(idx, idx)
    return sel

"""Selection linked three ways: the cluster list, the photo grid and the map.

A mixin of MainWindow (it uses the window's views, models and session). The list picks
what the grid shows; the grid's selection (or else the shown clusters) is highlighted on
the map; photos picked on the map select their clusters in the list and themselves in the
grid. ``_syncing`` stops the echo while one side updates the others.

Selections are kept as row ranges, never as one index per photo: at 100k photos a list of
QModelIndex (``selectedIndexes``) or one range per photo (which Qt then compares pairwise
with the old selection) costs seconds. ``selected_photos`` slices the grid's ids by range;
``select_photos`` looks rows up in the grid's id -> row dict and selects contiguous runs.
"""
from __future__ import annotations

import contextlib

from PySide6.QtCore import QItemSelection, QItemSelectionModel

# Qt compares an old and a new selection range by range (O(old x new)); past this many
# ranges on both sides, clearing first is cheaper.
_FRAGMENTED = 64


class LinkedSelection:
    _syncing = False
    _quiet = False

    def selected_clusters(self) -> list[int | None]:
        rows = sorted(i.row() for i in self.cluster_view.selectionModel().selectedRows())
        return [self.cluster_model.cluster_id(self.cluster_model.index(r)) for r in rows
                if self.cluster_model.kind(r) != "new"]

    def selected_photos(self) -> list[int]:
        """The selected photos in grid order."""
        out: list[int] = []
        for lo, hi in _row_runs(self.grid_view.selectionModel().selection()):
            out += self.grid_model.ids_in_rows(lo, hi)
        return out

    def has_selected_photos(self) -> bool:
        return self.grid_view.selectionModel().hasSelection()

    def select_clusters(self, cluster_ids: list[int | None]) -> None:
        sel = _rows_of(self.cluster_model, cluster_ids)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        self.cluster_view.selectionModel().select(sel, flags)
        if not sel.isEmpty():
            first = sel[0].topLeft()
            self.cluster_view.selectionModel().setCurrentIndex(first, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.cluster_view.scrollTo(first)

    def select_photos(self, photo_ids: list[int]) -> None:
        sel = _rows_of(self.grid_model, photo_ids)
        model = self.grid_view.selectionModel()
        if len(sel) > _FRAGMENTED and len(model.selection()) > _FRAGMENTED:
            with self._quietly():   # one announcement below, not two
                model.clearSelection()
        model.select(sel, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if not sel.isEmpty():
            self.grid_view.scrollTo(sel[0].topLeft())

    @contextlib.contextmanager
    def _quietly(self):
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    def _on_cluster_selection(self, *_) -> None:
        self.grid_model.set_clusters(self.selected_clusters())
        self._update_header()
        if not self._syncing:
            self._push_map_selection()
        self.actions.update()

    def _on_grid_selection(self, *_) -> None:
        if self._quiet:
            return
        if not self._syncing:
            self._push_map_selection()
        self.actions.update()

    def _push_map_selection(self) -> None:
        """The map highlights the selected photos, or else every photo of the selected clusters."""
        picked = self.selected_photos()
        live = getattr(self, "live", None)
        if not picked and live is not None and live.provisional:
            self.map_view.set_selection([])   # a first index's map: all Unsorted, a highlight of all hides it
            return
        self.map_view.set_selection(picked or self.grid_model.photo_ids())

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

    def _update_header(self, *, recount: bool = False) -> None:
        """The grid's title: its clusters, their dates and the photo count. RECOUNT (photos
        just indexed joined it): only the count is new, the dates stand until the next full
        update, so a live batch costs no pass over every shown photo."""
        if self.session is None:
            return
        if getattr(self.grid_model, "results_title", ""):   # a search's results (gui/search_results.py)
            self.grid_header.setText(self.grid_model.results_title)
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
            search = getattr(self, "search", None)   # the shown photos' dates (gui/search_results.py)
            if recount and getattr(self, "_header_dates", None) is not None:
                dates = self._header_dates
            else:
                dates = search.date_range(self.grid_model.photo_ids()) if search is not None and n else ""
                dates = f" \u00b7 {dates}" if dates else ""
                self._header_dates = dates
            text = f"{', '.join(names[:3])}{more}{dates} \u2014 {n:,} photo{plural}"
        self.grid_header.setText(text)

    def _apply_filter(self, *_) -> None:
        text = self.filter_edit.text().strip().lower()
        m = self.cluster_model
        for row in range(m.rowCount()):
            name = str(m.data(m.index(row)) or "").lower()
            self.cluster_view.setRowHidden(row, bool(text) and m.kind(row) == "cluster" and text not in name)


def _rows_of(model, keys) -> QItemSelection:
    """The rows of MODEL holding KEYS (via its row_of; keys it lacks are skipped), as one
    range per run of consecutive rows."""
    rows = sorted({r for r in map(model.row_of, keys) if r >= 0})
    sel = QItemSelection()
    i = 0
    while i < len(rows):
        j = i
        while j + 1 < len(rows) and rows[j + 1] == rows[j] + 1:
            j += 1
        sel.select(model.index(rows[i]), model.index(rows[j]))
        i = j + 1
    return sel


def _row_runs(selection: QItemSelection) -> list[tuple[int, int]]:
    """(first, last) row of each run of selected rows, in order, overlaps merged."""
    spans = sorted((r.top(), r.bottom()) for r in selection if r.isValid())
    runs: list[tuple[int, int]] = []
    for lo, hi in spans:
        if runs and lo <= runs[-1][1] + 1:
            if hi > runs[-1][1]:
                runs[-1] = (runs[-1][0], hi)
        else:
            runs.append((lo, hi))
    return runs

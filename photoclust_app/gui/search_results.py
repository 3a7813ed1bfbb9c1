"""Search in the window: a grid model that can show a temporary result set, and the
controller that runs the core's Searcher for the search bar and "More like this".

The result set replaces the grid's rows until the search box is cleared (Escape) or a
cluster is picked in the list; the map highlights the results (the window highlights the
grid's rows when nothing is selected). Results are ordinary grid rows: selectable,
draggable onto a cluster, and "New Cluster from Results" makes them one cluster.
"""
from __future__ import annotations

import logging
from typing import Iterable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence

from photoclust_app.core.errors import PhotoclustError
from photoclust_app.gui.models.photo_grid_model import PhotoGridModel

log = logging.getLogger(__name__)

RESULT_LIMIT = 500  # a result set larger than this is a filter, not a search: the best 500
SIMILAR_LIMIT = 100  # more like this has no threshold (everything is somewhat alike): the nearest 100


class ResultGridModel(PhotoGridModel):
    """PhotoGridModel plus a result mode: the rows are the given photos, in the given order."""

    resultsLeft = Signal()   # a cluster was picked while results showed

    def __init__(self, *args, **kw):
        self._results: list[int] | None = None
        self._order = None   # photo id -> sort key (by date), or None: cluster by cluster, by id
        self.results_title = ""
        self.captions: dict[int, str] = {}   # photo id -> the text under its thumbnail, while results show
        super().__init__(*args, **kw)

    def set_order(self, key) -> None:
        """Sort the rows by KEY(photo id) (None: the usual order). Results keep their ranking."""
        self.beginResetModel()
        self._order = key
        self._ids = self._wanted()
        self._rows = {p: r for r, p in enumerate(self._ids)}
        self.endResetModel()

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if self.captions and role == Qt.ItemDataRole.DisplayRole:
            caption = self.captions.get(self.photo_id(index))
            if caption is not None:
                return caption
        return super().data(index, role)

    @property
    def showing_results(self) -> bool:
        return self._results is not None

    def show_results(self, photo_ids: Iterable[int], title: str, captions: dict[int, str] | None = None) -> None:
        """Show PHOTO_IDS as the grid's rows; CAPTIONS (photo id -> text) replace their file
        names under the thumbnails (the To-review list shows where each would go)."""
        self.beginResetModel()
        self._results = list(dict.fromkeys(int(p) for p in photo_ids))
        self.results_title = title
        self.captions = dict(captions or {})
        self._ids = self._wanted()
        self._rows = {p: r for r, p in enumerate(self._ids)}
        self.endResetModel()

    def clear_results(self) -> None:
        if self._results is None:
            return
        self.beginResetModel()
        self._results, self.results_title, self.captions = None, "", {}
        self._ids = self._wanted()
        self._rows = {p: r for r, p in enumerate(self._ids)}
        self.endResetModel()

    def set_clusters(self, cluster_ids) -> None:
        if self._results is not None:
            shown = list(dict.fromkeys(cluster_ids))
            if shown != self._shown and shown:
                self._shown = shown
                self.clear_results()
                self.resultsLeft.emit()
                return
            self._shown = shown
            return
        super().set_clusters(cluster_ids)

    def _wanted(self) -> list[int]:
        if self._results is None:
            ids = super()._wanted()
            return sorted(ids, key=self._order) if self._order is not None else ids
        s = self._session
        return [p for p in self._results if s is not None and s.relpath(p)]

    def _resync(self, changed=None) -> None:
        if self._results is None:
            return super()._resync(changed)
        if changed is None and self._session is not None:   # photos may have left the library
            gone = [self._rows[p] for p in self._ids if not self._session.relpath(p)]
            if gone:
                self._remove_rows(sorted(gone, reverse=True))

    def _reset_rows(self, session) -> None:
        super()._reset_rows(session)
        self._results, self.results_title, self.captions = None, "", {}


class SearchController(QObject):
    """Runs searches for the window; keeps one Searcher per library state."""

    notice = Signal(str)     # a sentence under the search box ("" clears it)

    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self._searcher = None
        self._generation = 0      # bumped when the library state changes: older builds are dropped
        self._building = False
        self._pending: str | None = None
        self.last_query = ""
        self.more_like_this = QAction("More &Like This", win)
        self.more_like_this.setShortcut(QKeySequence("Ctrl+L"))
        self.more_like_this.setStatusTip("Show the photos most like the selected ones")
        self.more_like_this.triggered.connect(lambda checked=False: self.similar_to_selection())
        win.addAction(self.more_like_this)
        self.new_cluster = QAction("New Cluster from &Results", win)
        self.new_cluster.triggered.connect(lambda checked=False: self.cluster_from_results())
        win.grid_model.resultsLeft.connect(self._left)
        win.stateInstalled.connect(self.invalidate)
        self.show_events = QAction("&Events\u2026", win)
        self.show_events.setStatusTip("Split the shown photos (or the library) where a few hours pass without a photo")
        self.show_events.triggered.connect(lambda checked=False: self.open_events())
        self.group_by_colour = QAction("Group by &Colour\u2026", win)
        self.group_by_colour.triggered.connect(lambda checked=False: self.open_colour_groups())
        self.sort_by_date = QAction("Sort by &Date", win)
        self.sort_by_date.setCheckable(True)
        self.sort_by_date.setStatusTip("Show the grid oldest first (capture time, else file time)")
        self.sort_by_date.toggled.connect(self._sort_toggled)

    # -- the core's searcher ---------------------------------------------------------------
    def invalidate(self, *_) -> None:
        self._searcher = None
        self._days = None
        self._generation += 1
        self._building = False

    def prepare(self) -> None:
        """Build the Searcher in a thread (on its own read connection): at 100k photos reading
        the vectors takes a second or two, which the GUI thread should not spend. Called on
        the first keystroke; the debounced search then waits for it."""
        lib = self.win.library
        if self._searcher is not None or self._building or lib is None:
            return
        import threading

        from photoclust_app.core.search import Searcher
        from photoclust_app.gui.tasks.gui_thread import call_in_gui, prepare

        prepare()
        self._building = True
        generation = self._generation

        def work():
            try:
                reader = lib.reader()
                try:
                    result = Searcher(reader)
                finally:
                    reader.close()
                _warm_text_tower(result)
            except Exception as err:   # handed over; the next search builds in place and says why
                result = err
            call_in_gui(self._built, generation, result)

        threading.Thread(target=work, daemon=True, name="search-index").start()

    def _built(self, generation: int, result) -> None:
        if generation != self._generation:
            return   # the library changed meanwhile
        self._building = False
        if isinstance(result, Exception):
            log.info("Search index not built in the background: %s", result)
        else:
            self._searcher = result
        if self._pending is not None:
            text, self._pending = self._pending, None
            self.search(text)

    def date_range(self, photo_ids) -> str:
        """'2021-07-14 – 2021-08-02' for these photos (capture day, else file day); cheap:
        one read of the photos table per library state, no vectors."""
        from photoclust_app.core.search.dates import date_range

        self._read_dates()
        return date_range([self._days[p] for p in photo_ids if p in self._days])

    def _read_dates(self) -> None:
        from photoclust_app.core.search.dates import photo_time

        if getattr(self, "_days", None) is None:
            lib = self.win.library
            times = {pid: photo_time(t, m) for pid, (t, _, m) in lib.capture_times().items()} if lib else {}
            self._times = {p: v[0] for p, v in times.items()}
            self._days = {p: v[1] for p, v in times.items()}

    def events(self, photo_ids, gap_hours: float):
        """Events (core/search/dates.Event) among PHOTO_IDS, split at gaps over GAP_HOURS."""
        from photoclust_app.core.search.dates import events

        self._read_dates()
        return events({p: self._times[p] for p in photo_ids if p in self._times}, gap_hours)

    def show_event(self, event) -> None:
        from photoclust_app.core.search.query import Hit, SearchResult

        hits = [Hit(p, self.win.session.relpath(p), 1.0) for p in event.photo_ids]
        self.last_query = ""
        self._show(SearchResult(hits, "event"), f"Event {event.label}")

    def searcher(self):
        if self._searcher is None and self.win.library is not None:
            from photoclust_app.core.search import Searcher

            self._searcher = Searcher(self.win.library)
        return self._searcher

    @property
    def offline_limited(self) -> bool:
        lib = self.win.library
        return lib is not None and lib.model == "lite"

    def open_events(self):
        from photoclust_app.gui.events_dialog import EventsDialog

        if self.win.session is None:
            return None
        dialog = EventsDialog(self, self.win)
        dialog.show()
        self._events_dialog = dialog
        return dialog

    def open_colour_groups(self):
        from photoclust_app.gui.colour_groups import ColourGroupsDialog

        if self.win.session is None:
            return None
        dialog = ColourGroupsDialog(self, self.win)
        dialog.show()
        self._colour_dialog = dialog
        return dialog

    def _sort_toggled(self, on: bool) -> None:
        s = self.searcher() if on else None
        if on and s is None:
            return
        times = s.times if s is not None else {}
        self.win.grid_model.set_order((lambda p: (times.get(p, float("inf")), p)) if on else None)
        self.win._push_map_selection()

    # -- queries -------------------------------------------------------------------------
    def search(self, text: str) -> bool:
        """Show the photos matching TEXT; an empty TEXT ends the search."""
        text = (text or "").strip()
        if not text:
            self._pending = None
            self.clear()
            return False
        if self._searcher is None and self._building:
            self._pending = text   # searched as soon as the index is read
            self.notice.emit("Preparing search\u2026")
            return True
        s = self.searcher()
        if s is None:
            return False
        try:
            result = s.search(text, limit=RESULT_LIMIT)
        except PhotoclustError as err:
            self.notice.emit(str(err))
            return False
        self.last_query = text
        self._show(result, f"Search \u201c{text}\u201d")
        return True

    def similar_to_selection(self) -> bool:
        ids = self.win.selected_photos()
        if not ids:
            self.win.tell("Select one or more photos first: More Like This finds photos like them.")
            return False
        return self.similar(ids)

    def similar(self, photo_ids: list[int]) -> bool:
        s = self.searcher()
        if s is None:
            return False
        try:
            result = s.similar(photo_ids, limit=SIMILAR_LIMIT)
        except PhotoclustError as err:
            self.win.tell(str(err), error=True)
            return False
        what = self.win.session.relpath(photo_ids[0]).rsplit("/", 1)[-1] if len(photo_ids) == 1 \
            else f"{len(photo_ids)} photos"
        self.last_query = ""
        self._show(result, f"More like {what}", keep_first=photo_ids)
        return True

    def _show(self, result, title: str, keep_first: list[int] | None = None) -> None:
        ids = list(keep_first or []) + result.photo_ids
        n = len(result.hits)
        self.win.grid_model.show_results(ids, f"{title} \u2014 {n:,} photo{'s' if n != 1 else ''}")
        self.win.grid_view.clearSelection()
        self.win._update_header()
        self.win._push_map_selection()
        self.notice.emit(result.notice or ("" if n else "No matching photos."))
        self.win.actions.update()

    def clear(self) -> None:
        self.last_query = ""
        self.notice.emit("")
        if self.win.grid_model.showing_results:
            self.win.grid_model.clear_results()
            self.win._update_header()
            self.win._push_map_selection()

    def _left(self) -> None:
        self.last_query = ""
        self.notice.emit("")
        bar = getattr(self.win, "search_bar", None)
        if bar is not None:
            bar.clear_quietly()

    def cluster_from_results(self) -> int | None:
        """One action: every photo shown as a result becomes a new cluster, named after the query."""
        w = self.win
        if w.session is None or w.session.readonly or not w.grid_model.showing_results:
            return None
        ids = w.grid_model.photo_ids()
        if not ids:
            return None
        cid = w.session.new_cluster(ids, self.last_query)
        w.tell(f"New cluster of {len(ids):,} photos; Ctrl+Z undoes it.")
        return cid


def install_search(win) -> SearchController:
    """Put the search bar above the grid and wire it, the More Like This action (Ctrl+L) and
    Ctrl+K (focus the box) into WIN."""
    from PySide6.QtGui import QShortcut

    from photoclust_app.gui.search_bar import SearchBar

    bar = SearchBar()
    win.search_bar = bar
    centre = win.grid_view.parentWidget()
    centre.layout().insertWidget(0, bar)
    ctl = SearchController(win)
    bar.searchRequested.connect(ctl.search)
    bar.edit.textEdited.connect(lambda *_: ctl.prepare())
    ctl.notice.connect(bar.show_notice)
    bar.results_button.clicked.connect(lambda: ctl.cluster_from_results())
    win.grid_model.modelReset.connect(lambda: bar.set_results_shown(win.grid_model.showing_results))
    win.stateInstalled.connect(lambda: bar.set_offline_limited(ctl.offline_limited))
    focus = QShortcut(QKeySequence("Ctrl+K"), win)
    focus.activated.connect(bar.focus)
    win.grid_view.selectionModel().selectionChanged.connect(
        lambda *_: ctl.more_like_this.setEnabled(win.has_selected_photos()))
    ctl.more_like_this.setEnabled(False)
    for a in win.menuBar().actions():   # View menu: after what actions.py put there
        if a.menu() is not None and a.text().replace("&", "") == "View":
            a.menu().addSeparator()
            a.menu().addAction(ctl.more_like_this)
            a.menu().addAction(ctl.sort_by_date)
            a.menu().addAction(ctl.show_events)
            a.menu().addAction(ctl.group_by_colour)
    return ctl


def _warm_text_tower(searcher) -> None:
    """Load a CLIP model and its text tower (onnxruntime: export or cache, verified) in the
    search index's thread, not on the first query: ~0.7-1 s on 2 cores. Never fatal: the
    query then says what went wrong."""
    try:
        if searcher.offline_limited:
            return
        prepare = getattr(searcher.embedder(), "prepare_text_tower", None)
        if prepare is not None:
            prepare()
    except Exception:
        log.debug("text tower not warmed", exc_info=True)

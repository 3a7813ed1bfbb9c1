"""The search box, More Like This and colour swatches in the real window (offscreen)."""
from PySide6.QtCore import QItemSelectionModel, Qt

from conftest import wait_idle


def _search(win, qtbot, text):
    win.search_bar.notice.setVisible(False)
    win.search_bar.edit.setText(text)
    qtbot.waitUntil(lambda: win.grid_header.text().startswith(f"Search \u201c{text}\u201d")
                    or win.search_bar.notice.isVisible(), timeout=5000)


def _rels(win):
    return [win.session.relpath(p) for p in win.grid_model.photo_ids()]


def test_filter_results_replace_the_grid_light_up_the_map_and_escape_clears(opened, qtbot):
    win = opened
    assert win.grid_model.rowCount() == 12
    _search(win, qtbot, "reds/")
    assert win.grid_model.showing_results
    assert len(_rels(win)) == 14 and all(r.startswith("reds/") for r in _rels(win))
    assert win.grid_header.text().startswith("Search \u201creds/\u201d \u2014 14 photos")
    assert sorted(win.map_view.selected_ids()) == sorted(win.grid_model.photo_ids())
    assert win.search_bar.results_button.isVisible()
    # results are grid rows: selectable and draggable
    win.grid_view.selectionModel().select(win.grid_model.index(0), QItemSelectionModel.SelectionFlag.Select)
    assert win.selected_photos() == win.grid_model.photo_ids()[:1]
    assert win.grid_model.mimeData([win.grid_model.index(0)]) is not None
    qtbot.keyClick(win.search_bar.edit, Qt.Key.Key_Escape)
    assert win.search_bar.edit.text() == "" and not win.grid_model.showing_results
    assert win.grid_model.rowCount() == 12 and not win.grid_header.text().startswith("Search")


def test_picking_a_cluster_ends_the_search_and_the_cluster_filter_still_works(opened, qtbot):
    win = opened
    _search(win, qtbot, "r0")
    assert _rels(win) and all("/r0" in r for r in _rels(win))
    green = win.session.cluster_ids()[1]
    win.select_clusters([green])
    assert not win.grid_model.showing_results and win.search_bar.edit.text() == ""
    assert win.grid_model.shown_clusters() == [green]
    win.filter_edit.setText("blue")
    hidden = [win.cluster_view.isRowHidden(r) for r in range(3)]
    assert hidden == [True, True, False]


def test_text_the_model_cannot_read_is_a_sentence(opened, qtbot):
    win = opened
    _search(win, qtbot, "dog on a beach")
    assert win.grid_model.photo_ids() == []   # no file is named so either
    assert "hand" in win.search_bar.notice.text() and "file or folder name" in win.search_bar.notice.text()
    _search(win, qtbot, "r00")
    assert _rels(win) == ["reds/r00.jpg"]


def test_more_like_this_on_a_photo_and_results_become_a_cluster(opened, qtbot):
    win = opened
    first = win.grid_model.photo_ids()[0]
    win.select_photos([first])
    assert win.search.more_like_this.isEnabled()
    win.actions.grid_context_menu(win.grid_view.mapToGlobal(win.grid_view.rect().center()))
    assert win.search.more_like_this in win.actions._menu.actions()
    win.actions._menu.close()
    win.search.more_like_this.trigger()
    ids = win.grid_model.photo_ids()
    assert ids[0] == first and len(ids) == 42  # all of them: fewer than the limit
    group = win.session.relpath(first).split("/")[0]
    assert all(win.session.relpath(p).startswith(group) for p in ids[1:14])  # its own group first
    assert win.grid_header.text().startswith("More like r00.jpg")
    n_before = len(win.session.cluster_ids())
    _search(win, qtbot, "greens/")
    cid = win.search.cluster_from_results()
    assert len(win.session.cluster_ids()) == n_before + 1
    assert sorted(win.session.members(cid)) == sorted(win.grid_model.photo_ids())
    assert win.session.cluster(cid).display_name == "greens/"
    win.session.undo()
    assert len(win.session.cluster_ids()) == n_before


def test_colour_swatches_search_by_colour(make_window, built_folder, qtbot):
    from photoclust_app.core.ingest.colour_backfill import backfill_colours
    from photoclust_app.core.store.library import Library

    with Library.open(built_folder) as lib:   # as the next index would, from the thumbnails
        backfill_colours(lib)
    win = make_window()
    assert win.open_folder(built_folder, index=False)
    wait_idle(qtbot, win)
    win.search_bar.swatches["blue"].click()
    qtbot.waitUntil(lambda: win.grid_model.showing_results, timeout=5000)
    assert win.search_bar.edit.text() == "colour:blue"
    assert all(r.startswith("blues/") for r in _rels(win)[:10])
    win.search_bar.swatches["red"].click()
    qtbot.waitUntil(lambda: _rels(win) and _rels(win)[0].startswith("reds/"), timeout=5000)


def test_sort_by_date_orders_the_grid_by_capture_or_file_time(opened):
    win = opened
    ids = win.grid_model.photo_ids()
    searcher = win.search.searcher()
    for k, pid in enumerate(ids):   # dates in reverse id order (what the library would say)
        searcher.times[pid] = 1_600_000_000 + (len(ids) - k) * 3600
    win.search.sort_by_date.setChecked(True)
    assert win.grid_model.photo_ids() == ids[::-1]
    win.search.sort_by_date.setChecked(False)
    assert win.grid_model.photo_ids() == ids
    assert win.search.sort_by_date in [a for m in win.menuBar().actions() if m.menu() for a in m.menu().actions()]


def test_the_header_shows_the_clusters_date_range(opened):
    win = opened
    ids = win.grid_model.photo_ids()
    day = win.search.date_range(ids[:1])
    assert len(day) == 10 and f"red things \u00b7 {day}" in win.grid_header.text()  # from the library
    win.search._days = {p: "2021-07-14" for p in ids}
    win.search._days[ids[5]] = "2021-08-02"
    win._update_header()
    assert win.grid_header.text() == "red things \u00b7 2021-07-14 \u2013 2021-08-02 \u2014 12 photos"


def test_events_split_the_shown_photos_and_show_one_in_the_grid(opened):
    win = opened
    ids = win.grid_model.photo_ids()
    win.search._read_dates()
    for k, p in enumerate(ids):   # two outings: six photos a minute apart, then six a day later
        win.search._times[p] = 1_600_000_000 + (k % 6) * 60 + (k // 6) * 86400
    dialog = win.search.open_events()
    assert not dialog.whole.isChecked() and [len(e.photo_ids) for e in dialog.found] == [6, 6]
    dialog.gap.setValue(30.0)
    assert [len(e.photo_ids) for e in dialog.found] == [12]
    dialog.gap.setValue(4.0)
    dialog._picked(dialog.list.item(1))
    assert win.grid_model.showing_results and win.grid_model.photo_ids() == ids[6:]
    assert win.grid_header.text().startswith("Event ")
    dialog.close()


def test_typing_reads_the_index_in_the_background_then_searches(opened, qtbot):
    win = opened
    win.search.invalidate()
    qtbot.keyClicks(win.search_bar.edit, "blues/")
    qtbot.waitUntil(lambda: win.grid_header.text().startswith("Search \u201cblues/\u201d"), timeout=10000)
    assert len(win.grid_model.photo_ids()) == 14 and win.search._searcher is not None
    assert not win.search._building


def test_group_by_colour_lists_dominant_colours_and_shows_a_group(make_window, built_folder, qtbot):
    from photoclust_app.core.ingest.colour_backfill import backfill_colours
    from photoclust_app.core.store.library import Library

    with Library.open(built_folder) as lib:
        backfill_colours(lib)
    win = make_window()
    assert win.open_folder(built_folder, index=False)
    wait_idle(qtbot, win)
    dialog = win.search.open_colour_groups()
    assert not dialog.whole.isChecked() and sum(len(h) for h in dialog.groups.values()) == 12
    dialog.whole.setChecked(True)
    groups = dialog.groups
    assert sum(len(h) for h in groups.values()) == 42
    for folder, colour in (("reds/", "red"), ("blues/", "blue")):   # each group's own colour wins
        assert colour in groups and all(h.relpath.startswith(folder) for h in groups[colour])
    row = list(groups).index("blue")
    dialog._picked(dialog.list.item(row))
    assert win.grid_header.text().startswith("Mostly blue") and all(r.startswith("blues/") for r in _rels(win))
    dialog.close()


def test_the_result_grid_model_passes_the_model_tester(opened, qtbot, qtmodeltester):
    win = opened
    _search(win, qtbot, "greens/")
    qtmodeltester.check(win.grid_model, force_py=True)   # it keeps watching the signals from here
    win.search.clear()
    _search(win, qtbot, "r0")
    win.select_clusters([win.session.cluster_ids()[1]])  # leaves the results
    assert win.grid_model.rowCount() == 12


def test_building_the_search_index_warms_a_clip_text_tower_and_never_fails():
    """The first text query must not pay for loading CLIP's text tower: the index's thread
    prepares it; the fixed-vocabulary model has none, and a failure is left for the query."""
    from photoclust_app.gui.search_results import _warm_text_tower

    class Emb:
        calls = 0

        def prepare_text_tower(self):
            Emb.calls += 1
            return "onnxruntime"

    class Searcher:
        def __init__(self, limited, emb):
            self.offline_limited, self._emb = limited, emb

        def embedder(self):
            if isinstance(self._emb, Exception):
                raise self._emb
            return self._emb

    _warm_text_tower(Searcher(False, Emb()))
    assert Emb.calls == 1
    _warm_text_tower(Searcher(True, Emb()))
    assert Emb.calls == 1
    _warm_text_tower(Searcher(False, RuntimeError("no weights offline")))  # no exception escapes

"""Issue 10 in the window: corrections shown and cleared, suggestions, To review, split by example."""
from PySide6.QtCore import QItemSelectionModel, Qt

from conftest import wait_idle
from photoclust_app.gui.models.cluster_list_model import CorrectionsRole


def _row(win, cid):
    return win.cluster_model.index(win.cluster_model.row_of(cid))


def test_a_row_shows_its_corrections_and_clear_corrections_forgets_them_undoably(opened):
    win = opened
    s = win.session
    red, green = s.cluster_ids()[:2]
    greens = s.members(green)[:2]
    s.move(greens, red)   # two placed by hand in red, kept out of green
    assert _row(win, red).data(CorrectionsRole) == (2, 0)
    assert _row(win, green).data(CorrectionsRole) == (0, 2)
    assert "2 placed by hand" in _row(win, red).data(Qt.ItemDataRole.ToolTipRole)
    s.reject(red, s.members(None)[:1])   # a reject moves nothing, the row follows it all the same
    assert _row(win, red).data(CorrectionsRole) == (2, 1)
    # the context menu offers it, with the counts
    rect = win.cluster_view.visualRect(_row(win, red))
    win.actions.cluster_context_menu(rect.center())
    clear = [a for a in win.actions._menu.actions() if a.text().startswith("Clear Corrections")]
    assert clear and clear[0].isEnabled() and "2 placed by hand \u00b7 1 kept out" in clear[0].text()
    win.actions._menu.close()
    clear[0].trigger()
    assert _row(win, red).data(CorrectionsRole) == (0, 0)
    assert s.members(red)[-2:] == sorted(greens) or set(greens) <= set(s.members(red))   # the photos stay
    win.actions.undo.trigger()
    assert _row(win, red).data(CorrectionsRole) == (2, 1)


def test_clear_all_corrections_asks_first(opened):
    win = opened
    s = win.session
    red, green = s.cluster_ids()[:2]
    s.move(s.members(green)[:3], red)
    asked = []
    win.corrections.ask_clear_all = lambda placed, kept: asked.append((placed, kept)) or False
    assert win.corrections.clear_everything() == 0 and asked == [(3, 3)]
    assert _row(win, red).data(CorrectionsRole) == (3, 0)
    win.corrections.ask_clear_all = lambda placed, kept: True
    win.corrections.clear_all.trigger()
    assert all(_row(win, c).data(CorrectionsRole) == (0, 0) for c in s.cluster_ids())
    win.actions.undo.trigger()
    assert _row(win, green).data(CorrectionsRole) == (0, 3)


def _loosen(win, cluster_id, n=4):
    """Take N members out of a cluster as a clustering would (not by hand): photos that look
    like it, waiting in Unsorted (the hand-made library has none that score high enough)."""
    ids = win.session.members(cluster_id)[:n]
    win.library.assign(ids, None, manual=False)
    win.session.reload()
    return ids


def _suggested(win, qtbot):
    sg = win.suggestions
    qtbot.waitUntil(lambda: not sg.busy(), timeout=10000)
    return [p for p, _ in sg.found]


def test_suggestions_show_in_the_grid_reject_keeps_out_and_accept_all_moves_them_in(opened, qtbot):
    win = opened
    s, sg = win.session, win.suggestions
    red = s.cluster_ids()[0]
    _loosen(win, red)
    win.select_clusters([red])
    found = _suggested(win, qtbot)
    loose_reds = [p for p in s.members(None) if s.relpath(p).startswith("reds/")]
    assert found and set(loose_reds) <= set(found) and not set(found) & set(s.members(red))
    assert sg.bar.isVisible() and f"{len(found)}</b> more photo" in sg.bar.label.text()
    assert "red things" in sg.bar.label.text()
    sg.bar.show_button.click()
    assert win.grid_model.showing_results and win.grid_model.photo_ids() == found
    assert win.grid_header.text().startswith("Suggestions for \u201cred things\u201d")
    assert sg.bar.accept_all.isVisible() and not sg.bar.show_button.isVisible()
    # Not this one: the first is kept out of red, stays where it was, and leaves the list
    first = found[0]
    where = s.cluster_of(first)
    win.select_photos([first])
    qtbot.keyClick(win.grid_view, Qt.Key.Key_Delete)
    assert s.corrections(red) == (0, 1) and s.cluster_of(first) == where
    assert first not in win.grid_model.photo_ids()
    after = _suggested(win, qtbot)
    assert first not in after and win.grid_model.photo_ids() == after   # the fresh ranking replaced the rows
    # Accept All: every suggestion is placed in red by hand
    sg.bar.accept_all.click()
    assert set(after) <= set(s.members(red)) and s.corrections(red) == (len(after), 1)
    _suggested(win, qtbot)
    assert first not in win.grid_model.photo_ids()
    win.actions.undo.trigger()
    assert not set(after) & set(s.members(red))
    sg.bar.done.click()
    assert not win.grid_model.showing_results and win.grid_model.shown_clusters() == [red]


def test_accept_selected_with_enter_and_picking_a_cluster_ends_suggestions(opened, qtbot):
    win = opened
    s, sg = win.session, win.suggestions
    red, green = s.cluster_ids()[:2]
    _loosen(win, red)
    win.select_clusters([red])
    found = _suggested(win, qtbot)
    sg.show(red)
    win.select_photos(found[:1])
    qtbot.keyClick(win.grid_view, Qt.Key.Key_Return)
    assert s.cluster_of(found[0]) == red and s.corrections(red)[0] == 1
    assert found[0] not in win.grid_model.photo_ids()
    win.select_clusters([green])
    assert sg.shown_for is None and not win.grid_model.showing_results
    assert not sg.bar.accept_all.isVisible()


def _waiting(win, rows):
    """New photos placed with low confidence: ROWS of (photo, cluster or None, confidence)."""
    win.library.add_review(rows)
    win.session.reload()


def test_to_review_one_key_per_photo_and_the_next_is_selected(opened, qtbot):
    win = opened
    s, rv = win.session, win.review
    assert not rv.button.isVisible()
    red, green, blue = s.cluster_ids()
    loose = s.members(None)   # r12 r13 g12 g13 b12 b13
    _waiting(win, [(loose[0], red, 0.2), (loose[1], red, 0.3), (loose[2], green, 0.4), (loose[4], None, 0.5)])
    assert rv.button.isVisible() and rv.button.text() == "To review (4)"
    rv.button.click()
    assert win.grid_model.showing_results and win.grid_model.photo_ids() == [loose[0], loose[1], loose[2], loose[4]]
    idx0 = win.grid_model.index(0)
    assert win.grid_model.data(idx0) == "\u2192 red things (20%)"
    assert win.grid_model.data(win.grid_model.index(3)) == "\u2192 no cluster"
    assert win.selected_photos() == [loose[0]]
    qtbot.keyClick(win.grid_view, Qt.Key.Key_Return)   # accept: into red, by hand
    assert s.cluster_of(loose[0]) == red and s.corrections(red)[0] == 1
    assert rv.button.text() == "To review (3)" and win.selected_photos() == [loose[1]]
    assert win.statusBar().currentMessage().startswith("1 photo put into the cluster suggested; 3 left")
    qtbot.keyClick(win.grid_view, Qt.Key.Key_U)   # leave it Unsorted
    assert s.cluster_of(loose[1]) is None and win.selected_photos() == [loose[2]]
    assert [p for p, _, _ in s.review_items()] == [loose[2], loose[4]]
    qtbot.keyClick(win.grid_view, Qt.Key.Key_3)   # the list's third cluster instead of green
    assert s.cluster_of(loose[2]) == blue and win.selected_photos() == [loose[4]]
    qtbot.keyClick(win.grid_view, Qt.Key.Key_A)   # no cluster to accept into: a sentence, nothing moves
    assert s.cluster_of(loose[4]) is None and "No cluster to suggest" in win.statusBar().currentMessage()
    win.actions.undo.trigger()   # blue again -> back in the list
    assert rv.button.text() == "To review (2)" and loose[2] in win.grid_model.photo_ids()
    qtbot.keyClick(win.grid_view, Qt.Key.Key_Delete)
    qtbot.keyClick(win.grid_view, Qt.Key.Key_Delete)
    assert s.review_items() == [] and not win.grid_model.photo_ids()
    win.select_clusters([green])
    assert not rv.showing and not rv.button.isVisible() and win.grid_model.shown_clusters() == [green]


TASK_TIMEOUT_MS = 120000


def test_split_by_example_previews_then_applies_that_division_and_undo_restores(opened, qtbot):
    from photoclust_app.gui.split_dialog import open_split_dialog

    win = opened
    s = win.session
    red = s.cluster_ids()[0]
    members = s.members(red)   # two tight looks, alternating by id
    dlg = open_split_dialog(win, red)
    assert dlg.model.ids == members
    dlg.pick(0, members[:1])
    qtbot.waitUntil(lambda: not dlg.busy(), timeout=10000)
    assert "for each of two sides" in dlg.counts.text() and not dlg.apply_button.isEnabled()   # the core's sentence
    dlg.add_a_side()
    assert len(dlg.side_buttons) == 3
    dlg.view.selectionModel().select(dlg.model.index(1), dlg.view.selectionModel().SelectionFlag.Select)
    dlg.side_buttons[1].click()
    qtbot.waitUntil(lambda: not dlg.busy(), timeout=10000)
    want = {p: (0 if i % 2 == 0 else 1) for i, p in enumerate(members)}
    assert dlg.result == want
    assert "Side 1: <b>6</b> photos" in dlg.counts.text() and "Side 2: <b>6</b> photos" in dlg.counts.text()
    assert dlg.side_buttons[1].text() == "Side 2 (1)" and dlg.apply_button.isEnabled()
    assert dlg.model.data(dlg.model.index(1)) == "\u2605 Side 2" and dlg.model.data(dlg.model.index(3)) == "\u2192 2"
    dlg.sort.setChecked(True)
    assert dlg.model.ids[:6] == members[0::2]
    before = set(s.cluster_ids())
    with qtbot.waitSignal(win.taskEnded, timeout=TASK_TIMEOUT_MS) as sig:
        dlg.apply_button.click()
    assert sig.args == ["split", "finished"]
    new = [c for c in s.cluster_ids() if c not in before]
    assert s.members(red) == members[0::2] and len(new) == 1 and s.members(new[0]) == members[1::2]
    assert win.selected_clusters() == [red, new[0]]
    win.actions.undo.trigger()
    assert s.members(red) == members and new[0] not in s.cluster_ids()


def test_split_by_example_is_in_the_cluster_menu(opened):
    win = opened
    red = win.session.cluster_ids()[0]
    rect = win.cluster_view.visualRect(_row(win, red))
    win.actions.cluster_context_menu(rect.center())
    texts = [a.text() for a in win.actions._menu.actions()]
    win.actions._menu.close()
    assert "Split by Example\u2026" in texts and any(t.startswith("Show Suggestions") for t in texts)


def test_the_suggestion_line_hides_while_the_grid_shows_another_result_set(opened, qtbot):
    win = opened
    s, sg = win.session, win.suggestions
    red = s.cluster_ids()[0]
    _loosen(win, red)
    win.select_clusters([red])
    _suggested(win, qtbot)
    assert sg.bar.isVisible()
    _waiting(win, [(s.members(None)[0], red, 0.2)])
    win.review.button.click()
    _suggested(win, qtbot)
    assert win.review.showing and not sg.bar.isVisible()


def test_a_ranking_an_edit_overtook_is_thrown_away_for_a_fresh_one(opened, qtbot):
    win = opened
    s, sg = win.session, win.suggestions
    red = s.cluster_ids()[0]
    _loosen(win, red)
    win.select_clusters([red])
    first = _suggested(win, qtbot)[0]
    sg.schedule()
    sg._timer.stop()
    sg._start()                       # a ranking under way, read before the edit below...
    assert sg.runner.is_running()
    s.reject(red, [first])            # ...which this edit makes stale
    assert first not in _suggested(win, qtbot)

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

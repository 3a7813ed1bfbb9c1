"""Cluster quality in the window: cohesion per cluster with a "Split?" flag (and the split one
click away), the overall figures in the status bar, "Assign the rest to the nearest cluster",
the rename editor's alternatives, and split pieces named distinctly next to their origin."""
from PySide6.QtCore import Qt

from PySide6.QtWidgets import QAbstractItemDelegate

from conftest import wait_idle
from photoclust_app.core.clustering.cohesion import INCOHERENT
from photoclust_app.gui.models.cluster_list_model import (AlternativesRole, CohesionRole, IncoherentRole)
from photoclust_app.gui.views.cluster_list_view import NameEditor, badge_rect

TASK_TIMEOUT_MS = 180000


def quality_settled(win):
    return not win.quality.busy() and win.quality.figures is not None


def wait_quality(qtbot, win):
    qtbot.waitUntil(lambda: quality_settled(win), timeout=30000)


def mixed_cluster(win, qtbot):
    """A new cluster of five red and five green photos: two subjects in one."""
    s = win.session
    red, green = s.cluster_ids()[0], s.cluster_ids()[1]
    cid = s.new_cluster(s.members(red)[:5] + s.members(green)[:5])
    qtbot.waitUntil(lambda: win.cluster_model.cohesion(cid) is not None and quality_settled(win), timeout=30000)
    return cid


def test_every_cluster_shows_its_cohesion_and_only_a_mixed_one_is_flagged(opened, qtbot):
    win = opened
    m = win.cluster_model
    wait_quality(qtbot, win)
    for cid in win.session.cluster_ids():
        idx = m.index(m.row_of(cid))
        assert idx.data(CohesionRole) > INCOHERENT and not idx.data(IncoherentRole)
        assert "Cohesion" in idx.data(Qt.ItemDataRole.ToolTipRole)
    assert m.index(m.row_of(None)).data(CohesionRole) is None   # Unsorted has none
    cid = mixed_cluster(win, qtbot)
    idx = m.index(m.row_of(cid))
    assert idx.data(CohesionRole) < INCOHERENT and idx.data(IncoherentRole)
    assert "Split" in idx.data(Qt.ItemDataRole.ToolTipRole)
    assert m.split_suggestion(idx).startswith("Split")
    others = [c for c in win.session.cluster_ids() if c != cid]
    assert not any(m.index(m.row_of(c)).data(IncoherentRole) for c in others)
    win.actions.undo.trigger()   # the mixed cluster goes: nothing is flagged any more
    qtbot.waitUntil(lambda: quality_settled(win) and cid not in win.session.cluster_ids())
    assert not any(m.index(r).data(IncoherentRole) for r in range(m.rowCount()))


def test_the_split_badge_splits_the_flagged_cluster_into_distinct_pieces_next_to_it(opened, qtbot):
    win = opened
    cid = mixed_cluster(win, qtbot)
    view, m = win.cluster_view, win.cluster_model
    view.scrollTo(m.index(m.row_of(cid)))
    rect = view.visualRect(m.index(m.row_of(cid)))
    badge = badge_rect(rect, view.fontMetrics())
    with qtbot.waitSignal(win.taskEnded, timeout=TASK_TIMEOUT_MS) as sig:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=badge.center())
    assert sig.args == ["split", "finished"]
    s = win.session
    order = s.cluster_ids()
    at = order.index(cid)
    pieces = [c for c in order if c not in (s.cluster_ids()[:3]) and c != cid]
    assert pieces and order[at + 1:at + 1 + len(pieces)] == pieces   # right after their origin
    names = [s.cluster(c).display_name for c in order]
    assert len(set(names)) == len(names)
    origin = s.cluster(cid).display_name
    assert all(s.cluster(p).display_name.startswith(origin) and s.cluster(p).display_name != origin
               for p in pieces)
    rows = [m.row_of(c) for c in [cid, *pieces]]
    assert rows == list(range(rows[0], rows[0] + len(rows)))          # and so in the list


def test_the_context_menu_of_a_flagged_cluster_leads_with_the_split(opened, qtbot, monkeypatch):
    from PySide6.QtWidgets import QMenu

    win = opened
    cid = mixed_cluster(win, qtbot)
    m = win.cluster_model
    shown = []
    monkeypatch.setattr(QMenu, "popup", lambda self, *a: shown.append([a.text() for a in self.actions()]))
    win.select_clusters([cid])
    win.actions.cluster_context_menu(win.cluster_view.visualRect(m.index(m.row_of(cid))).center())
    assert shown[-1][0].startswith("Split \u2014 it looks mixed")
    red = win.session.cluster_ids()[0]
    win.actions.cluster_context_menu(win.cluster_view.visualRect(m.index(m.row_of(red))).center())
    assert not shown[-1][0].startswith("Split \u2014")


def test_the_status_bar_shows_the_quality_figures_in_plain_words(opened, qtbot):
    win = opened
    wait_quality(qtbot, win)
    label = win.quality.label
    assert label.isVisible()
    assert "unsorted 14%" in label.text()   # 6 of 42, live
    tip = label.toolTip()
    assert "resemble no group" in tip and "silhouette" in tip and "Davies" in tip


def test_quality_figures_are_live_for_a_clustered_library(make_window, tmp_path, _built_template, qtbot):
    import shutil

    from photoclust_app.core import pipeline
    from photoclust_app.core.store.library import Library

    folder = tmp_path / "photos"
    shutil.copytree(_built_template, folder)
    with Library.open(folder) as lib:
        pipeline.cluster(lib, names=False)
        recorded = lib.last_clustering()["metrics"]
    win = make_window()
    assert win.open_folder(folder, index=False)
    wait_idle(qtbot, win)
    wait_quality(qtbot, win)
    f = win.quality.figures
    assert f["live"] and abs(f["silhouette"] - recorded["silhouette"]) < 1e-6
    assert f"separation {recorded['silhouette']:.2f}" in win.quality.label.text()
    assert f"overlap {recorded['davies_bouldin']:.2f}" in win.quality.label.text()


def test_assign_the_rest_empties_unsorted_and_undo_brings_it_back(opened, qtbot, monkeypatch):
    from PySide6.QtWidgets import QMenu

    win = opened
    s, m = win.session, win.cluster_model
    assert s.unsorted_count() == 6 and win.actions.assign_rest.isEnabled()
    shown = []
    monkeypatch.setattr(QMenu, "popup", lambda self, *a: shown.append(list(self.actions())))
    win.actions.cluster_context_menu(win.cluster_view.visualRect(m.index(m.row_of(None))).center())
    assert shown[-1] == [win.actions.assign_rest]   # Unsorted's own context menu
    assert win.actions.assign_rest in win.menuBar().findChildren(QMenu)[3].actions()
    before = {c: s.members(c) for c in s.cluster_ids()}
    shown[-1][0].trigger()
    assert s.unsorted_count() == 0 and m.index(m.row_of(None)).data(Qt.ItemDataRole.UserRole + 3) == 0
    # each went to its own colour's cluster (the vectors' group)
    for c in s.cluster_ids():
        assert set(before[c]) <= set(s.members(c))
    assert sum(len(s.members(c)) for c in s.cluster_ids()) == 42
    assert not win.actions.assign_rest.isEnabled()
    assert "Assign 6 Unsorted photos" in s.undo_text
    win.actions.undo.trigger()
    assert s.unsorted_count() == 6 and {c: s.members(c) for c in s.cluster_ids()} == before


def test_the_rename_editor_offers_the_alternatives(opened, qtbot):
    win = opened
    s, m, view = win.session, win.cluster_model, win.cluster_view
    red = s.cluster_ids()[0]
    s.library.set_suggested_name(red, "red things", ["tomato", "strawberry", "red things", "fire engine"])
    s.reload()
    idx = m.index(m.row_of(red))
    assert idx.data(AlternativesRole) == ["tomato", "strawberry", "fire engine"]   # not the shown name
    view.setCurrentIndex(idx)
    view.edit(idx)
    editor = view.viewport().findChild(NameEditor)
    assert editor is not None
    popup = editor.completer().popup()
    qtbot.waitUntil(popup.isVisible)   # offered at once
    shown = [popup.model().index(r, 0).data() for r in range(popup.model().rowCount())]
    assert shown == ["tomato", "strawberry", "fire engine"]
    popup.hide()
    qtbot.keyClicks(editor, "straw")   # typing filters them
    assert editor.completer().completionCount() == 1
    assert editor.completer().currentCompletion() == "strawberry"
    editor.setText("strawberry")
    view.commitData(editor)
    view.closeEditor(editor, QAbstractItemDelegate.EndEditHint.NoHint)
    assert s.cluster(red).display_name == "strawberry"
    # once the user named it, the suggestion is offered back
    assert m.index(m.row_of(red)).data(AlternativesRole)[0] == "red things"


def test_no_alternatives_no_drop_down(opened):
    win = opened
    m, view = win.cluster_model, win.cluster_view
    idx = m.index(0)
    view.edit(idx)
    editor = view.viewport().findChild(NameEditor)
    assert editor is not None and editor.completer() is None

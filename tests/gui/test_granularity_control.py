"""The granularity control walks the stored cluster tree: its range is the tree's stops, a
move is a cut applied through the engine (undoable, the map stays), and it follows the
library's stored choice after undo and redo. Without a tree it re-clusters."""
import shutil

import numpy as np
import pytest

from conftest import wait_idle
from photoclust_app.core import pipeline
from photoclust_app.core.store.library import Library
from photoclust_app.gui.granularity import AUTO, EXACT

TASK_TIMEOUT_MS = 180000


@pytest.fixture(scope="module")
def _treed_template(tmp_path_factory, _built_template):
    """The hand-built library clustered once through the pipeline, so a tree is stored."""
    folder = tmp_path_factory.mktemp("treed") / "photos"
    shutil.copytree(_built_template, folder)
    with Library.open(folder) as lib:
        pipeline.cluster(lib, names=False)
    return folder


@pytest.fixture
def treed(make_window, tmp_path, _treed_template, qtbot):
    dest = tmp_path / "treed"
    shutil.copytree(_treed_template, dest)
    win = make_window()
    assert win.open_folder(dest, index=False)
    wait_idle(qtbot, win)
    qtbot.waitUntil(lambda: win.session.photo_count() == 42)
    win.actions.granularity.rest_ms = 50
    return win


def n_clusters(win):
    return len([c for c in win.session.clusters() if c.size])


def model_clusters(win):
    m = win.cluster_model
    return [r for r in range(m.rowCount()) if m.kind(r) == "cluster"]


def move_to(win, qtbot, n):
    g = win.actions.granularity
    with qtbot.waitSignal(win.taskEnded, timeout=TASK_TIMEOUT_MS) as sig:
        g.slider.setValue(n)   # applies once the slider rests
    return sig.args


def test_the_slider_range_is_the_trees_stops_and_marks_automatic(treed):
    win = treed
    stops, auto = pipeline.current_stops(win.library)
    g = win.actions.granularity
    assert g.stops_range() == (stops[0][0], stops[-1][0])
    assert g.slider.mark == auto and g.is_automatic() and g.value() == auto == n_clusters(win)
    assert g.count.text() == f"{auto} groups"
    assert g.mode.itemText(AUTO) == f"Automatic ({auto})"
    assert g.slider.mark_x() is not None
    assert "re-cuts" in g.slider.toolTip()


def test_moving_it_cuts_the_tree_to_exactly_n_and_undo_restores_the_level(treed, qtbot):
    win = treed
    g = win.actions.granularity
    stops, auto = pipeline.current_stops(win.library)
    target = stops[-2][0]
    assert target != auto
    before_ids, before_xy, _ = win.session.layout()
    before = {c.id: win.session.members(c.id) for c in win.session.clusters()}
    stages = []
    win.runner.progress.connect(lambda done, total, stage: stages.append(stage))
    assert move_to(win, qtbot, target) == ["recluster", "finished"]
    assert "reduce" not in stages   # no UMAP: a cut of the stored tree
    assert n_clusters(win) == target == len(model_clusters(win))
    assert pipeline.stored_groups(win.library) == target
    assert g.mode.currentIndex() == EXACT and g.value() == target
    assert win.session.undo_text == f"Exactly {target} groups"
    ids, xy, _ = win.session.layout()
    assert np.array_equal(ids, before_ids) and np.array_equal(xy, before_xy)   # a cut: the map stays
    assert pipeline.current_stops(win.library)[0] == stops                      # the same tree

    win.actions.undo.trigger()
    assert g.is_automatic() and g.value() == auto and pipeline.stored_groups(win.library) is None
    assert {c.id: win.session.members(c.id) for c in win.session.clusters()} == before
    assert len(model_clusters(win)) == auto
    win.actions.redo.trigger()
    assert g.mode.currentIndex() == EXACT and g.value() == target and len(model_clusters(win)) == target


def test_choosing_automatic_goes_back_to_the_trees_level(treed, qtbot):
    win = treed
    g = win.actions.granularity
    stops, auto = pipeline.current_stops(win.library)
    move_to(win, qtbot, stops[0][0] + 1 if stops[0][0] + 1 != auto else stops[0][0])
    assert not g.is_automatic()
    with qtbot.waitSignal(win.taskEnded, timeout=TASK_TIMEOUT_MS) as sig:
        g.mode.activated.emit(AUTO)
    assert sig.args == ["recluster", "finished"]
    assert n_clusters(win) == auto and g.is_automatic() and g.value() == auto
    assert pipeline.stored_groups(win.library) is None
    assert win.session.undo_text == f"Automatic groups ({auto})"


def test_it_follows_the_stored_choice_on_reopen(treed, make_window, qtbot):
    win = treed
    stops, _ = pipeline.current_stops(win.library)
    move_to(win, qtbot, stops[-2][0])
    folder = win.library.folder
    win.close()
    again = make_window()
    assert again.open_folder(folder, index=False)
    wait_idle(qtbot, again)
    g = again.actions.granularity
    qtbot.waitUntil(lambda: g.stops_range() == (stops[0][0], stops[-1][0]))
    assert g.mode.currentIndex() == EXACT and g.value() == stops[-2][0]


def test_disabled_with_a_tooltip_while_busy(treed, qtbot):
    import threading

    win = treed
    g = win.actions.granularity
    release = threading.Event()
    win.runner.start("busy", lambda ctx: release.wait(10))
    win.actions.update()
    try:
        assert not g.slider.isEnabled() and not g.mode.isEnabled() and not g.count.isEnabled()
        assert "Busy" in g.slider.toolTip()
    finally:
        release.set()
        wait_idle(qtbot, win)
    assert g.slider.isEnabled() and "Busy" not in g.slider.toolTip()


def test_without_a_tree_it_reclusters_and_a_count_too_high_is_a_sentence(opened, qtbot):
    """The hand-built library has no stored tree: a move re-clusters (UMAP, progress), and
    asking for more groups than the photos hold says so, and the control goes back."""
    win = opened
    g = win.actions.granularity
    g.rest_ms = 50
    assert pipeline.current_stops(win.library) is None
    assert "re-clusters the whole library" in g.slider.toolTip()
    assert g.value() == 3 and g.is_automatic()
    with qtbot.waitSignal(win.taskEnded, timeout=TASK_TIMEOUT_MS) as sig:
        g.slider.setValue(g.stops_range()[1])
    assert sig.args == ["recluster", "failed"]
    assert "at most" in win.statusBar().currentMessage()
    assert g.value() == 3 and g.is_automatic() and n_clusters(win) == 3
    # Now a count the photos do hold: a full re-cluster, after which a tree covers the library.
    stages = []
    win.runner.progress.connect(lambda done, total, stage: stages.append(stage))
    with qtbot.waitSignal(win.taskEnded, timeout=TASK_TIMEOUT_MS) as sig:
        g.slider.setValue(2)
    assert sig.args == ["recluster", "finished"]
    assert "reduce" in stages   # UMAP ran, with its progress shown
    assert n_clusters(win) == 2 and pipeline.current_stops(win.library) is not None
    assert g.stops_range()[0] == 1 and "re-cuts" in g.slider.toolTip()


def test_typing_a_count_asks_for_exactly_that_many(treed, qtbot):
    win = treed
    g = win.actions.granularity
    stops, auto = pipeline.current_stops(win.library)
    target = stops[-2][0]
    asked = []
    g.requested.connect(asked.append)
    with qtbot.waitSignal(win.taskEnded, timeout=TASK_TIMEOUT_MS):
        g.count.setValue(target)
    assert asked == [target] and n_clusters(win) == target and g.slider.value() == target


def test_its_width_does_not_change_with_the_counts(qtbot):
    """The toolbar must not shift under the mouse as the counts grow (issue 14 item 11)."""
    from photoclust_app.gui.granularity import GranularityControl

    g = GranularityControl()
    qtbot.addWidget(g)
    g.show_library([(1, 0), (2, 1), (3, 2)], 3, None, 3)
    g.show()
    g.layout().activate()
    width = g.sizeHint().width()
    g.show_library([(k, k) for k in range(1, 1235)], 1234, 999, 999)
    g.layout().activate()
    assert g.sizeHint().width() == width
    assert g.count.text() == "999 groups" and g.mode.itemText(0) == "Automatic (1234)"

"""MapView: selection by rectangle, lasso, click and drag; hover lookup; recolouring; 100k points."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6 import QtCore, QtGui
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from photoclust_app.gui.map_view import MapView, cluster_color, points_in_polygon

# Three blobs of 100 photos: A around (0, 0), B around (10, 0), C (Unsorted) around (0, 10).
CENTRES = {"A": (0.0, 0.0), "B": (10.0, 0.0), "C": (0.0, 10.0)}


@pytest.fixture
def blobs():
    rng = np.random.default_rng(7)
    xy = np.concatenate([c + rng.uniform(-1.5, 1.5, (100, 2)) for c in CENTRES.values()]).astype(np.float32)
    ids = np.arange(500, 800, dtype=np.int64)
    clusters = np.repeat(np.array([3, 8, -1], dtype=np.int64), 100)
    return ids, xy, clusters


@pytest.fixture
def view(qtbot, blobs):
    w = MapView()
    qtbot.addWidget(w)
    w.resize(600, 500)
    w.show()
    qtbot.waitExposed(w)
    w.set_points(*blobs)
    return w


class Spy:
    def __init__(self, signal):
        self.calls = []
        signal.connect(lambda *a: self.calls.append(a[0] if len(a) == 1 else a))


def _scene_pos(w: MapView, x: float, y: float) -> QtCore.QPointF:
    return w._vb.mapViewToScene(QtCore.QPointF(x, y))


def _viewport_pos(w: MapView, x: float, y: float) -> QtCore.QPoint:
    return w._plot.mapFromScene(_scene_pos(w, x, y))


def _move(vp, pos: QtCore.QPoint, mods=Qt.KeyboardModifier.NoModifier) -> None:
    """A mouse move with the left button held; QTest.mouseMove cannot carry modifiers."""
    local = QtCore.QPointF(pos)
    ev = QtGui.QMouseEvent(QtCore.QEvent.Type.MouseMove, local, QtCore.QPointF(vp.mapToGlobal(pos)),
                           Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton, mods)
    QtCore.QCoreApplication.sendEvent(vp, ev)


def test_select_in_rect_selects_exactly_the_points_inside(view, blobs):
    ids, xy, _ = blobs
    spy = Spy(view.selectionChanged)
    got = view.select_in_rect(-1.0, -1.0, 1.0, 0.5)
    expected = sorted(ids[(xy[:, 0] >= -1) & (xy[:, 0] <= 1) & (xy[:, 1] >= -1) & (xy[:, 1] <= 0.5)].tolist())
    assert 0 < len(expected) < 100
    assert got == expected
    assert spy.calls == [expected]
    assert view.selected_ids() == expected
    # corners given the other way round select the same
    assert view.select_in_rect(1.0, 0.5, -1.0, -1.0) == expected


def test_rect_modifiers_add_and_toggle(view, blobs):
    ids = blobs[0]
    a, b = ids[:100].tolist(), ids[100:200].tolist()
    assert view.select_in_rect(-2, -2, 2, 2) == a
    assert view.select_in_rect(8, -2, 12, 2, mode="add") == a + b
    assert view.select_in_rect(-2, -2, 2, 2, mode="toggle") == b
    assert view.select_in_rect(-20, -20, 20, 20, mode="remove") == []
    with pytest.raises(ValueError):
        view.select_in_rect(0, 0, 1, 1, mode="bogus")


def test_lasso_polygon_selects_blob_and_matches_reference(view, blobs):
    ids, xy, _ = blobs
    triangle = [(6.0, -3.0), (16.0, -3.0), (10.0, 8.0)]
    got = view.select_in_polygon(triangle)
    assert set(got) == set(ids[100:200].tolist())       # the whole of blob B, nothing else
    # A concave L shape around the corner of blob A: compare with a per-point reference test.
    ell = [(-2, -2), (2, -2), (2, 0), (0, 0), (0, 2), (-2, 2)]
    got = view.select_in_polygon(ell)
    path = QtGui.QPainterPath()
    path.addPolygon(QtGui.QPolygonF([QtCore.QPointF(*p) for p in ell]))
    ref = [int(i) for i, (x, y) in zip(ids, xy.astype(float)) if path.contains(QtCore.QPointF(x, y))]
    assert got == sorted(ref)
    assert 0 < len(got) < 100
    # the upper-right quadrant of blob A is outside the L
    assert not any((xy[ids.tolist().index(i)] > 0.05).all() for i in got)


def test_points_in_polygon_degenerate_cases():
    pts = np.array([[0.5, 0.5], [2.0, 2.0]])
    assert points_in_polygon(pts, [(0, 0), (1, 0)]).tolist() == [False, False]
    assert points_in_polygon(pts, [(0, 0), (1, 0), (1, 1), (0, 1)]).tolist() == [True, False]


def test_set_selection_does_not_emit(view, blobs):
    spy = Spy(view.selectionChanged)
    view.set_selection([510, 505, 505, 999999])
    assert spy.calls == []
    assert view.selected_ids() == [505, 510, 999999]
    assert len(view._sel_dots._xy[0]) == 2          # only photos on the map get a ring


def test_update_clusters_keeps_view_range_and_recolours(view, blobs, qtbot):
    view._vb.setRange(xRange=(-1, 3), yRange=(-1, 3), padding=0)
    qtbot.wait(10)
    before = view.view_range()
    view.update_clusters([500, 501, 700], [8, -1, 3])
    assert view.view_range() == before
    assert view.cluster_of(500) == 8 and view.cluster_of(501) == -1 and view.cluster_of(700) == 3
    assert view.cluster_of(123456) is None
    view.fit()
    (x0, x1), (y0, y1) = view.view_range()
    assert x0 < -1 and x1 > 11 and y0 < -1 and y1 > 11      # fit shows every blob again


def test_point_at_returns_nearest_within_radius(view, blobs):
    ids, xy, _ = blobs
    for i in (0, 150, 299):
        x, y = xy[i]
        d = np.hypot(xy[:, 0] - x - 0.01, xy[:, 1] - y - 0.01)
        assert view.point_at(x + 0.01, y + 0.01, radius_px=30) == ids[np.argmin(d)]
    assert view.point_at(5.0, 5.0, radius_px=8) == -1               # empty space between blobs
    assert view.point_at(5.0, 5.0, radius_px=10_000) >= 0           # a huge radius finds something


def test_hover_emits_id_and_shows_card(view, blobs, qtbot):
    ids, xy, _ = blobs
    asked = []
    img = QtGui.QImage(64, 48, QtGui.QImage.Format.Format_RGB32)
    img.fill(Qt.GlobalColor.red)
    view.thumbnail_provider = lambda pid: asked.append(pid) or img
    view.name_provider = lambda pid: f"IMG_{pid}.jpg"
    spy = Spy(view.hoverPhoto)
    view._plot.scene().sigMouseMoved.emit(_scene_pos(view, *xy[42]))
    assert spy.calls == [ids[42]] and asked == [ids[42]]
    assert view.hovered_id() == ids[42]
    assert view._card.isVisible() and view._card.name.text() == f"IMG_{ids[42]}.jpg"
    assert view._card.image.pixmap().width() == 64      # small thumbnails are not blown up
    view._plot.scene().sigMouseMoved.emit(_scene_pos(view, 5.0, 5.0))
    assert spy.calls[-1] == -1 and not view._card.isVisible()
    view._plot.scene().sigMouseMoved.emit(_scene_pos(view, *xy[7]))
    assert spy.calls[-1] == ids[7]
    QtCore.QCoreApplication.sendEvent(view._plot.viewport(), QtCore.QEvent(QtCore.QEvent.Type.Leave))
    assert spy.calls[-1] == -1 and view.hovered_id() == -1      # leaving the map ends the hover


def test_escape_clears_selection(view, blobs):
    view.select_in_rect(-2, -2, 2, 2)
    spy = Spy(view.selectionChanged)
    QTest.keyClick(view._plot.viewport(), Qt.Key.Key_Escape)
    assert spy.calls == [[]] and view.selected_ids() == []


def test_empty_map(qtbot):
    w = MapView()
    qtbot.addWidget(w)
    w.set_points(np.zeros(0, np.int64), np.zeros((0, 2), np.float32), np.zeros(0, np.int64))
    assert w.point_at(0, 0) == -1
    assert w.select_in_rect(-1, -1, 1, 1) == []
    w.update_clusters([1], [2])            # unknown ids are ignored
    assert not w.grab().isNull()


def test_mouse_click_selects_and_double_click_activates(view, blobs, qtbot):
    ids, xy, _ = blobs
    sel = Spy(view.selectionChanged)
    act = Spy(view.photoActivated)
    vp = view._plot.viewport()
    QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _viewport_pos(view, *xy[250]))
    target = view.point_at(*xy[250])
    assert sel.calls == [[target]]
    QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     _viewport_pos(view, *xy[0]))
    assert sel.calls[-1] == sorted([target, view.point_at(*xy[0])])
    qtbot.wait(QtGui.QGuiApplication.styleHints().mouseDoubleClickInterval() + 50)
    QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _viewport_pos(view, 5.0, 5.0))
    assert sel.calls[-1] == []                                     # empty space clears
    qtbot.wait(QtGui.QGuiApplication.styleHints().mouseDoubleClickInterval() + 50)
    # What a real double-click delivers: press, release, double-click, release.
    at = _viewport_pos(view, *xy[150])
    QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at)
    QTest.mouseDClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at)
    assert act.calls == [view.point_at(*xy[150])]


def test_box_drag_in_box_mode_selects(view, blobs, qtbot):
    ids = blobs[0]
    view.set_mode("box")
    view._vb.setRange(xRange=(4, 16), yRange=(-6, 6), padding=0)   # blob B in the middle
    qtbot.wait(10)
    sel = Spy(view.selectionChanged)
    vp = view._plot.viewport()
    start, end = _viewport_pos(view, 7.0, -3.0), _viewport_pos(view, 13.0, 3.0)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for t in np.linspace(0.1, 1.0, 6):
        qtbot.wait(15)          # pyqtgraph drops moves closer than 10 ms apart
        QTest.mouseMove(vp, start + (end - start) * float(t))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    assert sel.calls == [ids[100:200].tolist()]
    assert not view._rubber.isVisible()


def test_shift_drag_in_pan_mode_selects_plain_drag_pans(view, blobs, qtbot):
    ids = blobs[0]
    view._vb.setRange(xRange=(4, 16), yRange=(-6, 6), padding=0)
    qtbot.wait(10)
    sel = Spy(view.selectionChanged)
    vp = view._plot.viewport()

    def drag(a, b, mods):
        start, end = _viewport_pos(view, *a), _viewport_pos(view, *b)
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, mods, start)
        for t in np.linspace(0.2, 1.0, 5):
            qtbot.wait(15)          # pyqtgraph drops moves closer than 10 ms apart
            _move(vp, start + (end - start) * float(t), mods)
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, mods, end)

    drag((7.0, -3.0), (13.0, 3.0), Qt.KeyboardModifier.ShiftModifier)
    assert sel.calls == [ids[100:200].tolist()]
    before = view.view_range()
    drag((7.0, -3.0), (9.0, -3.0), Qt.KeyboardModifier.NoModifier)
    assert len(sel.calls) == 1 and view.view_range() != before      # panned, selection untouched


def test_lasso_drag_with_shift_adds(view, blobs, qtbot):
    ids = blobs[0]
    view.set_selection(ids[:3])
    view.set_mode("lasso")
    view._vb.setRange(xRange=(4, 16), yRange=(-6, 6), padding=0)
    qtbot.wait(10)
    sel = Spy(view.selectionChanged)
    vp = view._plot.viewport()
    ring = [(7.0, -3.0), (13.0, -3.0), (13.0, 3.0), (7.0, 3.0), (7.0, -2.9)]
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _viewport_pos(view, *ring[0]))
    for x, y in ring[1:]:
        qtbot.wait(15)
        QTest.mouseMove(vp, _viewport_pos(view, x, y))
    assert view._lasso_item.isVisible()
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                       _viewport_pos(view, *ring[-1]))
    assert sel.calls == [ids[:3].tolist() + ids[100:200].tolist()]
    assert not view._lasso_item.isVisible()


def test_palette_is_stable_and_distinct():
    assert cluster_color(5).name() == cluster_color(5).name()
    names = {cluster_color(i).name() for i in range(60)}
    assert len(names) == 60
    grey = cluster_color(-1)
    assert grey.red() == grey.green() == grey.blue()


def test_set_points_checks_lengths(view):
    with pytest.raises(ValueError):
        view.set_points(np.arange(3), np.zeros((2, 2)), np.zeros(3))


def test_100k_points(qtbot):
    rng = np.random.default_rng(0)
    n, k = 100_000, 60
    clusters = rng.integers(-1, k, n)
    xy = (rng.normal(0, 10, (k + 1, 2))[clusters + 1] + rng.normal(0, 1, (n, 2))).astype(np.float32)
    ids = np.arange(n, dtype=np.int64) + 1
    w = MapView()
    qtbot.addWidget(w)
    w.resize(800, 600)
    w.show()
    qtbot.waitExposed(w)
    w.set_points(ids, xy, clusters)      # how fast: photoclust_app/gui/bench_gui.py
    image = w.grab()
    w.update_clusters(ids[:5000], np.full(5000, 7))
    assert image.width() > 0 and len(w.photo_ids()) == n
    assert w.cluster_of(int(ids[0])) == 7 and w.cluster_of(int(ids[-1])) == int(clusters[-1])
    pid = w.point_at(*xy[12345], radius_px=1)
    assert np.allclose(xy[pid - 1], xy[12345])                   # ids are row + 1


def _thumb(pid: int) -> QtGui.QImage:
    img = QtGui.QImage(64, 48, QtGui.QImage.Format.Format_RGB32)
    img.fill(QtGui.QColor(pid % 256, 90, 200))
    return img


def test_zoomed_in_the_map_shows_thumbnails_and_cluster_names(view, blobs, qtbot):
    asked = []
    view.thumbnail_provider = lambda pid: (asked.append(pid), None if pid == 510 else _thumb(pid))[1]
    view.cluster_name_provider = {3: "Beach", 8: "Hills"}.get
    view.refresh_labels()
    view.grab()                                         # all 300 in view: dots only
    assert view.thumbnails_shown() == [] and asked == []
    assert view.labels_shown() == ["Beach", "Hills"]    # Unsorted has no label
    view.set_view(-1.5, 1.5, -1.5, 1.5)                 # zoomed into blob A
    image = view.grab()
    shown = view.thumbnails_shown()
    assert shown and set(shown) <= set(range(500, 600)) and 510 in asked
    assert view._thumbs.drawn == len(shown) - (510 in shown)    # 510 still loading: its dot stays
    assert view.labels_shown() == ["Beach"]
    # the thumbnails are really on screen: pixels of their fill colour (G 90, B 200), a
    # 56-px-wide thumbnail's worth at least
    rgb = image.toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    px = np.frombuffer(rgb.constBits(), np.uint8).reshape(rgb.height(), rgb.bytesPerLine())[:, :rgb.width() * 3]
    px = px.reshape(rgb.height(), rgb.width(), 3)
    assert ((px[..., 1] == 90) & (px[..., 2] == 200)).sum() > 56 * 40
    view.thumbnail_ready(510)                           # loaded now: asked again on the next paint
    view.thumbnail_provider = _thumb
    view.grab()
    assert view._thumbs.drawn == len(view.thumbnails_shown())


def test_labels_follow_a_rename_and_do_not_overlap(view, blobs):
    names = {3: "Beach", 8: "Hills"}
    view.cluster_name_provider = names.get
    names[3] = "Sea"
    view.refresh_labels()
    view.grab()
    assert view.labels_shown() == ["Sea", "Hills"]
    view.set_points(blobs[0], np.zeros((300, 2)), blobs[2])   # every centre on one spot
    view.grab()
    assert len(view.labels_shown()) == 1

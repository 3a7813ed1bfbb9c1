"""A first hour that feels like a real photo app: the in-app viewer, a grid that shows every
thumbnail whole and resizes, merge from the menus, and the small things (counts, plurals,
a toolbar that keeps still, the skipped-files dialog, the drag image, no flash at start)."""
from PySide6.QtCore import QPoint, QPointF, QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem

from conftest import wait_idle


def _activate(win, qtbot):
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)


def _rotated_jpeg(path, size=(96, 72)):
    """A landscape JPEG whose EXIF says 'rotate 90°' (orientation 6), with a date and a camera."""
    from PIL import Image

    im = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 5D"
    exif.get_ifd(0x8769)[0x9003] = "2021:07:14 18:03:59"
    im.save(path, exif=exif.tobytes())


# -- the viewer ------------------------------------------------------------------------------
def test_load_photo_is_upright_with_its_exif(tmp_path):
    from photoclust_app.gui.viewer import describe, load_photo

    p = tmp_path / "rot.jpg"
    _rotated_jpeg(p)
    got = load_photo(p, 7)
    assert (got.width, got.height) == (72, 96)          # EXIF-rotated: portrait
    assert got.taken_at == "2021-07-14T18:03:59" and got.camera == "Canon EOS 5D"
    text = describe(got, "reds/rot.jpg")
    assert text.startswith("rot.jpg \u00b7 14 Jul 2021 18:03 \u00b7 Canon EOS 5D \u00b7 72 \u00d7 96")


def test_load_photo_says_why_it_cannot(tmp_path):
    import pytest

    from photoclust_app.core.errors import UnreadableImage
    from photoclust_app.gui.viewer import load_photo

    (tmp_path / "bad.jpg").write_bytes(b"not a photo")
    with pytest.raises(UnreadableImage, match="not an image"):
        load_photo(tmp_path / "bad.jpg", 1)
    with pytest.raises(UnreadableImage, match="not there any more"):
        load_photo(tmp_path / "gone.jpg", 1)


def test_space_opens_the_viewer_arrows_walk_the_grid_escape_closes(opened, qtbot):
    win = opened
    first = win.grid_model.photo_ids()[0]
    _rotated_jpeg(win.session.photo_path(first))        # the file on disk is a rotated photo now
    _activate(win, qtbot)
    grid = win.grid_view
    grid.setFocus()
    grid.setCurrentIndex(win.grid_model.index(0))
    qtbot.keyClick(grid, Qt.Key.Key_Space)
    viewer = win.actions.viewer
    assert viewer is not None and viewer.isVisible() and viewer.current_id() == first
    qtbot.waitUntil(lambda: viewer.loaded is not None and viewer.loaded.photo_id == first, timeout=10000)
    assert (viewer.canvas.pixmap().width(), viewer.canvas.pixmap().height()) == (72, 96)   # upright
    info = viewer.info_label.text()
    assert "14 Jul 2021" in info and "Canon EOS 5D" in info and "72 \u00d7 96" in info
    assert str(win.session.photo_path(first)) == viewer.path_label.text()
    assert viewer.position_label.text() == "1 / 12"
    qtbot.keyClick(viewer, Qt.Key.Key_Right)
    second = win.grid_model.photo_ids()[1]
    assert viewer.current_id() == second and viewer.position_label.text() == "2 / 12"
    assert win.selected_photos() == [second]             # the grid follows the viewer
    qtbot.waitUntil(lambda: viewer.loaded is not None and viewer.loaded.photo_id == second, timeout=10000)
    qtbot.keyClick(viewer, Qt.Key.Key_End)
    assert viewer.current_id() == win.grid_model.photo_ids()[-1]
    qtbot.keyClick(viewer, Qt.Key.Key_Home)
    qtbot.keyClick(viewer, Qt.Key.Key_Left)               # stays on the first
    assert viewer.current_id() == first
    assert viewer.canvas.mode == "fit"
    qtbot.keyClick(viewer, Qt.Key.Key_Z)
    assert viewer.canvas.mode == "actual" and viewer.zoom_button.text() == "Fit"
    viewer.canvas.zoomToggled.emit()                      # a double-click
    assert viewer.canvas.mode == "fit"
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: win.actions.viewer is None)


def test_fit_and_actual_size(qtbot, tmp_path, built_folder):
    from photoclust_app.core.store.library import Library
    from photoclust_app.core.editing.session import Session
    from photoclust_app.gui.viewer import PhotoViewer

    lib = Library.open(built_folder, readonly=True)
    s = Session(lib)
    pid = s.members(s.cluster_ids()[0])[0]
    from PIL import Image

    Image.new("RGB", (3000, 1000), (10, 200, 10)).save(s.photo_path(pid))
    v = PhotoViewer(s, [pid], pid)
    qtbot.addWidget(v)
    v.resize(900, 700)
    v.show()
    qtbot.waitUntil(lambda: v.loaded is not None, timeout=15000)
    fit = v.canvas.image_rect()
    assert fit.width() == v.canvas.width() and fit.height() == v.canvas.width() // 3   # all of it, in the window
    v.zoom_actual()
    assert v.canvas.image_rect().size() == QSize(3000, 1000)                           # 1:1
    v.close()
    lib.close()


def test_double_click_and_the_map_open_the_viewer(opened, qtbot):
    win = opened
    idx = win.grid_model.index(3)
    win.grid_view.doubleClicked.emit(idx)
    assert win.actions.viewer.current_id() == win.grid_model.photo_id(idx)
    win.actions.viewer.close()
    qtbot.waitUntil(lambda: win.actions.viewer is None)
    blue = win.session.members(win.session.cluster_ids()[2])[0]
    win.map_view.photoActivated.emit(blue)
    assert win.actions.viewer.current_id() == blue
    win.actions.viewer.close()


def test_open_externally_and_show_in_folder_say_when_they_cannot(opened, monkeypatch):
    from photoclust_app.gui import actions

    monkeypatch.setattr(actions, "open_file", lambda p: False)     # QDesktopServices.openUrl said no
    monkeypatch.setattr(actions, "show_in_folder", lambda p: False)
    win = opened
    pid = win.grid_model.photo_ids()[0]
    win.select_photos([pid])
    win.actions.open_photo.trigger()
    msg = win.statusBar().currentMessage()
    assert "No program on this computer opened" in msg and str(win.session.photo_path(pid)) in msg
    assert win._last_box.isVisible()
    win._last_box.close()
    win.actions.show_folder.trigger()
    assert "No file manager could be opened" in win.statusBar().currentMessage()
    win._last_box.close()


# -- the grid --------------------------------------------------------------------------------
def test_every_cell_is_the_same_size_and_shows_the_thumbnail_whole(opened, qtbot):
    from PySide6.QtGui import QFontMetrics

    win = opened
    grid = win.grid_view
    d = grid.itemDelegate()
    cell = QRect(QPoint(0, 0), grid.gridSize())
    t = grid.thumb_size()
    for w, h in ((40, 200), (300, 30), (160, 120), (96, 72), (120, 160)):   # whatever comes first
        r = d.fitted_rect(cell, QSize(w, h))
        assert r.width() <= t and r.height() <= t and (r.width() == t or r.height() == t)   # whole, full size
        assert abs(r.width() / r.height() - w / h) < 0.05
        assert r.bottom() == d.thumb_rect(cell).bottom()                                     # on its name
    opt = QStyleOptionViewItem()
    sizes = {d.sizeHint(opt, win.grid_model.index(r)).toTuple() for r in range(win.grid_model.rowCount())}
    assert sizes == {grid.gridSize().toTuple()}
    fm = QFontMetrics(grid.font())
    assert grid.gridSize().height() >= t + fm.height() + 6      # room for the caption under every square
    # painted: a portrait thumbnail in the first cell is not cropped
    portrait = QPixmap(60, 180)
    portrait.fill(QColor(255, 0, 0))
    img = QImage(cell.size(), QImage.Format.Format_RGB32)
    img.fill(QColor(255, 255, 255))
    p = QPainter(img)
    opt = QStyleOptionViewItem()
    opt.rect = cell
    opt.font = grid.font()
    opt.palette = grid.palette()

    class Index:   # stands in for a model index with this thumbnail
        def data(self, role):
            return portrait if role == Qt.ItemDataRole.DecorationRole else "tall.jpg"

    d.initStyleOption = lambda o, i: setattr(o, "text", "tall.jpg")
    d.paint(p, opt, Index())
    p.end()
    ys = [y for y in range(img.height()) if img.pixelColor(cell.center().x(), y).red() > 200
          and img.pixelColor(cell.center().x(), y).green() < 60]
    assert len(ys) >= t - 2                                      # full height of the square: not cropped


def test_the_grid_fills_the_pane(opened, qtbot):
    win = opened
    grid = win.grid_view
    win.resize(1200, 800)
    qtbot.wait(50)
    cell = grid.gridSize().width()
    width = grid.viewport().width()
    columns = width // cell
    assert columns >= 1 and width - columns * cell < columns + 2   # no ragged gap on the right


def test_ctrl_wheel_and_ctrl_plus_minus_resize_thumbnails_and_it_is_remembered(opened, qtbot, make_window,
                                                                              built_folder):
    win = opened
    grid = win.grid_view
    before = grid.thumb_size()
    ev = QWheelEvent(QPointF(10, 10), QPointF(grid.viewport().mapToGlobal(QPoint(10, 10))), QPoint(0, 0),
                     QPoint(0, 120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier,
                     Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(grid.viewport(), ev)
    assert grid.thumb_size() == before + 16
    assert grid.itemDelegate().thumb == before + 16 and grid.gridSize().height() > before + 16
    assert win.thumbnails.size == 256                        # decoded sharp at the bigger size
    win.actions.zoom_out.trigger()
    win.actions.zoom_out.trigger()
    assert grid.thumb_size() == before - 16 and win.thumbnails.size == 160
    assert win.actions.zoom_in.shortcut().toString() == "Ctrl++"
    assert win.actions.zoom_out.shortcut().toString() == "Ctrl+-"
    _activate(win, qtbot)
    qtbot.keyClick(grid, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert grid.thumb_size() == before
    for _ in range(3):
        win.actions.zoom_in.trigger()
    assert int(win.settings.value("thumb_size")) == before + 48
    win.close()
    again = make_window()
    assert again.grid_view.thumb_size() == before + 48       # remembered
    assert again.open_folder(built_folder, index=False)
    wait_idle(qtbot, again)
    assert again.thumbnails.size == 256


def test_keyboard_navigation_in_the_grid(opened, qtbot):
    win = opened
    grid = win.grid_view
    _activate(win, qtbot)
    grid.setFocus()
    grid.setCurrentIndex(win.grid_model.index(0))
    qtbot.keyClick(grid, Qt.Key.Key_Right)
    assert grid.currentIndex().row() == 1
    qtbot.keyClick(grid, Qt.Key.Key_End)
    assert grid.currentIndex().row() == 11
    qtbot.keyClick(grid, Qt.Key.Key_Home)
    assert grid.currentIndex().row() == 0
    qtbot.keyClick(grid, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(grid, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert win.selected_photos() == win.grid_model.photo_ids()[:3]
    columns = grid.viewport().width() // grid.gridSize().width()
    if columns < 12:
        qtbot.keyClick(grid, Qt.Key.Key_Home)
        qtbot.keyClick(grid, Qt.Key.Key_Down)
        assert grid.currentIndex().row() == columns


def test_the_header_count_follows_undo_redo_and_recluster(opened):
    import numpy as np

    from photoclust_app.core.clustering.plan import ClusteringPlan

    win = opened
    red = win.session.cluster_ids()[0]
    assert win.grid_header.text().endswith("12 photos")
    win.select_photos(win.grid_model.photo_ids()[:2])
    win.actions.move_to_cluster(None)
    assert win.grid_header.text().endswith("10 photos") and win.grid_model.rowCount() == 10
    win.actions.undo.trigger()
    assert win.grid_header.text().endswith("12 photos")
    win.actions.redo.trigger()
    assert win.grid_header.text().endswith("10 photos")
    win.actions.undo.trigger()
    # a re-cluster that puts four more photos in the red cluster
    ids, xy, _ = win.session.layout()
    labels = np.array([win.session.cluster_ids().index(c) if (c := win.session.cluster_of(int(p))) is not None
                       else -1 for p in ids])
    unsorted = np.flatnonzero(labels == -1)
    labels[unsorted[:4]] = 0
    plan = ClusteringPlan(model="hand", photo_ids=np.asarray(ids), labels=labels,
                          probabilities=np.ones(len(ids), np.float32),
                          representatives={g: np.asarray(ids)[labels == g][:4].tolist() for g in (0, 1, 2)},
                          names={}, params={"min_cluster_size": 5}, metrics={}, xy=np.asarray(xy, np.float32))
    win.session.recluster(plan)
    assert win.session.cluster(red).size == 16
    assert win.grid_header.text().endswith("16 photos") and win.grid_model.rowCount() == 16


# -- merge -------------------------------------------------------------------------------------
def test_merge_from_the_clusters_menu_with_ctrl_m_keeps_the_merged_cluster_selected(opened, qtbot):
    win = opened
    red, green, blue = win.session.cluster_ids()
    menus = {m.title().replace("&", ""): m for m in win.menuBar().findChildren(type(win.menuBar().addMenu("x")))}
    assert win.actions.merge in menus["Clusters"].actions()
    assert win.actions.merge.shortcut().toString() == "Ctrl+M"
    assert win.actions.move_to.shortcut().toString() != "Ctrl+M"
    win.select_clusters([green, blue])
    win.cluster_view.selectionModel().setCurrentIndex(win.cluster_model.index(2),
                                                      win.cluster_view.selectionModel().SelectionFlag.NoUpdate)
    _activate(win, qtbot)
    win.cluster_view.setFocus()
    qtbot.keyClick(win.cluster_view, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert win.session.cluster_ids() == [red, blue]                   # into the current one
    assert win.session.cluster(blue).size == 24
    assert win.selected_clusters() == [blue] and win.grid_model.rowCount() == 24
    assert "Merged into" in win.statusBar().currentMessage()
    win.actions.undo.trigger()
    assert win.session.cluster_ids() == [red, green, blue]


def test_merge_in_the_cluster_context_menu_asks_the_target_for_one_cluster(opened, monkeypatch):
    from photoclust_app.gui import actions

    win = opened
    red, green, blue = win.session.cluster_ids()
    win.select_clusters([red])
    win.actions.cluster_context_menu(QPoint(5, 5))
    assert win.actions.merge in win.actions._menu.actions()
    win.actions._menu.close()
    asked = {}

    def fake_get_item(parent, title, label, items, current, editable):
        asked.update(label=label, items=items)
        return "green things", True

    monkeypatch.setattr(actions.QInputDialog, "getItem", staticmethod(fake_get_item))
    win.actions.merge.trigger()
    assert asked["items"] == ["green things", "blue things"]
    assert win.session.cluster_ids() == [green, blue] and win.selected_clusters() == [green]


# -- polish ------------------------------------------------------------------------------------
def test_move_dialog_says_1_photo_and_does_not_offer_its_own_cluster_first(opened, monkeypatch):
    from photoclust_app.gui import actions

    win = opened
    red, green, blue = win.session.cluster_ids()
    asked = {}

    def fake_get_item(parent, title, label, items, current, editable):
        asked.update(label=label, items=items, current=current)
        return items[current], True

    monkeypatch.setattr(actions.QInputDialog, "getItem", staticmethod(fake_get_item))
    pid = win.grid_model.photo_ids()[0]
    win.select_photos([pid])
    win.actions.move_to.trigger()
    assert asked["label"] == "Move 1 photo to:"
    assert asked["items"] == ["green things", "blue things", "Unsorted"]   # not "red things"
    assert win.session.cluster_of(pid) == green                            # the default moved it
    win.select_clusters([None])
    win.select_photos(win.grid_model.photo_ids()[:3])
    win.actions.move_to.trigger()
    assert asked["label"] == "Move 3 photos to:" and "Unsorted" not in asked["items"]


def test_the_toolbar_does_not_shift_when_the_undo_label_grows(opened):
    win = opened
    tb = win.actions.toolbar
    button = tb.widgetForAction(win.actions.undo)
    split = tb.widgetForAction(win.actions.split)
    x_before, w_before = split.x(), button.width()
    win.session.rename(win.session.cluster_ids()[0], "A very long cluster name that would push everything")
    win.actions.update()
    tb.layout().activate()
    assert button.text() == "Undo" and "A very long cluster name" in button.toolTip()
    assert "A very long cluster name" in win.actions.undo.text()          # the menu still says what
    assert (split.x(), button.width()) == (x_before, w_before)


def test_skipped_dialog_shows_reasons_in_full_and_offers_show_and_retry(opened, qtbot, monkeypatch):
    from photoclust_app.core.records import Skip
    from photoclust_app.gui import desktop, progress_panel

    win = opened
    reason = "truncated or corrupt JPEG data; the end of the file is missing (was the copy interrupted?)"
    win.skipped_button.set_skips([Skip("reds/broken.jpg", reason), Skip("x.png", "permission denied")])
    dialogs = []
    monkeypatch.setattr(progress_panel.SkippedDialog, "exec", lambda self: dialogs.append(self) or 0)
    win.skipped_button.click()
    dlg = dialogs[0]
    dlg.show()
    table = dlg.table
    fm = table.fontMetrics()
    assert table.columnWidth(1) >= fm.horizontalAdvance(reason)               # the reason is read in full
    shown = []
    monkeypatch.setattr(desktop, "show_in_folder", lambda p: shown.append(p) or False)
    assert not dlg.show_selected()
    assert shown == [win.library.folder / "reds/broken.jpg"]
    assert dlg.status.isVisibleTo(dlg) and "No file manager" in dlg.status.text()
    retried = []
    dlg._retry = lambda: retried.append(True)
    dlg.retry_button.click()
    assert retried == [True]
    assert win.skipped_button.retry == win.reindex
    dlg.close()


def test_a_multi_photo_drag_shows_a_small_stack_with_a_count(opened, monkeypatch):
    from PySide6.QtGui import QDrag

    from photoclust_app.gui.models import mime as mimes
    from photoclust_app.gui.views.photo_grid_view import drag_pixmap

    win = opened
    win.select_clusters(win.session.cluster_ids() + [None])
    win.grid_view.selectAll()
    seen = {}

    def fake_exec(self, *a):
        seen.update(pixmap=self.pixmap(), mime=self.mimeData())
        return Qt.DropAction.IgnoreAction

    monkeypatch.setattr(QDrag, "exec", fake_exec)
    win.grid_view.startDrag(Qt.DropAction.CopyAction)
    pm = seen["pixmap"]
    assert pm.width() <= 130 and pm.height() <= 130                       # small, not 42 cells
    assert sorted(mimes.photo_ids(seen["mime"])) == sorted(win.session.photo_ids())
    single = drag_pixmap(QPixmap(160, 120), 1)
    assert single.width() < pm.width()                                      # one photo: no stack, no badge
    badge = pm.toImage().pixelColor(pm.width() - 8, 11)
    assert badge.red() > 150 and badge.green() < 90                         # the count badge


def test_no_open_a_folder_flash_when_a_folder_was_given(built_folder, qtbot, settings, monkeypatch):
    from photoclust_app.gui import app as gui_app
    from photoclust_app.gui.main_window import MainWindow

    headers = []
    real_show = MainWindow.show
    monkeypatch.setattr(MainWindow, "show", lambda self: (headers.append(self.grid_header.text()), real_show(self)))
    real_job = MainWindow.start_open_job
    monkeypatch.setattr(MainWindow, "start_open_job", lambda self, index=True: real_job(self, index=False))
    win = gui_app.start_window(str(built_folder), settings=settings)
    qtbot.addWidget(win)
    try:
        assert headers and "Open a folder" not in headers[0] and "Opening photos" in headers[0]
        qtbot.waitUntil(lambda: win.session is not None and not win.runner.is_running()
                        and win.session.photo_count() == 42, timeout=30000)
        assert "Open a folder" not in win.grid_header.text()
    finally:
        wait_idle(qtbot, win)
        win.close()

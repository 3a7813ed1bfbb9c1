"""The real window on a hand-clustered library: selection linked between list, grid and map;
edits from keys, menus and drops; undo/redo; everything still there after reopening."""
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QLineEdit

from photoclust_app.gui.models.cluster_list_model import SizeRole

from conftest import wait_idle


def names(win):
    m = win.cluster_model
    return [m.data(m.index(r)) for r in range(m.rowCount() - 2)]


def test_saved_clusters_show_at_once_with_first_selected(opened):
    win = opened
    assert names(win) == ["red things", "green things", "blue things"]
    assert win.selected_clusters() == [win.session.cluster_ids()[0]]
    assert win.grid_model.rowCount() == 12
    assert "42 photos" in win.summary_label.text() and "6 unsorted" in win.summary_label.text()
    assert win.windowTitle().startswith("photos")


def test_map_selection_drives_list_and_grid(opened, qtbot):
    win = opened
    ids, xy, labels = win.session.layout()
    blue = win.session.cluster_ids()[2]
    # the blue group sits around x = 10 in the hand-made layout
    with qtbot.waitSignal(win.map_view.selectionChanged):
        picked = win.map_view.select_in_rect(8.0, -3.0, 12.0, 3.0)
    assert picked and all(win.session.cluster_of(p) == blue for p in picked)
    assert win.selected_clusters() == [blue]
    assert win.grid_model.shown_clusters() == [blue]
    assert sorted(win.selected_photos()) == sorted(picked)


def test_map_selection_across_clusters_and_unsorted(opened):
    win = opened
    ids, xy, labels = win.session.layout()
    picked = win.map_view.select_in_rect(-100, -100, 100, 100)
    assert len(picked) == 42
    assert set(win.selected_clusters()) == set(win.session.cluster_ids()) | {None}
    assert win.grid_model.rowCount() == 42 and len(win.selected_photos()) == 42


def test_grid_and_list_selection_drive_the_map(opened):
    win = opened
    green = win.session.cluster_ids()[1]
    win.select_clusters([green])
    assert sorted(win.map_view.selected_ids()) == win.session.members(green)
    first = win.grid_model.index(0)
    win.grid_view.selectionModel().select(first, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    assert win.map_view.selected_ids() == [win.grid_model.photo_ids()[0]]


def test_rename_with_f2_in_place(opened, qtbot):
    win = opened
    view = win.cluster_view
    view.setFocus()
    view.setCurrentIndex(win.cluster_model.index(0))
    qtbot.keyClick(view, Qt.Key.Key_F2)
    editor = view.findChild(QLineEdit)
    qtbot.waitUntil(lambda: view.indexWidget(win.cluster_model.index(0)) is not None
                    or (editor is not None and editor.isVisible()))
    editor = [e for e in view.findChildren(QLineEdit) if e.isVisible()][0]
    assert editor.text() == "red things"
    editor.setText("Tomatoes")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: names(win)[0] == "Tomatoes")  # the delegate commits from the event loop
    assert "Tomatoes" in win.actions.undo.text()


def test_delete_dissolves_and_ctrl_z_brings_it_back(opened, qtbot):
    win = opened
    view = win.cluster_view
    view.setFocus()
    win.select_clusters([win.session.cluster_ids()[1]])
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert names(win) == ["red things", "blue things"]
    unsorted = win.cluster_model.index(win.cluster_model.rowCount() - 2)
    assert win.cluster_model.data(unsorted, SizeRole) == 18
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert names(win) == ["red things", "green things", "blue things"]
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert names(win) == ["red things", "blue things"]


def test_delete_in_the_filter_box_does_not_dissolve(opened, qtbot):
    win = opened
    win.filter_edit.setFocus()
    win.filter_edit.setText("x")
    qtbot.keyClick(win.filter_edit, Qt.Key.Key_Delete)
    assert len(names(win)) == 3


def test_ctrl_f_filters_clusters_by_name(opened, qtbot):
    win = opened
    qtbot.keyClick(win, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert win.filter_edit.hasFocus()
    qtbot.keyClicks(win.filter_edit, "gre")
    hidden = [win.cluster_view.isRowHidden(r) for r in range(win.cluster_model.rowCount())]
    assert hidden == [True, False, True, False, False]  # Unsorted and New cluster stay
    win.filter_edit.clear()
    assert not any(win.cluster_view.isRowHidden(r) for r in range(win.cluster_model.rowCount()))


def test_new_cluster_from_selection_and_move_to(opened):
    win = opened
    red = win.session.cluster_ids()[0]
    green = win.session.cluster_ids()[1]
    win.select_photos(win.grid_model.photo_ids()[:3])
    picked = win.selected_photos()
    assert win.actions.new_cluster.isEnabled()
    win.actions.new_cluster.trigger()
    new = win.session.cluster_ids()[-1]
    assert win.session.members(new) == sorted(picked)
    assert win.grid_model.rowCount() == 9
    win.select_photos(win.grid_model.photo_ids()[:2])
    moved = win.selected_photos()
    win.actions.move_to_cluster(green)
    assert all(win.session.cluster_of(p) == green for p in moved)
    assert win.grid_model.rowCount() == 7 and win.session.cluster(red).size == 7
    win.actions.undo.trigger()
    win.actions.undo.trigger()
    assert win.session.cluster(red).size == 12 and new not in win.session.cluster_ids()


def test_context_menu_opens_the_photo_externally_and_shows_it_in_its_folder(opened, monkeypatch):
    from photoclust_app.gui import actions

    opened_paths, shown = [], []
    monkeypatch.setattr(actions, "open_file", lambda p: opened_paths.append(p) or True)
    monkeypatch.setattr(actions, "show_in_folder", lambda p: shown.append(p) or True)
    win = opened
    win.select_photos([win.grid_model.photo_ids()[0]])
    win.actions.grid_context_menu(win.grid_view.mapToGlobal(win.grid_view.rect().center()))
    texts = [a.text() for a in win.actions._menu.actions() if not a.isSeparator()]
    assert {"&View Photo", "Open in &External Viewer", "&Move to Cluster\u2026", "&New Cluster from Selection",
            "Show in &Folder"} <= set(texts)
    win.actions._menu.close()
    win.actions.open_photo.trigger()
    assert opened_paths == [win.session.photo_path(win.grid_model.photo_ids()[0])]
    win.actions.show_folder.trigger()
    assert shown and shown[0].exists()


def test_edits_survive_quit_and_reopen(make_window, built_folder, qtbot, settings):
    win = make_window()
    win.open_folder(built_folder, index=False)
    wait_idle(qtbot, win)
    red, green, blue = win.session.cluster_ids()
    win.session.rename(red, "Tomatoes")
    win.session.merge(blue, green)
    win.session.move(win.session.members(None)[:2], red)
    expected = {c.display_name: win.session.members(c.id) for c in win.session.clusters()}
    win.close()
    assert settings.value("last_folder") == str(built_folder.resolve())
    again = make_window()
    again.open_folder(settings.value("last_folder"), index=False)
    wait_idle(qtbot, again)
    assert {c.display_name: again.session.members(c.id) for c in again.session.clusters()} == expected
    assert again.session.unsorted_count() == 4


def test_second_window_on_the_same_folder_is_read_only(make_window, built_folder, qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    first = make_window()
    first.open_folder(built_folder, index=False)
    wait_idle(qtbot, first)
    other = make_window(settings=QSettings(str(tmp_path / "other.ini"), QSettings.Format.IniFormat))
    assert other.open_folder(built_folder)
    wait_idle(qtbot, other)
    assert other.library.readonly and "read-only" in other.windowTitle()
    assert len(other.session.clusters()) == 3
    assert not other.actions.undo.isEnabled() and not other.actions.split.isEnabled()


def test_geometry_is_remembered(make_window, settings):
    win = make_window()
    win.resize(700, 500)  # within the offscreen screen (800 x 600): restoreGeometry clamps to it
    win.close()
    again = make_window()
    assert (again.width(), again.height()) == (700, 500)


def test_export_through_the_window(opened, qtbot, tmp_path):
    win = opened
    win.session.rename(win.session.cluster_ids()[0], "Tomatoes")
    win.actions.export.trigger()
    dlg = win.actions.export_dialog
    dlg.set_destination(tmp_path / "out")
    dlg.set_mode("copy")
    dlg.set_include_unsorted(False)
    rows = dict(dlg.preview_rows())
    assert rows == {"Tomatoes": 12, "green things": 12, "blue things": 12}
    with qtbot.waitSignal(dlg.exportFinished, timeout=30000) as sig:
        dlg.start_export()
    assert (tmp_path / "out" / "Tomatoes").is_dir()
    assert len(list((tmp_path / "out" / "Tomatoes").glob("*.jpg"))) == 12
    assert sig.args[0]
    dlg.close()


def test_settings_dialog_choice_is_used_and_reindexes(opened, monkeypatch):
    from photoclust_app.gui import settings_dialog

    win = opened
    win._model_override = None  # use the settings, as the app does
    shown = {}

    def fake_exec(dlg):
        shown["library"] = dlg.library_model()
        dlg.set_model("lite")
        dlg.save()
        return 1

    monkeypatch.setattr(settings_dialog.SettingsDialog, "exec", fake_exec)
    reindexed = []
    monkeypatch.setattr(win, "reindex", lambda: reindexed.append(True))
    win.actions.settings.trigger()
    assert shown["library"] == "hand"
    assert win.model_name == "lite" and win.settings.value("model") == "lite"
    assert reindexed == [True]


def test_settings_show_the_model_the_library_really_uses(opened, monkeypatch):
    """CLIP chosen, but the library fell back to lite: Settings says lite, and why."""
    from photoclust_app.gui import settings_dialog

    win = opened
    win._model_override = None
    win.settings.setValue("model", "clip")
    note = "CLIP weights could not be downloaded; using the offline model 'lite' instead."
    win.settings.setValue("model_notice", note)
    win.library.set_meta("model", "lite")
    shown = {}

    def fake_exec(dlg):
        shown.update(model=dlg.model(), library=dlg.library_model(), note=dlg.fallback_note())
        return 0

    monkeypatch.setattr(settings_dialog.SettingsDialog, "exec", fake_exec)
    win.actions.settings.trigger()
    assert shown["model"] == "clip"
    assert "EfficientNet-Lite0" in shown["library"] and "lite" in shown["library"]
    assert note in shown["note"] and "again" in shown["note"]
    win.library.set_meta("model", "clip:MobileCLIP2-S0/dfndr2b")   # CLIP came through later: no note
    win.actions.settings.trigger()
    assert shown["library"] == "CLIP (MobileCLIP2-S0/dfndr2b)" and shown["note"] == ""


def test_the_offline_notice_is_said_once_not_at_every_launch(opened):
    from PySide6.QtWidgets import QLabel

    from photoclust_app.core.ingest.index import IndexReport

    win = opened
    note = "CLIP weights could not be downloaded; using the offline model 'lite' instead."
    bar = win.statusBar()
    report = IndexReport(found=42, embedded=42, model="lite", notice=note)
    win._on_partial("index_report", report)          # this indexing moved the library to lite
    win._on_task_finished("open", report)
    assert bar.currentMessage().startswith(note) and "Indexed: 42 photos" in bar.currentMessage()
    bar.clearMessage()                               # it times out (30 s): nothing keeps it
    assert not any(note in w.text() for w in bar.findChildren(QLabel))
    again = IndexReport(found=42, model="lite", notice=note)   # the next launch: lite already
    win._on_partial("index_report", again)
    win._on_task_finished("open", again)
    assert note not in bar.currentMessage() and bar.currentMessage().startswith("Indexed: 42 photos")


def test_indexed_counts_photos_like_the_status_bar(opened):
    from photoclust_app.core.ingest.index import IndexReport
    from photoclust_app.core.records import Skip

    win = opened
    skips = [Skip("broken.jpg", "not an image"), Skip("x/huge.png", "too large")]
    report = IndexReport(found=44, embedded=0, skipped=skips, model="hand")   # 42 photos + 2 broken files
    win._on_task_finished("open", report)
    msg = win.statusBar().currentMessage()
    assert msg.startswith("Indexed: 42 photos, 0 embedded now, 2 files skipped")
    assert "42 photos" in win.summary_label.text()


def test_map_hover_gets_thumbnail_and_file_name(opened, qtbot):
    win = opened
    pid = win.session.members(win.session.cluster_ids()[1])[0]
    assert win.map_view.name_provider(pid) == win.session.relpath(pid) == "greens/g00.jpg"
    win.map_view.thumbnail_provider(pid)  # asks for it; it arrives off the GUI thread
    qtbot.waitUntil(lambda: win.map_view.thumbnail_provider(pid) is not None)
    assert win.map_view.thumbnail_provider(pid).width() == 96


def test_progress_panel_shows_stage_count_rate_and_time_left(qtbot):
    from photoclust_app.gui.progress_panel import ProgressPanel
    from photoclust_app.gui.tasks import RateMeter

    panel = ProgressPanel()
    qtbot.addWidget(panel)
    panel.begin("Finding photos")
    now = [0.0]
    panel._rate = RateMeter(lambda: now[0])
    panel.update_progress(0, 100, "index")
    now[0] = 4.0
    panel.update_progress(40, 100, "index")
    assert panel.label.text() == "Indexing \u00b7 40 / 100 \u00b7 10.0 photos/s \u00b7 0:06 left"
    assert (panel.bar.maximum(), panel.bar.value()) == (100, 40)
    cancelled = []
    panel.cancelRequested.connect(lambda: cancelled.append(True))
    panel.cancel_button.click()
    assert cancelled and not panel.cancel_button.isEnabled()


def test_reopening_the_same_folder_stays_writable(opened, built_folder, qtbot):
    win = opened
    assert win.open_folder(built_folder, index=False)
    wait_idle(qtbot, win)
    assert not win.library.readonly and len(win.session.clusters()) == 3


def test_export_dialog_exports_edits_made_while_it_is_open(opened, qtbot, tmp_path):
    """The dialog is not modal: a rename and a move made after it opened are what is exported."""
    win = opened
    red, green, blue = win.session.cluster_ids()
    win.actions.export.trigger()
    dlg = win.actions.export_dialog
    dlg.set_destination(tmp_path / "out")
    dlg.set_include_unsorted(True)
    assert dict(dlg.preview_rows()) == {"red things": 12, "green things": 12, "blue things": 12, "Unsorted": 6}
    moved = win.session.members(None)[:2]
    win.session.rename(red, "Tomatoes")
    win.session.move(moved, green)
    win.session.merge(blue, green)
    assert dict(dlg.preview_rows()) == {"Tomatoes": 12, "green things": 26, "Unsorted": 4}
    with qtbot.waitSignal(dlg.exportFinished, timeout=30000):
        dlg.start_export()
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["Tomatoes", "Unsorted", "green things"]
    green_files = {p.name for p in (out / "green things").iterdir()}
    assert {win.session.photo_path(p).name for p in moved} <= green_files and len(green_files) == 26
    assert len(list((out / "Unsorted").iterdir())) == 4
    dlg.close()


def test_export_dialog_reads_the_session_at_export_time(opened, qtbot, tmp_path):
    """An edit between the last preview and Export still reaches the export."""
    win = opened
    red = win.session.cluster_ids()[0]
    win.actions.export.trigger()
    dlg = win.actions.export_dialog
    dlg.set_destination(tmp_path / "out")
    dlg.wait_for_preview()
    win.session.rename(red, "Tomatoes")
    with qtbot.waitSignal(dlg.exportFinished, timeout=30000):
        dlg.start_export()                  # no preview asked for in between
    assert (tmp_path / "out" / "Tomatoes").is_dir() and not (tmp_path / "out" / "red things").exists()
    dlg.close()


def test_selections_are_row_ranges_not_one_index_per_photo(opened, monkeypatch):
    """What keeps selecting 100k photos interactive (figures: photoclust_app/gui/bench_gui.py)."""
    win = opened
    win.select_clusters(win.session.cluster_ids() + [None])
    grid, sel = win.grid_model, win.grid_view.selectionModel()
    assert grid.rowCount() == 42
    block = grid.photo_ids()[5:30]
    win.select_photos(list(reversed(block)))
    assert len(sel.selection()) == 1                     # one contiguous run: one range
    assert win.selected_photos() == block                # in grid order
    assert sorted(win.map_view.selected_ids()) == sorted(block)
    scattered = grid.photo_ids()[::3]
    win.select_photos(scattered)
    assert len(sel.selection()) == len(scattered) and win.selected_photos() == scattered
    win.grid_view.selectAll()
    assert len(sel.selection()) == 1 and win.selected_photos() == grid.photo_ids()
    assert len(win.map_view.selected_ids()) == 42
    copies = []
    real = type(grid).photo_ids
    monkeypatch.setattr(type(grid), "photo_ids", lambda self: copies.append(1) or real(self))
    assert len(win.selected_photos()) == 42 and copies == []   # no copy of the id list per photo
    win.actions.update()
    assert copies == [] and win.actions.move_to.isEnabled()


def test_fragmented_selection_replaced_by_another_reaches_the_map_once(opened, monkeypatch):
    from photoclust_app.gui import selection

    win = opened
    win.select_clusters(win.session.cluster_ids() + [None])
    grid = win.grid_model
    win.select_photos(grid.photo_ids()[::2])
    pushed = []
    real = win.map_view.set_selection
    monkeypatch.setattr(win.map_view, "set_selection", lambda ids: (pushed.append(sorted(ids)), real(ids)))
    monkeypatch.setattr(selection, "_FRAGMENTED", 4)
    win.select_photos(grid.photo_ids()[1::2])        # cleared quietly first, then selected
    assert pushed == [sorted(grid.photo_ids()[1::2])]   # not the whole grid in between
    assert win.selected_photos() == grid.photo_ids()[1::2]


def _activate(win, qtbot):
    from PySide6.QtWidgets import QApplication

    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)


def test_ctrl_z_undoes_at_start_up_not_swallowed_by_the_filter(opened, qtbot):
    from PySide6.QtWidgets import QApplication

    win = opened
    _activate(win, qtbot)
    focus = QApplication.focusWidget()
    assert focus is not win.filter_edit               # start-up focus is not the filter box
    win.session.rename(win.session.cluster_ids()[0], "Tomatoes")
    qtbot.keyClick(focus, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert names(win)[0] == "red things"


def test_ctrl_z_in_an_untouched_filter_box_undoes_the_edit(opened, qtbot):
    win = opened
    _activate(win, qtbot)
    win.filter_edit.setFocus()
    qtbot.waitUntil(win.filter_edit.hasFocus)
    win.session.rename(win.session.cluster_ids()[0], "Tomatoes")
    qtbot.keyClick(win.filter_edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert names(win)[0] == "red things"              # the window's undo, not the box's
    qtbot.keyClicks(win.filter_edit, "gre")
    qtbot.keyClick(win.filter_edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert names(win)[0] == "red things" and win.filter_edit.text() != "gre"   # its own typing first


def test_focus_does_not_jump_into_the_filter_when_a_task_disables_the_slider(opened, qtbot):
    import threading

    from PySide6.QtWidgets import QApplication

    win = opened
    _activate(win, qtbot)
    win.actions.granularity.slider.setFocus()         # the user just dragged it
    qtbot.waitUntil(win.actions.granularity.slider.hasFocus)
    release = threading.Event()
    win.runner.start("busy", lambda ctx: release.wait(10))   # stands in for a re-cluster
    win.actions.update()                               # busy: the slider is disabled
    try:
        assert not win.actions.granularity.slider.isEnabled()
        assert QApplication.focusWidget() is not win.filter_edit
        win.session.rename(win.session.cluster_ids()[0], "Tomatoes")
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert names(win)[0] == "red things"
    finally:
        release.set()
        wait_idle(qtbot, win)


def test_escape_in_the_filter_clears_it(opened, qtbot):
    win = opened
    _activate(win, qtbot)
    qtbot.keyClick(win, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(win.filter_edit, "gre")
    assert win.cluster_view.isRowHidden(0)
    qtbot.keyClick(win.filter_edit, Qt.Key.Key_Escape)
    assert win.filter_edit.text() == ""
    assert not any(win.cluster_view.isRowHidden(r) for r in range(win.cluster_model.rowCount()))
    win.session.rename(win.session.cluster_ids()[0], "Tomatoes")
    qtbot.keyClick(win.filter_edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert names(win)[0] == "red things" and win.filter_edit.text() == ""   # the window's undo


"""The window indexing a real folder with the tiny model: progress, skipped files, automatic
clustering, cancel, reopening, re-clustering and splitting; and the GUI thread keeps
processing events while the work runs (how long its worst stall is depends on the machine:
that figure is for benchmarks, not for tests)."""
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QTimer

from photoclust_app.gui.app import preload_gui_imports
from photoclust_app.core import pipeline  # noqa: E402
from sqlpeek import sql  # noqa: E402


pytestmark = pytest.mark.slow
TASK_TIMEOUT_MS = 300_000


class EventLoopMonitor(QObject):
    """A 10 ms timer on the GUI thread: which task stages it fired during, i.e. in which the
    event loop kept running."""

    def __init__(self, runner):
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.stage, self.ticks = "start", {}
        runner.progress.connect(lambda d, t, s: setattr(self, "stage", s))

    def start(self):
        self.timer.start()

    def _tick(self):
        self.ticks[self.stage] = self.ticks.get(self.stage, 0) + 1

    def stop(self):
        self.timer.stop()


def open_and_wait(qtbot, win, folder, **kw):
    with qtbot.waitSignal(win.taskEnded, timeout=TASK_TIMEOUT_MS) as sig:
        assert win.open_folder(folder, **kw)
    return sig.args


def test_open_indexes_clusters_and_the_gui_keeps_running(make_window, photo_folder, qtbot):
    (photo_folder / "broken.jpg").write_bytes(b"this is not a JPEG")
    preload_gui_imports()  # as run_app does before the window shows
    win = make_window()
    stages = []
    win.runner.progress.connect(lambda d, t, s: stages.append((s, d, t)))
    monitor = EventLoopMonitor(win.runner)
    monitor.start()
    args = open_and_wait(qtbot, win, photo_folder)
    monitor.stop()
    assert args == ["open", "finished"]
    assert {"scan", "index"} <= {s for s, _, _ in stages}
    assert ("index", 31, 31) in stages            # the bar reaches the end (30 photos + broken.jpg)
    assert win.session.photo_count() == 30
    assert win.library.last_clustering() is not None
    assert sum(c.size for c in win.session.clusters()) + win.session.unsorted_count() == 30
    assert len(win.session.clusters()) >= 2
    assert win.skipped_button.isVisible() and win.skipped_button.text() == "1 file skipped"
    assert "broken.jpg" in [s.relpath for s in win.skipped_button.skips]
    assert win.skipped_button.toolTip()
    qtbot.waitUntil(lambda: len(win.map_view.photo_ids()) == 30)
    assert not win.progress.isVisible()
    assert monitor.ticks.get("index", 0) > 0, monitor.ticks   # the event loop ran while indexing


def test_cancel_stops_and_keeps_what_was_done(make_window, photo_folder, qtbot):
    for i, p in enumerate(sorted(photo_folder.glob("*.jpg"))):  # 600 photos: enough to cancel mid-way
        for k in range(19):
            shutil.copy(p, photo_folder / f"copy{k}_{p.name}")
    win = make_window(index_options={"batch_size": 2, "workers": 0})
    asked = []

    def on_progress(done, total, stage):
        if stage == "index" and done >= 10 and not asked:
            asked.append(done)
            win.progress.cancel_button.click()

    win.runner.progress.connect(on_progress)
    args = open_and_wait(qtbot, win, photo_folder)
    assert asked and args == ["open", "cancelled"]
    kept = win.library.count_photos()
    assert 0 < kept < 600
    assert win.session.photo_count() == kept          # what was done is shown
    assert win.library.last_clustering() is None      # no clustering after a cancel
    win.runner.progress.disconnect(on_progress)
    with qtbot.waitSignal(win.taskEnded, timeout=TASK_TIMEOUT_MS) as sig:
        win.reindex()                                  # the next run carries on
    assert sig.args == ["open", "finished"]
    assert win.last_report.unchanged == kept and win.last_report.new == 600 - kept
    assert win.session.photo_count() == 600


@pytest.fixture
def indexed_folder(tmp_path, _indexed_template):
    dest = tmp_path / "indexed"
    shutil.copytree(_indexed_template, dest)
    return dest


def test_reopen_shows_saved_clusters_first_then_indexes_only_changes(make_window, indexed_folder, qtbot):
    from conftest import make_photos

    extra = indexed_folder / "extra"
    make_photos(extra, per_group=1, seed=5)          # 3 new photos
    (indexed_folder / "reds" / "r00.jpg").unlink()         # 1 removed
    win = make_window()
    first = []
    win.stateInstalled.connect(lambda: first or first.append(
        (win.session.photo_count(), len(win.session.clusters()))))
    args = open_and_wait(qtbot, win, indexed_folder)
    assert args == ["open", "finished"]
    assert first[0][0] == 30 and first[0][1] >= 2     # the saved state came first, clusters and all
    r = win.last_report
    assert (r.new, r.missing, r.unchanged, r.embedded) == (3, 1, 29, 3)
    assert win.session.photo_count() == 33 and win.session.missing_count() == 1  # kept, not deleted
    # new photos joined the clusters as they are (placed, an undoable step), without a re-cluster
    assert not sql(win.library, "SELECT 1 FROM photos WHERE id NOT IN (SELECT photo_id FROM assignments)")
    assert win.session.can_undo and "new photos" in win.session.undo_text


def test_granularity_reclusters_keeping_names_and_hand_placed_photos(make_window, indexed_folder, qtbot):
    win = make_window()
    open_and_wait(qtbot, win, indexed_folder)
    s = win.session
    first, second = s.clusters()[0].id, s.clusters()[1].id
    s.rename(first, "Mine")
    placed = s.members(first)[0]
    s.move([placed], second)
    g = win.actions.granularity
    g.rest_ms = 50
    lo, hi = g.stops_range()
    value = g.value()
    other = hi if value != hi else lo
    with qtbot.waitSignal(win.taskEnded, timeout=TASK_TIMEOUT_MS) as sig:
        g.slider.setValue(other)   # applies once the slider rests
    assert sig.args == ["recluster", "finished"]
    assert "Mine" in [c.display_name for c in s.clusters()]
    assert s.cluster_of(placed) == second
    assert pipeline.stored_groups(win.library) == other
    s.undo()  # the granularity comes back with the clustering it made
    assert pipeline.stored_groups(win.library) != other and s.cluster_of(placed) == second
    assert g.value() == value
    s.redo()
    assert s.undo_text == f"Exactly {other} groups" and g.value() == other
    before_names = {c.id: c.display_name for c in s.clusters()}
    s.undo()
    assert s.cluster_of(placed) == second and "Mine" in [c.display_name for c in s.clusters()]
    s.redo()
    assert {c.id: c.display_name for c in s.clusters()} == before_names


def test_split_one_cluster_and_undo(opened, qtbot):
    win = opened
    red = win.session.cluster_ids()[0]
    members = win.session.members(red)
    win.select_clusters([red])
    with qtbot.waitSignal(win.taskEnded, timeout=TASK_TIMEOUT_MS) as sig:
        win.actions.split.trigger()
    assert sig.args == ["split", "finished"]
    parts = [c for c in win.session.cluster_ids() if c != red and set(win.session.members(c)) <= set(members)
             and win.session.members(c)]
    assert parts, "the red cluster (two tight blobs) should come apart"
    assert sorted(sum((win.session.members(c) for c in [red, *parts]), [])) == members
    assert set(win.selected_clusters()) == {red, *parts}
    win.actions.undo.trigger()
    assert win.session.members(red) == members
    assert not [c for c in parts if c in win.session.cluster_ids()]


def test_cancel_during_a_fit_discards_it(opened, qtbot):
    win = opened
    win.select_clusters([win.session.cluster_ids()[0]])
    before = win.session.members(win.session.cluster_ids()[0])
    win.actions.split.trigger()
    qtbot.waitUntil(lambda: win.engine.pid is not None, timeout=30000)
    with qtbot.waitSignal(win.taskEnded, timeout=30000) as sig:
        win.progress.cancel_button.click()
    assert sig.args == ["split", "cancelled"]
    assert win.session.members(win.session.cluster_ids()[0]) == before
    assert not win.session.can_undo


def test_clip_unavailable_falls_back_to_the_offline_model_and_says_so_once(make_window, photo_folder, qtbot,
                                                                               no_network):
    win = make_window(model="clip")  # no network, empty cache: CLIP weights cannot be had
    win.auto_cluster = False          # the note is the point here, not the clusters
    args = open_and_wait(qtbot, win, photo_folder)
    assert args == ["open", "finished"]
    assert win.library.model == "lite"
    said = win.statusBar().currentMessage()
    assert "offline model" in said and "Indexed:" in said          # once, with what indexing did
    assert win.settings.value("model_notice") in said              # Settings explains the model with it
    win.statusBar().clearMessage()
    open_and_wait(qtbot, win, photo_folder)                         # the next launch: lite already
    assert win.library.model == "lite"
    assert "offline model" not in win.statusBar().currentMessage()


def test_a_damaged_library_is_offered_a_fresh_start_and_kept(make_window, indexed_folder, qtbot):
    """0.1 showed a raw sqlite3 error on open; now one sentence, and moving it aside on request."""
    from PySide6.QtWidgets import QMessageBox

    db = indexed_folder / ".photoclust" / "library.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    db.write_bytes(b"\x5a" * 8192)
    win = make_window()
    asked = []
    win.ask_repair = lambda what, path: asked.append(what) or QMessageBox.StandardButton.Yes
    assert win.open_folder(indexed_folder)
    assert asked and "damaged" in asked[0] and "Traceback" not in asked[0]
    assert list(db.parent.glob("library.sqlite.damaged-*"))     # kept, not deleted
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=TASK_TIMEOUT_MS)
    assert win.session.photo_count() > 0                        # indexed afresh


def test_missing_photos_are_shown_as_missing_and_keep_their_cluster(make_window, indexed_folder, qtbot):
    from PySide6.QtCore import Qt

    gone = sorted(indexed_folder.rglob("*.jpg"))[0]
    gone.unlink()
    win = make_window()
    open_and_wait(qtbot, win, indexed_folder)
    s = win.session
    [pid] = [p for p in s.photo_ids() if s.is_missing(p)]
    cid = s.cluster_of(pid)
    win.select_clusters([cid])
    row = win.grid_model.row_of(pid)
    idx = win.grid_model.index(row)
    assert "(missing)" in idx.data(Qt.ItemDataRole.DisplayRole)
    assert "did not find" in idx.data(Qt.ItemDataRole.ToolTipRole)


def test_a_first_pass_from_previews_is_clustered_then_refined_without_moving_anything(make_window, photo_folder,
                                                                                      qtbot):
    from PIL import Image

    from camera_files import camera_jpeg

    for p in sorted(photo_folder.glob("*.jpg")):  # camera files: a 160x120 preview covers tiny-test's 64 px
        with Image.open(p) as im:
            main = im.convert("RGB").resize((320, 240))
        p.write_bytes(camera_jpeg(main, preview=(160, 120)))
    win = make_window(index_options={"workers": 0, "batch_size": 8, "previews": True})
    stages = []
    win.runner.progress.connect(lambda d, t, s: stages.append(s))
    args = open_and_wait(qtbot, win, photo_folder)
    assert args == ["open", "finished"]
    assert win.last_report.from_preview == 30
    assert "refine" in stages and stages.index("refine") > stages.index("index")
    assert sql(win.library, "SELECT COUNT(*) FROM embeddings WHERE from_preview=1") == [(0,)]
    assert win.library.last_clustering() is not None  # clustered from the previews, applied
    shown = {pid: win.session.cluster_of(pid) for pid in win.library.relpaths()}
    assert shown == win.library.assignments() and len(set(shown.values()) - {None}) >= 2
    with qtbot.waitSignal(win.taskEnded, timeout=TASK_TIMEOUT_MS) as sig:
        win.reindex()  # nothing to refine or re-cluster: the clusters stay
    assert sig.args == ["open", "finished"] and win.library.assignments() == shown

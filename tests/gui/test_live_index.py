"""The window while it works: photos appear in the list, grid and map as each index batch
commits (a provisional map for a first index, the neighbours' place on an existing layout),
nothing the user did is reset by them, and clustering's progress says the time left."""
import shutil

import numpy as np
import pytest

from photoclust_app.gui.progress_panel import ProgressPanel
from photoclust_app.gui.tasks.stage_eta import StageSpeeds

pytestmark = pytest.mark.slow
TASK_TIMEOUT_MS = 300_000


def record_live(win):
    """What the window shows at each live batch (after the window has handled it)."""
    seen = []

    def on_partial(kind, payload):
        if kind == "live":
            unsorted = win.cluster_model.index(win.cluster_model.rowCount() - 2)
            seen.append({"photos": win.session.photo_count(), "grid": win.grid_model.rowCount(),
                         "map": set(win.map_view.photo_ids().tolist()), "batch": payload.photo_ids.tolist(),
                         "label": win.cluster_model.data(unsorted), "summary": win.summary_label.text(),
                         "projection": payload.projection, "running": win.runner.is_running(),
                         "xy": win.map_view.position(int(payload.photo_ids[0]))})
        else:
            seen.append(kind)

    win.runner.partial.connect(on_partial)   # after the window's own slot: it has handled the batch
    return seen


def test_a_first_index_shows_photos_in_grid_and_map_before_it_ends(make_window, photo_folder, qtbot):
    win = make_window(index_options={"workers": 0, "batch_size": 2})
    seen = record_live(win)
    with qtbot.waitSignal(win.taskEnded, timeout=TASK_TIMEOUT_MS):
        assert win.open_folder(photo_folder)
    live = [s for s in seen if isinstance(s, dict)]
    assert live, seen
    first = live[0]
    assert first["running"] and 0 < first["photos"] < 30            # shown while the index still ran
    assert seen.index(live[0]) < seen.index("index_report") < seen.index("plan")
    assert first["grid"] == first["photos"]                           # a first index shows Unsorted, filling
    assert set(first["batch"]) <= first["map"] and len(first["map"]) == first["photos"]
    assert first["projection"] == "pca"
    assert first["label"] == f"Unsorted \u00b7 {first['photos']} new"
    assert f"({first['photos']} new)" in first["summary"]
    assert [s["photos"] for s in live] == sorted(s["photos"] for s in live) and live[-1]["photos"] == 30
    # the real layout replaced the provisional map, and no photo is "new" once clustered
    qtbot.waitUntil(lambda: len(win.map_view.photo_ids()) == 30 and not win.live.provisional)
    lids, lxy = win.library.layout()
    assert sorted(lids.tolist()) == sorted(win.map_view.photo_ids().tolist())
    pid = int(lids[0])
    assert np.allclose(win.map_view.position(pid), lxy[0])
    assert win.session.new_count() == 0 and "new" not in win.summary_label.text()


def test_new_photos_appear_near_their_neighbours_and_leave_the_users_work_alone(make_window, tmp_path,
                                                                                 _indexed_template, qtbot):
    folder = tmp_path / "photos"
    shutil.copytree(_indexed_template, folder)
    win = make_window()
    with qtbot.waitSignal(win.taskEnded, timeout=TASK_TIMEOUT_MS):
        assert win.open_folder(folder, index=False)
    qtbot.waitUntil(lambda: len(win.map_view.photo_ids()) == 30)
    s = win.session
    big = max(s.clusters(), key=lambda c: c.size)
    original = s.members(big.id)[0]
    twin = s.relpath(original)
    shutil.copy(folder / twin, folder / twin.replace(".jpg", "_copy.jpg"))   # same pixels: ORIGINAL's vector
    s.rename(big.id, "my name")                              # the user's work before the index
    moved = s.members(big.id)[1]
    s.move([moved], None)
    win.select_clusters([big.id])
    seen = record_live(win)
    with qtbot.waitSignal(win.taskEnded, timeout=TASK_TIMEOUT_MS):
        win.reindex()
    live = [x for x in seen if isinstance(x, dict)]
    assert len(live) == 1 and live[0]["projection"] == "place" and live[0]["running"]
    new = live[0]["batch"][0]
    assert live[0]["photos"] == 31 and new in live[0]["map"]
    assert win.selected_clusters() == [big.id]        # the user's selection stays
    assert s.cluster(big.id).display_name == "my name" and s.cluster_of(moved) is None
    # the map showed it among its twin's cluster before any placement was applied
    members = [p for p in s.members(big.id) if p != new and p != moved]
    xy = np.array([win.map_view.position(p) for p in members])
    assert ((live[0]["xy"] >= xy.min(0)) & (live[0]["xy"] <= xy.max(0))).all()
    assert seen.index(live[0]) < seen.index("placement")


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_the_panel_says_the_time_left_and_its_bar_only_moves_forward(qtbot, settings):
    panel = ProgressPanel()
    qtbot.addWidget(panel)
    panel.clock = clock = Clock()
    panel.speeds = StageSpeeds(settings)
    panel.begin("Finding photos", clustering_size=lambda: 100_000)
    panel.update_progress(5, 10, "index")
    assert panel.label.text().startswith("Indexing")            # not a clustering stage: as before
    panel.update_progress(0, 0, "cluster")                       # a job's announcement: no estimate yet
    assert panel.eta is None
    values = []
    for stage, seconds in (("neighbours", 20), ("reduce", 10), ("cluster", 4), ("layout", 12)):
        panel.update_progress(0, 1, stage)
        for _ in range(8):
            clock.t += seconds / 8
            panel._tick()   # the timer's work, on the fake clock
            values.append(panel.bar.value())
            assert panel.label.text().startswith("Clustering \u00b7 ") and panel.label.text().endswith(" left")
        panel.update_progress(1, 1, stage)
        values.append(panel.bar.value())
    assert values == sorted(values) and values[0] > 0 and max(values[:-1]) < panel.bar.maximum()
    panel.end()
    learnt = StageSpeeds(settings).load()
    assert learnt["reduce"] == pytest.approx((10 - 0.5) / 100_000)
    panel.begin("Clustering\u2026", clustering_size=lambda: 100_000)
    panel.update_progress(0, 1, "neighbours")
    assert panel.eta.expected("neighbours") == pytest.approx(20.0)   # the next run expects what this one took


def test_a_split_is_not_timed_as_a_clustering(qtbot):
    panel = ProgressPanel()
    qtbot.addWidget(panel)
    panel.begin("Splitting\u2026")   # no clustering size: the stages show as before
    panel.update_progress(0, 1, "reduce")
    assert panel.eta is None and panel.label.text() == "Reducing \u00b7 0 / 1"

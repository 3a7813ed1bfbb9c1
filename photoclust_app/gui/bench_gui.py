"""How fast the window answers at scale: ``bench_gui(n)`` times the real MainWindow, offscreen,
on a synthetic library of N photos (no image files, no model: photos, tiny thumbnails and
small vectors written through the Library API, then a made-up clustering).

Timed, each a few times (median and worst, in ms, every figure including the events it
causes, i.e. what the user waits for before the window answers again):
- showing every photo in the grid, then selecting 10k grid rows (a Shift-click) and all of
  them (Ctrl+A), each pushed to the map; picking 10k scattered photos on the map
  (list, grid and map follow);
- moving 1k photos to another cluster (map recoloured), undoing it, renaming a cluster;
- the map's ``set_points`` of every photo plus a repaint;
- the grid: first layout, then a repaint per jump while scrolling through it;
- the live fill: the GUI-thread time per committed batch of LIVE_BATCH new photos (the
  window's handling of one "live" partial: session, grid rows, list, map, and the repaint),
  with one cluster on show and with every photo and Unsorted on show, and the engine-side
  time to place such a batch;
- (``startup=True``) the time to the first window in a fresh process.

The figures stay out of the tests (they depend on the machine and its load); the tests check
behaviour only. Returns one flat dict of numbers.
"""
from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np


def build_synthetic_library(folder: Path, n: int, *, clusters: int | None = None, seed: int = 0) -> None:
    """A library of N photos in FOLDER (no image files): one shared small JPEG thumbnail,
    8-d vectors, and a clustering into CLUSTERS groups (default n // 500, at least 3) with
    about 5% Unsorted and a 2-D layout of one blob per cluster."""
    from PIL import Image

    from photoclust_app.core.clustering.plan import ClusteringPlan, apply_clustering
    from photoclust_app.core.records import PhotoMeta, PhotoRecord
    from photoclust_app.core.store.library import IndexedPhoto, Library

    k = clusters or max(3, n // 500)
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(buf, "JPEG", quality=70)
    jpeg = buf.getvalue()
    labels = rng.integers(0, k, n)
    labels[rng.random(n) < 0.05] = -1
    vectors = np.eye(8, dtype=np.float32)[np.maximum(labels, 0) % 8]
    items = [IndexedPhoto(PhotoRecord(f"d{i // 1000:03d}/p{i:06d}.jpg", 1, 1), str(i), PhotoMeta(64, 48), jpeg,
                          vectors[i]) for i in range(n)]
    with Library.open(folder) as lib:
        lib.set_meta("model", "bench")
        ids = np.array(lib.add_photos(items, "bench"), dtype=np.int64)
        centres = rng.normal(0, 30, (k + 1, 2))
        xy = (centres[labels + 1] + rng.normal(0, 1, (n, 2))).astype(np.float32)
        present = sorted(set(labels.tolist()) - {-1})
        plan = ClusteringPlan(
            model="bench", photo_ids=ids, labels=labels, probabilities=np.ones(n, np.float32),
            representatives={lab: ids[labels == lab][:4].tolist() for lab in present},
            names={lab: f"group {lab}" for lab in present}, params={"min_cluster_size": 5}, metrics={}, xy=xy)
        apply_clustering(lib, plan)


LIVE_BATCH = 256


def _live_fill(app, win, out: dict, batches: int, seed: int, name: str) -> None:
    """Batches of LIVE_BATCH new photos written as the index writes them, each handed to the
    window as the engine's "live" partial; the figure is the GUI thread's time per batch."""
    from photoclust_app.core.ingest.live_batches import LiveBatches
    from photoclust_app.core.records import PhotoMeta, PhotoRecord
    from photoclust_app.core.store.library import IndexedPhoto

    lib, rng = win.library, np.random.default_rng(seed + 1)
    jpeg = lib.thumbnail(win.session.photo_ids()[0])
    sent = []
    live = LiveBatches(lib, sent.append, interval=0.0)
    gui_t, engine_t = [], []
    before = win.session.new_count()
    for b in range(batches):
        labels = rng.integers(0, 8, LIVE_BATCH)
        vectors = (np.eye(8, dtype=np.float32)[labels] + rng.normal(0, 0.05, (LIVE_BATCH, 8))).astype(np.float32)
        items = [IndexedPhoto(PhotoRecord(f"live/{name}{b:03d}_{i:03d}.jpg", 1, 1), f"live{b}-{i}", PhotoMeta(64, 48),
                              jpeg, vectors[i]) for i in range(LIVE_BATCH)]
        with lib.transaction():
            ids = lib.add_photos(items, lib.model)
        live.committed(ids, [it.record.relpath for it in items], vectors)
        batch = sent[-1]
        engine_t.append(batch.stats["seconds"])
        gui_t.append(_timed(app, lambda: win._on_partial("live", batch)))
    assert win.session.new_count() == before + batches * LIVE_BATCH
    _stats(f"live_batch_{LIVE_BATCH}_gui_{name}", gui_t, out)
    _stats(f"live_batch_{LIVE_BATCH}_engine_place_{name}", engine_t, out)


def _stats(name: str, times_s: list[float], out: dict) -> None:
    ms = [t * 1000 for t in times_s]
    out[f"{name}_median_ms"] = round(statistics.median(ms), 1)
    out[f"{name}_max_ms"] = round(max(ms), 1)


def _timed(app, fn: Callable[[], object]) -> float:
    """Seconds for FN and every event it leaves queued (paints, the map's timer)."""
    t0 = time.perf_counter()
    fn()
    app.processEvents()
    return time.perf_counter() - t0


def _wait(app, condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.005)
    return False


def _startup_seconds() -> float | None:
    """Seconds from starting a fresh ``run_app`` process to its first window (probe mode)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
                   PHOTOCLUST_STARTUP_PROBE="1", XDG_CONFIG_HOME=tmp, PHOTOCLUST_LOG_DIR=tmp)
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", "from photoclust_app.gui.app import run_app; "
                              "raise SystemExit(run_app(None))"], env=env, capture_output=True, text=True,
                             timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("photoclust-window-shown "):
            return float(line.split()[1]) - t0
    return None


def bench_gui(n: int = 100_000, *, repeats: int = 5, startup: bool = True, seed: int = 0) -> dict:
    """Time the main window on a synthetic library of N photos; see the module docstring."""
    if not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QItemSelection, QItemSelectionModel, QSettings

    from photoclust_app.gui.app import make_application
    from photoclust_app.gui.main_window import MainWindow

    app = make_application()
    out: dict = {"n": n, "repeats": repeats}
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix="photoclust-bench-gui-") as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        t0 = time.perf_counter()
        build_synthetic_library(folder, n, seed=seed)
        out["build_library_s"] = round(time.perf_counter() - t0, 2)

        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        win = MainWindow(settings=settings, model="bench", device="cpu")
        win.resize(1400, 900)
        win.show()
        try:
            t0 = time.perf_counter()
            if not win.open_folder(folder, index=False):
                raise RuntimeError(f"could not open the synthetic library in {folder}")
            _wait(app, lambda: not win.runner.is_running() and len(win.map_view.photo_ids()) == n, 600)
            out["open_s"] = round(time.perf_counter() - t0, 2)
            s = win.session
            everything = s.cluster_ids() + [None]

            # -- grid: show all photos, select rows, select all, pick on the map -------------------
            times = []
            for _ in range(repeats):
                win.select_clusters(s.cluster_ids()[:1])
                app.processEvents()
                times.append(_timed(app, lambda: win.select_clusters(everything)))
            _stats("show_all_in_grid", times, out)
            grid, sel_model = win.grid_model, win.grid_view.selectionModel()
            rows = grid.rowCount()
            k10 = min(10_000, rows)

            def select_rows(lo: int, hi: int) -> None:
                sel_model.select(QItemSelection(grid.index(lo), grid.index(hi)),
                                 QItemSelectionModel.SelectionFlag.ClearAndSelect)

            times = []
            for i in range(repeats):
                sel_model.clearSelection()
                app.processEvents()
                lo = (i * 997) % max(1, rows - k10)
                times.append(_timed(app, lambda: select_rows(lo, lo + k10 - 1)))
            assert len(win.selected_photos()) == k10 and len(win.map_view.selected_ids()) == k10
            _stats("select_10k_rows", times, out)
            times = []
            for _ in range(repeats):
                sel_model.clearSelection()
                app.processEvents()
                times.append(_timed(app, win.grid_view.selectAll))
            assert len(win.map_view.selected_ids()) == rows
            _stats("select_all_rows", times, out)
            out["select_all_rows_count"] = rows

            ids = np.array(s.photo_ids(), dtype=np.int64)
            times = []
            for _ in range(repeats):
                picked = rng.choice(ids, size=min(10_000, len(ids)), replace=False).tolist()
                win.select_clusters(s.cluster_ids()[:1])
                app.processEvents()
                times.append(_timed(app, lambda: win._on_map_selection(picked)))
            assert sorted(win.selected_photos()) == sorted(picked)
            _stats("map_pick_10k", times, out)

            # -- edits: move 1k, undo, rename ---------------------------------------------------------
            win.select_clusters(everything)
            app.processEvents()
            src, dst = s.cluster_ids()[0], s.cluster_ids()[1]
            moving = s.members(src)[:1000]
            move_t, undo_t = [], []

            def flush_map() -> None:   # the map's coalescing timer, fired now
                if win._map_timer.isActive():
                    win._map_timer.stop()
                    win._refresh_map()

            for _ in range(repeats):
                win.select_photos(moving)
                app.processEvents()
                move_t.append(_timed(app, lambda: (win.actions.move_to_cluster(dst), flush_map())))
                assert all(s.cluster_of(p) == dst for p in moving)
                undo_t.append(_timed(app, lambda: (win.actions.undo.trigger(), flush_map())))
                assert all(s.cluster_of(p) == src for p in moving)
            _stats("move_1k", move_t, out)
            _stats("undo_move_1k", undo_t, out)
            times = []
            for i in range(repeats):
                times.append(_timed(app, lambda: (s.rename(src, f"renamed {i}"), flush_map())))
            _stats("rename", times, out)

            # -- map -----------------------------------------------------------------------------------
            times = []
            layout_t = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                points = s.layout()
                layout_t.append(time.perf_counter() - t0)
                times.append(_timed(app, lambda: (win.map_view.set_points(*points), win.map_view.repaint())))
            _stats("session_layout", layout_t, out)
            _stats("map_set_points_repaint", times, out)

            # -- grid: first layout and scrolling ----------------------------------------------------------
            win.select_clusters(s.cluster_ids()[:1])
            app.processEvents()
            bar = win.grid_view.verticalScrollBar()
            t0 = time.perf_counter()
            win.select_clusters(everything)
            _wait(app, lambda: bar.maximum() > 0, 60)
            out["grid_first_layout_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            times = []
            for k in range(1, 61):   # 60 jumps through the whole grid, painting each
                bar.setValue(bar.maximum() * k // 60)
                t = time.perf_counter()
                win.grid_view.viewport().repaint()
                times.append(time.perf_counter() - t)
                app.processEvents()   # let decoded thumbnails arrive, as between frames
            _stats("grid_scroll_repaint", times, out)
            _wait(app, lambda: win.thumbnails.pending() == 0, 60)

            # -- live fill: photos shown as the index commits them -------------------------------------
            win.select_clusters(s.cluster_ids()[:1])   # the usual case: a cluster on show
            app.processEvents()
            _live_fill(app, win, out, batches=max(3, repeats * 2), seed=seed, name="one_cluster_shown")
            win.select_clusters(everything)   # the worst: all shown, Unsorted too (grid rows and highlight grow)
            app.processEvents()
            _live_fill(app, win, out, batches=max(3, repeats * 2), seed=seed + 7, name="all_shown")
        finally:
            win.close()
            win.deleteLater()
            app.processEvents()
    if startup:
        shown = _startup_seconds()
        if shown is not None:
            out["startup_window_shown_s"] = round(shown, 2)
    return out


if __name__ == "__main__":  # python -m photoclust_app.gui.bench_gui [n]
    import json

    print(json.dumps(bench_gui(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000), indent=1))

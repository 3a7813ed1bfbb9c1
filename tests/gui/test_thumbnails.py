"""Thumbnails decode off the GUI thread, newest request first; the grid lays out and scrolls
through 10,000 photos and their thumbnails arrive (how fast: photoclust_app/gui/bench_gui.py)."""
import io
import threading

import numpy as np
import pytest
from PIL import Image

from photoclust_app.core.store.library import IndexedPhoto, Library
from photoclust_app.core.records import PhotoMeta, PhotoRecord
from photoclust_app.core.editing.session import Session
from photoclust_app.gui import thumbnails as thumbs_mod
from photoclust_app.gui.thumbnails import ThumbnailLoader

from conftest import HeldThreadPool  # noqa: E402


def test_decoding_happens_off_the_gui_thread(built_folder, qtbot, monkeypatch):
    threads = []
    real = ThumbnailLoader._decode

    def spy(self, pid, size=None):
        threads.append(threading.get_ident())
        return real(self, pid, size)

    monkeypatch.setattr(ThumbnailLoader, "_decode", spy)
    loader = ThumbnailLoader(built_folder)
    announced_on = []
    loader.loaded.connect(lambda pid: announced_on.append(threading.get_ident()))
    try:
        assert loader.pixmap(1) is None  # not yet: it is loading
        with qtbot.waitSignal(loader.loaded, timeout=10000) as sig:
            pass
        assert sig.args == [1]
        assert threads and threading.get_ident() not in threads
        assert announced_on == [threading.get_ident()]   # handed over, announced on the GUI thread
        pm = loader.pixmap(1)
        assert pm is not None and pm.width() == 96
        assert loader.image(1).width() == 96
    finally:
        loader.close()


def test_newest_request_first_and_missing_ones_do_not_hang(built_folder, qtbot):
    order = []


    pool = HeldThreadPool()
    loader = ThumbnailLoader(built_folder, pool=pool, max_threads=1)
    loader.loaded.connect(order.append)
    for pid in (1, 2, 3, 9999):
        loader.request(pid)
    assert loader.pending() == 4 and len(pool.tasks) == 1
    pool.tasks[0].run()
    assert order == [9999, 3, 2, 1]  # most recent first
    assert loader.pending() == 0 and loader.is_loaded(9999) and loader.pixmap(9999) is None
    loader.close()


def test_old_requests_are_dropped_when_scrolling_fast(built_folder, monkeypatch):
    monkeypatch.setattr(thumbs_mod, "MAX_QUEUED", 5)

    class Pool:
        def start(self, r):
            pass

    loader = ThumbnailLoader(built_folder, pool=Pool(), max_threads=1)
    for pid in range(1, 21):
        loader.request(pid)
    assert loader.backlog() == 5 and loader.pending() == 5 and loader._stack == [16, 17, 18, 19, 20]


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory):
    """10,000 photos (tiny thumbnails, no files needed for the grid) in one cluster."""
    folder = tmp_path_factory.mktemp("big")
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(buf, "JPEG")
    jpeg = buf.getvalue()
    items = [IndexedPhoto(PhotoRecord(f"d{i // 1000}/p{i:05d}.jpg", 1, 1), str(i), PhotoMeta(64, 48), jpeg,
                          np.ones(4, np.float32)) for i in range(10_000)]
    with Library.open(folder) as lib:
        ids = lib.add_photos(items, "m")
        cid = lib.create_cluster("All")
        lib.assign(ids, cid, manual=False)
    return folder


@pytest.mark.slow
def test_scrolling_through_10k_photos_lays_out_and_loads(big_folder, qtbot):
    from photoclust_app.gui.models.photo_grid_model import PhotoGridModel
    from photoclust_app.gui.views import PhotoGridView

    lib = Library.open(big_folder)
    loader = ThumbnailLoader(big_folder)
    try:
        session = Session(lib)
        model = PhotoGridModel(session, loader)
        view = PhotoGridView()
        view.setModel(model)
        view.resize(900, 700)
        view.show()
        qtbot.addWidget(view)
        model.set_clusters([session.cluster_ids()[0]])
        assert model.rowCount() == 10_000
        bar = view.verticalScrollBar()
        qtbot.waitUntil(lambda: bar.maximum() > 0)       # the grid laid out
        arrived = []
        loader.loaded.connect(arrived.append)
        for k in range(1, 61):  # 60 jumps through the whole grid, painting each
            bar.setValue(bar.maximum() * k // 60)
            view.viewport().repaint()
            qtbot.wait(1)  # let decoded thumbnails arrive, as they would between frames
            assert loader.backlog() <= thumbs_mod.MAX_QUEUED   # what scrolled past is dropped
        qtbot.waitUntil(lambda: loader.pending() == 0, timeout=20000)
        assert arrived                                    # thumbnails arrived while scrolling
        screen = view.viewport().rect()
        on_screen = [model.photo_id(model.index(r)) for r in range(model.rowCount())
                     if view.visualRect(model.index(r)).intersects(screen)]
        assert on_screen
        view.viewport().repaint()
        qtbot.waitUntil(lambda: all(loader.is_loaded(p) for p in on_screen), timeout=20000)
        assert all(loader.pixmap(p) is not None for p in on_screen)   # what is on screen is loaded
    finally:
        loader.close()
        lib.close()

"""A live folder: photos added while the window is open are noticed (debounced), indexed and
placed without the user asking; sidecars, photoclust's own folder and export folders are not
photos; F5 re-indexes on demand."""
import os
import shutil
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtGui import QKeySequence

from conftest import make_photos
from photoclust_app.gui.folder_watch import FolderWatcher


@pytest.fixture
def watcher(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(FolderWatcher, "DEBOUNCE_MS", 100)
    folder = tmp_path / "photos"
    (folder / "trip").mkdir(parents=True)
    (folder / "a.jpg").write_bytes(b"a")
    w = FolderWatcher(folder, since_ns=time.time_ns())   # a.jpg is older
    yield folder, w
    w.stop()


def test_new_changed_and_removed_photos_are_noticed_once_per_burst(watcher, qtbot):
    folder, w = watcher
    with qtbot.waitSignal(w.changed, timeout=10000):
        for i in range(20):                          # an import: one signal for the burst
            (folder / "trip" / f"n{i}.jpg").write_bytes(b"n")
    with qtbot.waitSignal(w.changed, timeout=10000):
        os.replace(folder / "trip" / "n0.jpg", folder / "a.jpg")   # an editor saving over a photo
    with qtbot.waitSignal(w.changed, timeout=10000):
        (folder / "new").mkdir()                      # a new folder with a photo in it
        (folder / "new" / "b.jpg").write_bytes(b"b")
    assert str(folder / "new") in w.watched()
    with qtbot.waitSignal(w.changed, timeout=10000):
        shutil.rmtree(folder / "new")
    assert str(folder / "new") not in w.watched()


def test_sidecars_the_library_and_exports_are_not_photos(watcher, qtbot, tmp_path):
    folder, w = watcher
    outside = tmp_path / "outside"
    outside.mkdir()
    with qtbot.assertNotEmitted(w.changed, wait=600):
        (folder / "a.jpg.xmp").write_text("<x/>")
        (folder / ".photoclust").mkdir()
        (folder / ".photoclust" / "c.jpg").write_bytes(b"c")
        (folder / "sorted").mkdir()
        (folder / "sorted" / ".photoclust-export").write_bytes(b"")
        (folder / "link").symlink_to(outside)
    (outside / "d.jpg").write_bytes(b"d")
    (folder / "sorted" / "e.jpg").write_bytes(b"e")
    assert set(w.watched()) == {str(folder), str(folder / "trip")}


def test_photos_copied_in_while_the_window_is_open_start_an_index(opened, qtbot, monkeypatch):
    """The window asks for the index (F5's, which indexes and places new photos: see
    test_indexing's reopen test for what that index does) without the user asking."""
    win = opened
    asked = []
    monkeypatch.setattr(win, "reindex", lambda: asked.append("index"))
    assert QKeySequence("F5") in win.actions.reindex.shortcuts()
    qtbot.waitUntil(lambda: str(win.library.folder) in win.folder_watcher.watched(), timeout=10000)  # walked in a thread
    make_photos(win.library.folder / "new", per_group=1, seed=9)   # 3 photos arrive
    qtbot.waitUntil(lambda: asked == ["index"], timeout=20000)
    monkeypatch.setattr(win.runner, "is_running", lambda: True)    # busy: the index waits for idle
    win._on_folder_changed()
    assert asked == ["index"] and win._watch_pending
    monkeypatch.undo()
    monkeypatch.setattr(win, "reindex", lambda: asked.append("index"))
    win._on_idle()
    qtbot.waitUntil(lambda: asked == ["index", "index"], timeout=5000)


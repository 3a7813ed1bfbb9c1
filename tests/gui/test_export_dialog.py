"""ExportDialog over a Session on a small real Library (no model): preview, copy export, undo,
errors, and edits made while it is open."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import errno
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6 import QtCore, QtGui

from photoclust_app.core import export as export_core
from photoclust_app.core.editing.session import Session
from photoclust_app.core.store.library import IndexedPhoto, Library
from photoclust_app.core.records import PhotoMeta, PhotoRecord
from photoclust_app.gui.export_dialog import ExportDialog

# relpath -> cluster name (None: Unsorted). "dogs" collides with "Dogs" on a case-insensitive
# file system, "Cats/Kittens" holds a separator: both must come out as safe, distinct folders.
PHOTOS = {
    "a.jpg": "Dogs", "b.jpg": "Dogs", "trip/c.jpg": "Dogs",
    "d.jpg": "Cats/Kittens", "trip/e.jpg": "Cats/Kittens",
    "f.jpg": "dogs",
    "g.jpg": None, "trip/h.jpg": None,
}


@pytest.fixture
def library(tmp_path):
    folder = tmp_path / "photos"
    items = []
    for i, rel in enumerate(PHOTOS):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (16, 12), (30 * i, 200 - 20 * i, 90)).save(path, quality=90)
        st = path.stat()
        items.append(IndexedPhoto(PhotoRecord(rel, st.st_size, st.st_mtime_ns), f"hash{i}",
                                  PhotoMeta(16, 12), b"", np.eye(8, dtype=np.float32)[i]))
    with Library.open(folder) as lib:
        ids = dict(zip(PHOTOS, lib.add_photos(items, model="test")))
        clusters = {}
        for rel, name in PHOTOS.items():
            if name is not None:
                if name not in clusters:
                    clusters[name] = lib.create_cluster(name)
                lib.assign([ids[rel]], clusters[name])
        yield lib


@pytest.fixture
def session(library):
    return Session(library)


@pytest.fixture
def dialog(qtbot, session):
    d = ExportDialog(session)
    qtbot.addWidget(d)
    return d


def test_preview_rows_are_sanitised_and_deduplicated(dialog, tmp_path):
    dialog.set_destination(tmp_path / "out")
    assert dialog.preview_rows() == [("Dogs", 3), ("Cats_Kittens", 2), ("dogs (2)", 1)]
    assert dialog.error_text() == ""
    assert dialog._export_btn.isEnabled()
    assert not (tmp_path / "out").exists()          # the preview is a dry run


def test_include_unsorted_toggles_a_row(dialog, tmp_path):
    dialog.set_destination(tmp_path / "out")
    dialog.set_include_unsorted(True)
    assert dialog.preview_rows()[-1] == ("Unsorted", 2)
    assert len(dialog.preview_rows()) == 4
    dialog.set_include_unsorted(False)
    assert [name for name, _ in dialog.preview_rows()] == ["Dogs", "Cats_Kittens", "dogs (2)"]


def test_typing_a_destination_refreshes_after_a_pause(dialog, tmp_path, qtbot):
    dialog.set_destination(tmp_path / "out")
    dialog.wait_for_preview()
    dialog._dest.setText(str(tmp_path / "out2"))            # as typing does: no refresh yet
    assert dialog._plan.dest == (tmp_path / "out").resolve() and dialog._timer.isActive()
    qtbot.waitUntil(lambda: dialog._plan is not None and dialog._plan.dest == (tmp_path / "out2").resolve(),
                    timeout=5000)
    assert not dialog._timer.isActive()


def test_preview_plans_off_the_gui_thread_and_drops_stale_results(dialog, tmp_path, qtbot, monkeypatch):
    dialog.wait_for_preview()                               # the plan for the default destination
    real = export_core.plan_export
    threads, gate = [], threading.Event()

    def held_plan(*args, **kw):
        threads.append(threading.current_thread())
        gate.wait(30)                                       # held until the test lets it go
        return real(*args, **kw)

    monkeypatch.setattr(export_core, "plan_export", held_plan)
    dialog.set_destination(tmp_path / "a")
    dialog.set_mode("symlink")
    dialog.set_destination(tmp_path / "b")
    # Back here while the first plan is still held: the GUI thread did not wait for it (the
    # worker looks for an earlier export in DEST before it plans, hence the wait).
    qtbot.waitUntil(lambda: len(threads) == 1, timeout=10000)
    assert not gate.is_set() and len(threads) == 1 and dialog._planner.is_running()
    assert not dialog._export_btn.isEnabled() and "Updating" in dialog._summary.text()
    gate.set()
    rows = dialog.preview_rows()
    assert rows == [("Dogs", 3), ("Cats_Kittens", 2), ("dogs (2)", 1)]
    assert dialog._plan.dest == (tmp_path / "b").resolve() and dialog._plan.mode == "symlink"
    assert threading.main_thread() not in threads
    assert len(threads) == 2        # the first plan ran; the two requests made during it became one
    assert dialog._export_btn.isEnabled()


def _ids(library):
    return {p.relpath: p.id for p in library.photos()}


def test_preview_follows_session_edits_while_open(dialog, session, library, tmp_path, qtbot):
    dialog.set_destination(tmp_path / "out")
    dialog.set_include_unsorted(True)
    assert dialog.preview_rows() == [("Dogs", 3), ("Cats_Kittens", 2), ("dogs (2)", 1), ("Unsorted", 2)]
    assert "(2 photos)" in dialog._unsorted_box.text()
    dogs, cats = session.cluster_ids()[:2]
    session.rename(dogs, "Hounds")
    session.move([_ids(library)["g.jpg"]], cats)
    qtbot.waitUntil(lambda: dialog._planned_gen == dialog._gen and dialog._plan is not None
                    and ("Hounds", 3) in dialog._plan.folders, timeout=10000)   # no option touched
    # "dogs" no longer collides with "Dogs": it needs no suffix now
    assert dialog.preview_rows() == [("Hounds", 3), ("Cats_Kittens", 3), ("dogs", 1), ("Unsorted", 1)]
    assert "(1 photos)" in dialog._unsorted_box.text()


def test_export_after_rename_and_move_exports_the_session_as_it_is(dialog, session, library, tmp_path, qtbot):
    dest = tmp_path / "out"
    dialog.set_destination(dest)
    assert dialog.preview_rows() == [("Dogs", 3), ("Cats_Kittens", 2), ("dogs (2)", 1)]
    ids = _ids(library)
    dogs, cats = session.cluster_ids()[:2]
    session.rename(dogs, "Hounds")
    session.move([ids["a.jpg"]], cats)
    with qtbot.waitSignal(dialog.exportFinished, timeout=20000):
        dialog.start_export()                       # at once: the preview may not have caught up
    assert sorted(p.name for p in dest.iterdir() if p.is_dir()) == ["Cats_Kittens", "Hounds", "dogs"]
    assert sorted(p.name for p in (dest / "Hounds").iterdir()) == ["b.jpg", "c.jpg"]
    assert sorted(p.name for p in (dest / "Cats_Kittens").iterdir()) == ["a.jpg", "d.jpg", "e.jpg"]
    assert "Copied 6 photos into 3 folders" in dialog._result.text()


@pytest.mark.parametrize("shown", [True, False])
def test_closing_stops_listening_to_the_session(dialog, session, qtbot, shown):
    dialog.wait_for_preview()
    session.rename(session.cluster_ids()[0], "Sooner")
    assert dialog._timer.isActive()                       # open: an edit plans the preview again
    dialog.wait_for_preview()
    if shown:
        dialog.show()
        qtbot.waitExposed(dialog)
    dialog.close()
    session.rename(session.cluster_ids()[0], "Later")
    assert not dialog._timer.isActive()                   # closed: the session no longer calls it


def test_copy_export_then_undo(dialog, library, tmp_path, qtbot, monkeypatch):
    dest = tmp_path / "out"
    dialog.set_destination(dest)
    dialog.set_include_unsorted(True)
    progress, shown_on = [], []
    dialog._progress.valueChanged.connect(progress.append)
    real_show = dialog._show_result
    monkeypatch.setattr(dialog, "_show_result", lambda text: (shown_on.append(threading.current_thread()),
                                                              real_show(text)))
    with qtbot.waitSignal(dialog.exportFinished, timeout=20000) as sig:
        dialog.start_export()
    manifest = Path(sig.args[0])
    assert manifest.is_file() and manifest.parent == dest.resolve()
    expected = {"Dogs": ["a.jpg", "b.jpg", "c.jpg"], "Cats_Kittens": ["d.jpg", "e.jpg"],
                "dogs (2)": ["f.jpg"], "Unsorted": ["g.jpg", "h.jpg"]}
    by_name = {Path(rel).name: library.folder / rel for rel in PHOTOS}
    for folder, names in expected.items():
        assert sorted(p.name for p in (dest / folder).iterdir()) == names
        for n in names:
            assert (dest / folder / n).read_bytes() == by_name[n].read_bytes()
    assert all((library.folder / rel).is_file() for rel in PHOTOS)   # copy keeps the originals
    assert "Copied 8 photos into 4 folders" in dialog._result.text()
    assert shown_on == [threading.main_thread()]                # widgets touched on the GUI thread only
    assert progress and progress[-1] == 8 and dialog._progress.maximum() == 8
    assert dialog._undo_btn.isEnabled() and not dialog.is_running()

    report = dialog.undo_last_export()
    assert report.removed == 8 and report.restored == 0 and report.refused == []
    assert not dest.exists()                                    # it created dest, so undo removes it
    assert all((library.folder / rel).is_file() for rel in PHOTOS)
    assert "8 exported files removed" in dialog._result.text()
    assert dialog.manifest_path() is None and not dialog._undo_btn.isEnabled()


def test_destination_that_is_a_file_shows_a_sentence(dialog, tmp_path, qtbot):
    f = tmp_path / "not-a-folder"
    f.write_text("x")
    dialog.set_destination(f)
    assert "is a file, not a folder" in dialog.error_text()
    assert dialog.preview_rows() == [] and not dialog._export_btn.isEnabled()
    with qtbot.assertNotEmitted(dialog.exportFinished):
        dialog.start_export()          # no exception, nothing started
    assert not dialog.is_running()
    assert "Traceback" not in dialog.error_text()


def test_relative_and_empty_destinations_explain_themselves(dialog):
    dialog.set_destination("relative/place")
    assert "full path" in dialog.error_text()
    dialog.set_destination("")
    assert dialog.error_text() == "Choose a destination folder."
    assert dialog.preview_rows() == []


def test_failure_while_running_is_a_sentence(dialog, tmp_path, qtbot, monkeypatch):
    def disk_full(plan, progress=None, cancel=None):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out"))

    monkeypatch.setattr(export_core, "run_export", disk_full)
    dialog.set_destination(tmp_path / "out")
    with qtbot.assertNotEmitted(dialog.exportFinished):
        dialog.start_export()
        qtbot.waitUntil(lambda: not dialog.is_running(), timeout=10000)
    msg = dialog.error_text()
    assert msg.startswith("The export could not go on: No space left on device")
    assert msg.endswith(".") and "Traceback" not in msg
    assert dialog._export_btn.isEnabled()                       # the user can try again


def test_cancel_keeps_a_manifest_that_undo_cleans_up(dialog, tmp_path, qtbot, monkeypatch):
    real = export_core.run_export
    monkeypatch.setattr(export_core, "run_export",
                        lambda plan, progress=None, cancel=None: real(plan, progress=progress, cancel=lambda: True))
    dest = tmp_path / "out"
    dialog.set_destination(dest)
    dialog.start_export()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=10000)
    assert "cancelled" in dialog.error_text().lower()
    assert dialog.manifest_path() is not None and dialog._undo_btn.isEnabled()
    report = dialog.undo_last_export()
    assert report.removed == 0 and report.refused == []
    assert not dest.exists()


def test_closing_while_running_cancels_then_closes(dialog, tmp_path, qtbot, monkeypatch):
    real = export_core.run_export

    def slow(plan, progress=None, cancel=None):
        return real(plan, progress=progress, cancel=lambda: time.sleep(0.05) or cancel())

    monkeypatch.setattr(export_core, "run_export", slow)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.set_destination(tmp_path / "out")
    dialog.start_export()
    assert dialog.is_running() and dialog._progress_box.isVisible()
    dialog.reject()                                            # Close / Escape while running
    assert dialog.isVisible() and not dialog._cancel_btn.isEnabled()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10000)
    assert not dialog.is_running()
    assert "cancelled" in dialog.error_text().lower()
    assert dialog.manifest_path() is not None                  # what was done can still be undone
    report = dialog.undo_last_export()
    assert report.refused == [] and not (tmp_path / "out").exists()


def test_mode_explanations_and_move_warning(dialog, tmp_path):
    dialog.set_destination(tmp_path / "out")
    assert not dialog._move_warning.isVisibleTo(dialog)
    notes = set()
    for mode in ("copy", "move", "symlink", "hardlink"):
        dialog.set_mode(mode)
        assert dialog.mode() == mode
        notes.add(dialog._mode_note.text())
        assert dialog._move_warning.isVisibleTo(dialog) == (mode == "move")
        assert dialog.preview_rows()        # every mode plans on the same disk
    assert len(notes) == 4
    with pytest.raises(ValueError):
        dialog.set_mode("teleport")


def test_show_in_folder_opens_destination(dialog, tmp_path, qtbot, monkeypatch):
    opened = []
    monkeypatch.setattr(QtGui.QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) or True))
    dialog.set_destination(tmp_path / "out")
    with qtbot.waitSignal(dialog.exportFinished, timeout=20000):
        dialog.start_export()
    dialog._show_btn.click()
    assert opened == [QtCore.QUrl.fromLocalFile(str((tmp_path / "out").resolve()))]


def test_a_move_export_leaves_no_red_error_about_the_state_it_made(dialog, library, tmp_path, qtbot):
    """0.1 re-planned right after a Move export and showed the moved photos as an error."""
    dest = tmp_path / "out"
    dialog.set_destination(dest)
    dialog.set_mode("move")
    dialog.wait_for_preview()
    with qtbot.waitSignal(dialog.exportFinished, timeout=20000):
        dialog.start_export()
    qtbot.waitUntil(lambda: not dialog.is_running())
    assert dialog.error_text() == "" and not dialog._error.isVisible()
    assert "Moved 6 photos" in dialog._result.text() and "now live in the export" in dialog._summary.text()
    report = dialog.undo_last_export()
    assert report.restored == 6 and all((library.folder / rel).is_file() for rel in PHOTOS)


def test_photos_the_export_will_not_touch_are_shown_as_skipped(dialog, library, tmp_path):
    gone = next(library.folder / rel for rel in PHOTOS if Path(rel).name == "f.jpg")
    gone.unlink()   # missing since the last scan
    dialog.set_destination(tmp_path / "out")
    dialog.wait_for_preview()
    assert dialog.error_text() == ""
    assert "1 skipped (missing" in dialog._summary.text() and "f.jpg" in dialog._summary.toolTip()


def test_exporting_again_updates_the_earlier_export_and_says_so_first(dialog, session, library, tmp_path, qtbot):
    dest = tmp_path / "out"
    dialog.set_destination(dest)
    with qtbot.waitSignal(dialog.exportFinished, timeout=20000):
        dialog.start_export()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=10000)
    dogs = session.cluster_ids()[0]
    session.move([_ids(library)["g.jpg"], _ids(library)["f.jpg"]], dogs)   # one new, one from "dogs"
    qtbot.waitUntil(lambda: dialog._planned_gen == dialog._gen and dialog._update_info is not None, timeout=10000)
    info = dialog.update_info()
    assert (info.earlier, info.added, info.already, len(info.moved)) == (1, 2, 5, 1)
    assert dialog.preview_rows() == [("Dogs", 2)]
    assert "1 new photo to add, 5 already there, 1 to move to their cluster's folder" in dialog.summary_text()
    assert dialog._fresh_box.isVisibleTo(dialog)
    with qtbot.waitSignal(dialog.exportFinished, timeout=20000):
        dialog.start_export()
    assert "Updated the earlier export: added 2 photos" in dialog._result.text()
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.jpg")) == [
        "Cats_Kittens/d.jpg", "Cats_Kittens/e.jpg", "Dogs/a.jpg", "Dogs/b.jpg", "Dogs/c.jpg", "Dogs/f.jpg",
        "Dogs/g.jpg"]                                         # nothing doubled, nothing stale
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=10000)
    assert "Nothing new to export" in dialog.summary_text() and not dialog._export_btn.isEnabled()
    dialog.set_fresh(True)                                     # a separate export is one click away
    assert dialog.update_info() is None and dialog.preview_rows() == [("Dogs", 5), ("Cats_Kittens", 2)]


def test_the_dialog_remembers_the_last_destination_and_mode(session, tmp_path, qtbot):
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    d = ExportDialog(session, settings=settings)
    qtbot.addWidget(d)
    d.set_destination(tmp_path / "links")
    d.set_mode("symlink")
    with qtbot.waitSignal(d.exportFinished, timeout=20000):
        d.start_export()
    qtbot.waitUntil(lambda: not d.is_running(), timeout=10000)
    again = ExportDialog(session, settings=settings)
    qtbot.addWidget(again)
    assert again.destination() == str(tmp_path / "links") and again.mode() == "symlink"


def test_the_xmp_box_tags_the_photos_after_the_export(dialog, session, library, tmp_path, qtbot):
    from photoclust_app.core.tags import xmp

    dialog.set_destination(tmp_path / "out")
    dialog.set_mode("move")
    assert not dialog._xmp_box.isEnabled()
    dialog.set_mode("copy")
    dialog.set_write_xmp(True)
    with qtbot.waitSignal(dialog.exportFinished, timeout=20000):
        dialog.start_export()
    assert "Tags written to 6 XMP sidecars" in dialog._result.text()
    assert xmp.ours((library.folder / "a.jpg.xmp").read_bytes()) == ["Dogs"]
    assert not (library.folder / "g.jpg.xmp").exists()          # Unsorted


def test_one_photo_per_duplicate_group_leaves_the_copies_out_and_lists_them(qtbot, session, library, tmp_path):
    """The stored duplicate groups (File > Find Duplicates) make the option available: the
    keeper is exported, its copy is not, and the manifest lists the copy as left out."""
    ids = {p.relpath: p.id for p in library.photos()}
    plain = ExportDialog(session)
    qtbot.addWidget(plain)
    assert not plain._dupes_box.isEnabled() and "Find Duplicates first" in plain._dupes_box.text()
    library.set_duplicate_groups([("identical", ids["a.jpg"], [ids["a.jpg"], ids["b.jpg"]])])
    d = ExportDialog(session)
    qtbot.addWidget(d)
    dest = tmp_path / "out"
    d.set_destination(dest)
    assert d._dupes_box.isEnabled() and "1 copy left out" in d._dupes_box.text()
    d._dupes_box.setChecked(True)
    d.wait_for_preview()
    assert d.preview_rows()[0] == ("Dogs", 2)
    with qtbot.waitSignal(d.exportFinished, timeout=20000) as sig:
        d.start_export()
    assert sorted(p.name for p in (dest / "Dogs").iterdir()) == ["a.jpg", "c.jpg"]
    text = Path(sig.args[0]).read_text()
    assert '"left_out"' in text and "b.jpg" in text

"""The GUI's thumbnail path and skipped-files list fed hostile library rows: odd or broken
thumbnail bytes, a decompression bomb in a thumbnail blob, missing rows, photo ids that do
not exist, file names with newlines and invalid UTF-8. Each ends in the placeholder (or a
scaled image), never an exception and never a full-size decode."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported

import io  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from hostile import jpeg, jpeg_declaring, noisy, png16, png_declaring, truncated_jpeg  # noqa: E402
from photoclust_app.core.store.library import Library  # noqa: E402
from photoclust_app.core.records import Skip  # noqa: E402
from photoclust_app.core.editing.session import Session  # noqa: E402
from photoclust_app.gui.models.photo_grid_model import PhotoGridModel  # noqa: E402
from photoclust_app.gui.progress_panel import SkippedButton, SkippedDialog  # noqa: E402
from photoclust_app.gui.thumbnails import THUMB_SIZE, ThumbnailLoader, placeholder  # noqa: E402

from conftest import InlineThreadPool  # noqa: E402


def _big_jpeg() -> bytes:
    buf = io.BytesIO()
    noisy((3000, 2000), seed=4).save(buf, "JPEG", quality=70)
    return buf.getvalue()


def _gif() -> bytes:
    buf = io.BytesIO()
    noisy((90, 60), seed=5).convert("P").save(buf, "GIF")
    return buf.getvalue()


# name -> (thumbnail bytes, True: must load as an image / False: must be the placeholder / None: either)
HOSTILE = {
    "empty": (b"", False),
    "garbage": (b"\x00\xffgarbage" * 40, False),
    "text": (b"<html><script>alert(1)</script></html>", False),
    "png bomb 30000x30000": (png_declaring(30000, 30000), False),
    "jpeg bomb 30000x30000": (jpeg_declaring(30000, 30000), False),
    "truncated jpeg": (truncated_jpeg(), None),  # Qt may show the half that is there
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" width="20000" height="20000">'
            b'<image href="file:///etc/passwd"/></svg>', None),
    "big jpeg 3000x2000": (_big_jpeg(), True),
    "gif": (_gif(), True),
    "16-bit png": (png16(), True),
    "control jpeg": (jpeg(), True),
}


@pytest.fixture
def hostile_library(built_folder):
    """The hand-built library with thumbnail blobs replaced by hostile bytes, one thumbnail
    row deleted, and two photo paths renamed to odd names; returns (folder, {case: id})."""
    with Library.open(built_folder) as lib:
        ids = [p.id for p in lib.photos()]
        cases = dict(zip(HOSTILE, ids))
        with lib.transaction() as c:
            for case, pid in cases.items():
                c.execute("UPDATE thumbnails SET jpeg=? WHERE photo_id=?", (HOSTILE[case][0], pid))
            missing = ids[len(HOSTILE)]
            c.execute("DELETE FROM thumbnails WHERE photo_id=?", (missing,))
            c.execute("UPDATE photos SET relpath=? WHERE id=?", (os.fsencode("reds/new\nline.jpg"), ids[-1]))
            c.execute("UPDATE photos SET relpath=? WHERE id=?", (b"reds/bad\xff\xfe.jpg", ids[-2]))
    cases["no thumbnail row"] = missing
    cases["no such photo"] = 10 ** 9
    return built_folder, cases, ids


def test_hostile_thumbnail_bytes_give_placeholder_not_crash(hostile_library, qapp):
    folder, cases, _ = hostile_library
    loader = ThumbnailLoader(folder, pool=InlineThreadPool())
    loaded = []
    loader.loaded.connect(loaded.append)
    try:
        for case, pid in cases.items():
            assert loader.pixmap(pid) is None  # first ask: starts loading (inline here)
            assert pid in loaded and loader.is_loaded(pid), case
            pm = loader.pixmap(pid)
            want = HOSTILE.get(case, (None, False))[1]
            if want is True:
                assert pm is not None and not pm.isNull(), case
                assert max(pm.width(), pm.height()) <= THUMB_SIZE, case
            elif want is False:
                assert pm is None, case  # failed: the views draw the placeholder
            elif pm is not None:
                assert max(pm.width(), pm.height()) <= THUMB_SIZE, case
            assert loader.pending() == 0
    finally:
        loader.close()


def test_grid_shows_placeholder_for_broken_thumbnails_and_odd_names(hostile_library, qapp):
    folder, cases, ids = hostile_library
    lib = Library.open(folder)
    loader = ThumbnailLoader(folder, pool=InlineThreadPool())
    try:
        session = Session(lib)
        grid = PhotoGridModel(session, loader)
        grid.set_clusters(session.cluster_ids() + [None])
        assert grid.rowCount() == len(ids)
        ph = placeholder()
        for row in range(grid.rowCount()):
            idx = grid.index(row)
            pid = grid.photo_id(idx)
            grid.data(idx, Qt.ItemDataRole.DecorationRole)  # loads inline
            deco = grid.data(idx, Qt.ItemDataRole.DecorationRole)
            assert deco is not None and not deco.isNull()
            if pid in (cases["garbage"], cases["png bomb 30000x30000"], cases["no thumbnail row"]):
                assert deco.cacheKey() == ph.cacheKey()
            name = grid.data(idx, Qt.ItemDataRole.DisplayRole)
            assert isinstance(name, str) and name
    finally:
        loader.close()
        lib.close()


HOSTILE_SKIPS = [Skip("new\nline.jpg", "not an image (unrecognised format)"),
                 Skip(os.fsdecode(b"bad\xff.jpg"), "permission denied"),
                 Skip("x" * 300 + ".jpg", "too large (900 MP, limit 200 MP)"),
                 Skip("loop", "symbolic link (not followed)")]


def test_skipped_list_shows_hostile_names(qtbot):
    button = SkippedButton()
    qtbot.addWidget(button)
    button.set_skips(HOSTILE_SKIPS)
    assert button.text() == "4 files skipped"
    dialog = SkippedDialog(HOSTILE_SKIPS)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 4
    reasons = [dialog.table.item(r, 1).text() for r in range(4)]
    assert reasons == [s.reason for s in HOSTILE_SKIPS]


def test_skipped_list_names_are_unambiguous(qtbot):
    dialog = SkippedDialog(HOSTILE_SKIPS)
    qtbot.addWidget(dialog)
    shown = [dialog.table.item(r, 0).text() for r in range(2)]
    assert "\n" not in shown[0]
    assert shown[1] != "bad.jpg"

"""The Qt models: qtmodeltester-clean, and every edit through setData / mimeData /
dropMimeData reaches the session (saved, undoable) and comes back as row changes."""
import json

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QModelIndex, Qt

from photoclust_app.core.store.library import Library
from photoclust_app.core.editing.session import Session
from photoclust_app.gui.models import mime
from photoclust_app.gui.models.cluster_list_model import ClusterListModel, KindRole, MosaicRole, SizeRole
from photoclust_app.gui.models.photo_grid_model import PhotoGridModel, PhotoIdRole
from photoclust_app.gui.thumbnails import ThumbnailLoader

from conftest import HeldThreadPool, InlineThreadPool


@pytest.fixture
def session(built_folder):
    lib = Library.open(built_folder)
    yield Session(lib)
    lib.close()


@pytest.fixture
def thumbs(built_folder, qapp):
    loader = ThumbnailLoader(built_folder, pool=InlineThreadPool())
    yield loader
    loader.close()


@pytest.fixture
def clusters(session, thumbs):
    m = ClusterListModel(session, thumbs)
    m.defer_drops = False
    return m


@pytest.fixture
def grid(session, thumbs):
    return PhotoGridModel(session, thumbs)


def row_named(model, name):
    for r in range(model.rowCount()):
        if model.data(model.index(r)) == name:
            return r
    raise KeyError(name)


def on_row(model, row):
    """dropMimeData arguments for a drop onto ROW (not between rows)."""
    return -1, 0, model.index(row)


def test_cluster_model_passes_qtmodeltester_through_edits(qtmodeltester, clusters, session):
    qtmodeltester.check(clusters, force_py=True)
    red = session.clusters()[0].id
    session.new_cluster(session.members(None)[:2])
    session.merge(session.clusters()[1].id, red)
    session.undo()
    session.dissolve(red)
    session.undo()
    qtmodeltester.check(clusters, force_py=True)


def test_grid_model_passes_qtmodeltester(qtmodeltester, grid, session):
    grid.set_clusters([session.clusters()[0].id, None])
    qtmodeltester.check(grid, force_py=True)
    session.move(session.members(None)[:3], session.clusters()[1].id)
    qtmodeltester.check(grid, force_py=True)


def test_rows_are_clusters_then_unsorted_then_new(clusters, session):
    n = len(session.clusters())
    assert clusters.rowCount() == n + 2
    assert [clusters.data(clusters.index(r)) for r in range(n)] == ["red things", "green things", "blue things"]
    assert clusters.data(clusters.index(n)) == "Unsorted" and clusters.data(clusters.index(n), SizeRole) == 6
    assert clusters.data(clusters.index(n + 1), KindRole) == "new"
    assert not clusters.flags(clusters.index(n + 1)) & Qt.ItemFlag.ItemIsSelectable
    assert not clusters.flags(clusters.index(n)) & Qt.ItemFlag.ItemIsEditable
    mosaic = clusters.data(clusters.index(0), MosaicRole)
    assert len(mosaic) == 4 and set(mosaic) <= set(session.members(session.clusters()[0].id))


def test_rename_in_place_shows_suggestion_until_changed(clusters, session, built_folder):
    idx = clusters.index(0)
    assert clusters.data(idx, Qt.ItemDataRole.EditRole) == "red things"  # the suggestion is there to edit
    assert not clusters.setData(idx, "red things")                        # confirming it changes nothing
    assert not session.can_undo
    assert clusters.setData(idx, "Tomatoes")
    assert clusters.data(idx) == "Tomatoes"
    with Library.open(built_folder, readonly=True) as again:
        assert again.cluster(session.clusters()[0].id).name == "Tomatoes"
    session.undo()
    assert clusters.data(idx) == "red things"
    session.redo()
    assert clusters.data(idx) == "Tomatoes"


def test_move_photos_by_drop(clusters, grid, session, qtbot):
    red, green = session.clusters()[0].id, session.clusters()[1].id
    grid.set_clusters([red])
    moving = [grid.index(0), grid.index(1)]
    ids = [grid.data(i, PhotoIdRole) for i in moving]
    data = grid.mimeData(moving)
    assert data.hasFormat(mime.PHOTO_MIME) and len(data.urls()) == 2
    assert data.urls()[0].toLocalFile() == str(session.photo_path(ids[0]))
    green_row = row_named(clusters, "green things")
    assert clusters.canDropMimeData(data, Qt.DropAction.CopyAction, *on_row(clusters, green_row))
    assert not clusters.canDropMimeData(data, Qt.DropAction.CopyAction, 1, 0, QModelIndex())  # between rows
    with qtbot.waitSignal(grid.rowsRemoved):
        assert clusters.dropMimeData(data, Qt.DropAction.CopyAction, *on_row(clusters, green_row))
    assert grid.rowCount() == 10 and ids[0] not in grid.photo_ids()
    assert clusters.data(clusters.index(green_row), SizeRole) == 14
    assert all(session.cluster_of(p) == green for p in ids)
    session.undo()
    assert grid.rowCount() == 12 and set(ids) <= set(grid.photo_ids())
    assert clusters.data(clusters.index(green_row), SizeRole) == 12
    session.redo()
    assert all(session.cluster_of(p) == green for p in ids)


def test_drop_on_new_cluster_row_creates_one(clusters, grid, session):
    grid.set_clusters([None])
    data = grid.mimeData([grid.index(0), grid.index(1), grid.index(2)])
    new_row = clusters.rowCount() - 1
    assert clusters.dropMimeData(data, Qt.DropAction.CopyAction, *on_row(clusters, new_row))
    assert clusters.rowCount() == 6
    assert clusters.data(clusters.index(3)) == "New cluster 1"
    assert clusters.data(clusters.index(3), SizeRole) == 3
    assert grid.rowCount() == 3
    session.undo()
    assert clusters.rowCount() == 5 and grid.rowCount() == 6


def test_merge_clusters_by_drop_and_undo(clusters, session, qtbot):
    blue_row = row_named(clusters, "blue things")
    data = clusters.mimeData([clusters.index(blue_row)])
    assert data.hasFormat(mime.CLUSTER_MIME)
    red_row = row_named(clusters, "red things")
    assert not clusters.canDropMimeData(data, Qt.DropAction.MoveAction, *on_row(clusters, blue_row))  # onto itself
    assert clusters.dropMimeData(data, Qt.DropAction.MoveAction, *on_row(clusters, red_row))
    assert clusters.rowCount() == 4
    assert clusters.data(clusters.index(row_named(clusters, "red things")), SizeRole) == 24
    assert "Merge" in session.undo_text
    session.undo()
    assert [clusters.data(clusters.index(r)) for r in range(3)] == ["red things", "green things", "blue things"]
    assert clusters.data(clusters.index(2), SizeRole) == 12
    session.redo()
    assert clusters.rowCount() == 4


def test_cluster_dropped_on_unsorted_dissolves(clusters, session):
    data = clusters.mimeData([clusters.index(0)])
    unsorted_row = clusters.rowCount() - 2
    assert clusters.dropMimeData(data, Qt.DropAction.MoveAction, *on_row(clusters, unsorted_row))
    assert clusters.rowCount() == 4 and clusters.data(clusters.index(2), SizeRole) == 18


def test_drop_from_another_library_is_refused(clusters, session, tmp_path):
    data = QMimeData()
    data.setData(mime.PHOTO_MIME, json.dumps({"folder": str(tmp_path / "elsewhere"), "ids": [1, 2]}).encode())
    assert not clusters.canDropMimeData(data, Qt.DropAction.CopyAction, *on_row(clusters, 0))


def test_drops_are_deferred_to_the_event_loop(session, thumbs, grid, qtbot):
    model = ClusterListModel(session, thumbs)  # defer_drops on, as in the app
    grid.set_clusters([None])
    data = grid.mimeData([grid.index(0)])
    pid = grid.photo_ids()[0]
    assert model.dropMimeData(data, Qt.DropAction.CopyAction, *on_row(model, 0))
    assert session.cluster_of(pid) is None  # not yet: the drag's own loop is still running
    qtbot.waitUntil(lambda: session.cluster_of(pid) == session.clusters()[0].id)


def test_grid_thumbnails_load_and_announce(grid, session, thumbs, qtbot):
    grid.set_clusters([session.clusters()[0].id])
    idx = grid.index(0)
    first = grid.data(idx, Qt.ItemDataRole.DecorationRole)  # InlineThreadPool: loads inline
    assert thumbs.is_loaded(grid.photo_ids()[0])
    pm = grid.data(idx, Qt.ItemDataRole.DecorationRole)
    assert not pm.isNull() and pm.width() == 96 and first is not None


def test_grid_rows_follow_moves_in_and_out_of_the_shown_clusters(grid, session):
    """Moves update only the rows of the photos they moved; rows and the id -> row index agree."""
    red, green, blue = session.cluster_ids()
    grid.set_clusters([red, None])
    rng = np.random.default_rng(3)
    everyone = session.photo_ids()
    targets = [red, green, blue, None]
    for step in range(30):
        picked = rng.choice(everyone, size=int(rng.integers(1, 8)), replace=False).tolist()
        if step % 5 == 4 and session.can_undo:
            session.undo()
        else:
            session.move(picked, targets[int(rng.integers(len(targets)))])
        wanted = set(session.members(red)) | set(session.members(None))
        ids = grid.photo_ids()
        assert len(ids) == len(set(ids)) and set(ids) == wanted
        assert all(grid.row_of(p) == r for r, p in enumerate(ids))
    before = grid.photo_ids()
    session.move(session.members(red)[:2], None)      # between two shown clusters: no row moves
    assert grid.photo_ids() == before


def test_cluster_rows_follow_structure_edits(clusters, session):
    red, green, blue = session.cluster_ids()
    new = session.new_cluster(session.members(None)[:2])
    session.merge(green, red)
    for _ in range(2):
        for cid in session.cluster_ids():
            assert clusters.cluster_id(clusters.index(clusters.row_of(cid))) == cid
        assert clusters.row_of(green) == -1 and clusters.row_of(None) == len(session.cluster_ids())
        session.undo()
        session.undo()
        assert clusters.row_of(green) == 1 and clusters.row_of(new) == -1
        session.redo()
        session.redo()


def test_unsorted_mosaic_repaints_when_its_thumbnails_arrive(session, built_folder, qtbot):

    pool = HeldThreadPool()
    loader = ThumbnailLoader(built_folder, pool=pool, max_threads=1)
    try:
        model = ClusterListModel(session, loader)
        unsorted_row = model.rowCount() - 2
        first = model.data(model.index(unsorted_row), MosaicRole)[0]
        loader.request(first)
        with qtbot.waitSignal(model.dataChanged, timeout=5000,
                              check_params_cb=lambda tl, br, roles=(): tl.row() == unsorted_row):
            pool.tasks[0].run()
    finally:
        loader.close()

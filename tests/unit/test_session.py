"""The editing session: every edit is saved at once, undoable, redoable, and announced."""
import numpy as np
import pytest

from photoclust_app.core.store.library import IndexedPhoto, Library
from photoclust_app.core.clustering.plan import ClusteringPlan, apply_clustering
from photoclust_app.core.records import PhotoMeta, PhotoRecord
from photoclust_app.core.editing.session import Session, read_state
from sqlpeek import sql


def _plan(ids, labels, names=None, scope=None):
    ids = np.asarray(ids, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    present = sorted(set(labels.tolist()) - {-1})
    return ClusteringPlan(
        model="m", photo_ids=ids, labels=labels, probabilities=np.ones(len(ids), np.float32),
        representatives={lab: ids[labels == lab][:3].tolist() for lab in present},
        names=names or {lab: f"group{lab}" for lab in present}, params={}, metrics={},
        xy=np.arange(2 * len(ids), dtype=np.float32).reshape(-1, 2) if scope is None else None, scope=scope)


@pytest.fixture
def lib(tmp_path):
    with Library.open(tmp_path) as lib:
        lib.set_meta("model", "m")
        lib.add_photos([IndexedPhoto(PhotoRecord(f"{i:02d}.jpg", 1, 1), str(i), PhotoMeta(1, 1), b"", np.ones(2))
                        for i in range(12)], "m")
        ids = sorted(p.id for p in lib.photos())
        apply_clustering(lib, _plan(ids, [0] * 5 + [1] * 4 + [-1] * 3))
        yield lib


@pytest.fixture
def session(lib):
    s = Session(lib)
    s.events = []
    s.subscribe(lambda name, payload: s.events.append((name, payload)))
    return s


def assignment_rows(lib, ids):
    marks = ",".join("?" * len(ids))
    return sql(lib, f"SELECT photo_id, cluster_id, probability, manual FROM assignments WHERE photo_id IN ({marks})"
               " ORDER BY photo_id", list(ids))


def by_name(session):
    return {c.display_name: c for c in session.clusters()}


def db_view(lib):
    """What a fresh reader of the library sees: {name: sorted member ids}, plus Unsorted."""
    out = {c.display_name: sorted(lib.cluster_members(c.id)) for c in lib.clusters()}
    out["Unsorted"] = sorted(lib.cluster_members(None))
    return out


def session_view(session):
    out = {c.display_name: session.members(c.id) for c in session.clusters()}
    out["Unsorted"] = session.members(None)
    return out


def test_reads_match_library(session, lib):
    assert session_view(session) == db_view(lib)
    assert [c.size for c in session.clusters()] == [5, 4]
    assert session.unsorted_count() == 3
    ids, xy, labels = session.layout()
    assert len(ids) == 12 and xy.shape == (12, 2)
    assert (labels == -1).sum() == 3


def test_rename_saves_undoes_and_redoes(session, lib):
    g0 = by_name(session)["group0"]
    session.rename(g0.id, "Beach")
    assert lib.cluster(g0.id).name == "Beach" and lib.cluster(g0.id).user_named
    assert session.cluster(g0.id).display_name == "Beach"
    assert ("clusters_changed", {"ids": [g0.id], "structure": False}) in session.events
    assert session.can_undo and "Beach" in session.undo_text
    session.undo()
    assert lib.cluster(g0.id).display_name == "group0" and not lib.cluster(g0.id).user_named
    assert session.cluster(g0.id).display_name == "group0"
    assert session.can_redo and not session.can_undo
    session.redo()
    assert lib.cluster(g0.id).name == "Beach"


def test_rename_to_same_name_records_nothing(session):
    g0 = by_name(session)["group0"]
    session.rename(g0.id, "")
    assert not session.can_undo


def test_move_marks_hand_placed_and_undo_restores_rows(session, lib):
    g0, g1 = by_name(session)["group0"], by_name(session)["group1"]
    moving = session.members(g0.id)[:2]
    before_rows = assignment_rows(lib, moving)
    assert session.move(moving, g1.id) == 2
    assert all(lib.assignments()[p] == g1.id for p in moving)
    assert all(r[3] == 1 for r in assignment_rows(lib, moving))
    assert session.cluster(g1.id).size == 6 and session.cluster(g0.id).size == 3
    assert ("assignments_changed", {"photo_ids": moving}) in session.events
    session.undo()
    assert assignment_rows(lib, moving) == before_rows
    assert session_view(session) == db_view(lib)
    session.redo()
    assert session.cluster(g1.id).size == 6
    assert session_view(session) == db_view(lib)


def test_move_to_unsorted_and_back(session, lib):
    g0 = by_name(session)["group0"]
    p = session.members(g0.id)[0]
    session.move([p], None)
    assert lib.assignments()[p] is None and p in session.members(None)
    session.undo()
    assert lib.assignments()[p] == g0.id and p in session.members(g0.id)


def test_move_to_the_same_cluster_is_a_no_op(session):
    g0 = by_name(session)["group0"]
    assert session.move(session.members(g0.id), g0.id) == 0
    assert not session.can_undo


def test_mosaic_only_shows_members(session):
    g0, g1 = by_name(session)["group0"], by_name(session)["group1"]
    reps = session.cluster(g0.id).representatives
    session.move([reps[0]], g1.id)
    new_reps = session.cluster(g0.id).representatives
    assert reps[0] not in new_reps
    assert set(new_reps) <= set(session.members(g0.id)) and len(new_reps) == 4


def test_new_cluster_undo_redo_keeps_its_id(session, lib):
    unsorted = session.members(None)
    cid = session.new_cluster(unsorted[:2])
    assert lib.cluster(cid).suggested_name == "New cluster 1"
    assert session.members(cid) == unsorted[:2]
    assert session.cluster_ids()[-1] == cid
    assert any(e == "clusters_changed" and p["structure"] for e, p in session.events)
    session.undo()
    assert lib.cluster(cid) is None and cid not in session.cluster_ids()
    assert session.members(None) == unsorted
    session.redo()
    assert lib.cluster(cid) is not None and sorted(lib.cluster_members(cid)) == unsorted[:2]
    assert session_view(session) == db_view(lib)


def test_merge_and_undo_restore_name_position_and_mosaic(session, lib):
    g0, g1 = by_name(session)["group0"], by_name(session)["group1"]
    session.rename(g1.id, "Cats")
    order = session.cluster_ids()
    reps = lib.cluster(g1.id).representatives
    session.merge(g1.id, g0.id)
    assert lib.cluster(g1.id) is None
    assert session.cluster(g0.id).size == 9 and g1.id not in session.cluster_ids()
    session.undo()
    assert lib.cluster(g1.id).name == "Cats" and lib.cluster(g1.id).representatives == reps
    assert session.cluster_ids() == order
    assert session_view(session) == db_view(lib)
    session.redo()
    assert session.cluster(g0.id).size == 9 and lib.cluster(g1.id) is None
    session.undo()
    session.undo()  # the rename
    assert lib.cluster(g1.id).display_name == "group1"


def test_dissolve_puts_members_in_unsorted_and_undo_brings_them_back(session, lib):
    g1 = by_name(session)["group1"]
    members = session.members(g1.id)
    session.dissolve(g1.id)
    assert set(members) <= set(session.members(None))
    assert lib.cluster(g1.id) is None and session.unsorted_count() == 7
    session.undo()
    assert session.members(g1.id) == members and sorted(lib.cluster_members(g1.id)) == members
    assert session.cluster_ids()[1] == g1.id


def test_recluster_keeps_names_and_undo_restores_everything(session, lib):
    g0 = by_name(session)["group0"]
    session.rename(g0.id, "Beach")
    session.move(session.members(None)[:1], g0.id)
    before = db_view(lib)
    ids = session.photo_ids()
    session.recluster(_plan(ids, [0] * 3 + [1] * 3 + [2] * 6, names={0: "a", 1: "b", 2: "c"}))
    assert ("reset", {}) in session.events
    assert "Beach" in by_name(session)
    assert session_view(session) == db_view(lib) != before
    session.undo()
    assert db_view(lib) == before and session_view(session) == before
    session.redo()
    assert session_view(session) == db_view(lib) != before


def test_split_is_undoable(session, lib):
    g0 = by_name(session)["group0"]
    members = session.members(g0.id)
    new_ids = session.split(_plan(members, [0, 0, 0, 1, 1], scope=g0.id))
    assert len(new_ids) == 1 and session.members(new_ids[0]) == members[3:]
    assert session.members(g0.id) == members[:3]
    session.undo()
    assert session.members(g0.id) == members and new_ids[0] not in session.cluster_ids()


def test_split_pieces_sit_right_after_their_origin_and_come_back_there_on_redo(session):
    g0 = by_name(session)["group0"]
    order = session.cluster_ids()
    assert order.index(g0.id) == 0 and len(order) == 2
    members = session.members(g0.id)
    new_ids = session.split(_plan(members, [0, 0, 1, 1, 2], scope=g0.id))
    assert session.cluster_ids() == [g0.id, *new_ids, order[1]]
    names = [c.display_name for c in session.clusters()]
    assert len(set(names)) == len(names)
    session.undo()
    assert session.cluster_ids() == order
    session.redo()
    assert session.cluster_ids() == [g0.id, *new_ids, order[1]]


def test_new_edit_clears_redo(session):
    g0 = by_name(session)["group0"]
    session.rename(g0.id, "A")
    session.undo()
    session.rename(g0.id, "B")
    assert not session.can_redo


def test_edits_persist_across_reopen(session, lib, tmp_path):
    g0, g1 = by_name(session)["group0"], by_name(session)["group1"]
    session.rename(g0.id, "Beach")
    session.merge(g1.id, g0.id)
    expected = session_view(session)
    lib.close()
    with Library.open(tmp_path, readonly=True) as again:
        assert session_view(Session(again, read_state(again))) == expected


def test_a_failing_listener_does_not_break_edits(session, lib):
    def broken(name, payload):
        raise RuntimeError("view bug")

    session.subscribe(broken)
    g0 = by_name(session)["group0"]
    session.rename(g0.id, "Still saved")
    assert lib.cluster(g0.id).name == "Still saved"


def test_automatic_clustering_can_be_recorded_without_undo(session, lib):
    ids = session.photo_ids()
    session.recluster(_plan(ids, [0] * 6 + [1] * 6), undoable=False)
    assert not session.can_undo
    assert session.unsorted_count() == 0 and session_view(session) == db_view(lib)


def test_a_state_read_during_an_edit_is_recognisably_stale(session, lib):
    from photoclust_app.core.editing.session import read_state

    g = session.generation
    state = read_state(lib)
    session.rename(by_name(session)["group0"].id, "Beach")
    assert session.generation != g  # the window re-reads instead of installing `state`
    session.install_state(state)    # installing it anyway would show the old name...
    assert "Beach" not in by_name(session)
    session.reload()                # ...which a reload from the library puts right
    assert "Beach" in by_name(session)


def test_export_groups_are_read_live_from_the_session(session, lib):
    """An export made while the user edits takes the edits (0.1's dialog read once)."""
    g0, g1 = by_name(session)["group0"], by_name(session)["group1"]
    session.rename(g0.id, "Beach")
    session.move(session.members(None), g1.id)
    groups = dict(session.export_groups(include_unsorted=True))
    assert set(groups) == {"Beach", "group1"}
    assert sorted(groups["group1"]) == sorted(session.photo_path(p) for p in session.members(g1.id))
    session.move(session.members(g1.id)[:2], None)
    groups = dict(session.export_groups(include_unsorted=True, unsorted_name="Unsorted"))
    assert len(groups["Unsorted"]) == 2 and len(groups["group1"]) == 5

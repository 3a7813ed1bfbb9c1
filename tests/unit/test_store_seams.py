"""The seams of the store: ids never reused, one connection per thread, consistent state
reads, and an edit history in the library that revalidates, survives failures and is bounded.
Each test reproduces a defect found in 0.1."""
import sqlite3
import threading

import numpy as np
import pytest

from photoclust_app.core.editing.session import Session, read_state
from photoclust_app.core.records import PhotoMeta, PhotoRecord
from photoclust_app.core.store import history as history_mod
from photoclust_app.core.store.library import IndexedPhoto, Library
from photoclust_app.core.store.schema import MIGRATIONS, SCHEMA_VERSION
from sqlpeek import sql


def _item(relpath):
    return IndexedPhoto(PhotoRecord(relpath, 10, 1), f"h-{relpath}", PhotoMeta(4, 3), b"jpeg", np.ones(2))


@pytest.fixture
def lib(tmp_path):
    with Library.open(tmp_path) as lib:
        lib.set_meta("model", "m")
        yield lib


def test_a_removed_photos_id_is_never_given_to_a_new_photo(lib):
    ids = lib.add_photos([_item(f"{i}.jpg") for i in range(3)], "m")
    lib.remove_photos([ids[-1]])
    [new] = lib.add_photos([_item("new.jpg")], "m")
    assert new not in ids
    cid = lib.create_cluster("a")
    lib.delete_cluster(cid)
    assert lib.create_cluster("b") != cid


def test_a_version_1_library_is_migrated_keeping_ids_and_edits(tmp_path):
    db = tmp_path / ".photoclust" / "library.sqlite"
    db.parent.mkdir()
    conn = sqlite3.connect(db)
    conn.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    conn.execute("INSERT INTO photos(id, relpath, size, mtime_ns, quick_hash, added_at) VALUES(7, ?, 1, 1, 'h', 0)",
                 (b"a.jpg",))
    conn.execute("INSERT INTO clusters(id, name, user_named, created_at) VALUES(3, 'Beach', 1, 0)")
    conn.execute("INSERT INTO assignments VALUES(7, 3, 1.0, 1)")
    conn.commit()
    conn.close()
    with Library.open(tmp_path) as lib:
        assert sql(lib, "PRAGMA user_version")[0][0] == SCHEMA_VERSION
        assert "AUTOINCREMENT" in sql(lib, "SELECT sql FROM sqlite_master WHERE name='photos'")[0][0]
        assert lib.assignments() == {7: 3} and lib.cluster(3).display_name == "Beach"
        lib.remove_photos([7])
        assert lib.add_photos([_item("b.jpg")], "m") != [7]
        assert sql(lib, "PRAGMA foreign_key_check") == []


def test_undo_never_reaches_a_photo_that_took_a_removed_photos_place(lib):
    """0.1: after 2.jpg was removed and a new photo got its id, undoing "Move 2.jpg" moved the
    new photo, which the user had placed by hand, out of its cluster."""
    ids = lib.add_photos([_item(f"{i}.jpg") for i in range(3)], "m")
    a, b = lib.create_cluster("A"), lib.create_cluster("B")
    s = Session(lib)
    s.move([ids[2]], a)                      # the edit to be undone later
    lib.remove_photos([ids[2]])              # a re-index: 2.jpg is gone
    [new] = lib.add_photos([_item("new.jpg")], "m")
    s.reload()
    s.move([new], b)                         # the user places the newcomer by hand
    s.undo()                                 # undoes the placement of the newcomer...
    s.undo()                                 # ...and then "Move 2.jpg", whose photo is gone
    assert new != ids[2]
    assert lib.assignments().get(new) is None and s.cluster_of(new) is None
    s.redo()                                 # the move of the gone photo: nothing to do
    s.redo()
    assert lib.assignments()[new] == b


def test_an_undo_that_fails_keeps_its_entry_and_the_data(lib, monkeypatch):
    """0.1 popped the command before running it, so an exception lost it."""
    lib.add_photos([_item("a.jpg")], "m")
    cid = lib.create_cluster(suggested_name="s")
    s = Session(lib)
    s.rename(cid, "Beach")

    def broken(*a, **k):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(history_mod, "write_rows", broken)
    with pytest.raises(sqlite3.OperationalError):
        s.undo()
    monkeypatch.undo()
    assert lib.cluster(cid).display_name == "Beach"
    assert lib.undo_text().startswith("Rename") and s.undo()
    assert lib.cluster(cid).display_name == "s"


def test_undo_leaves_alone_what_changed_since_and_says_so(lib):
    [pid] = lib.add_photos([_item("a.jpg")], "m")
    cid = lib.create_cluster("c")
    s = Session(lib)
    s.rename(cid, "Beach")
    lib.rename_cluster(cid, "Changed elsewhere")   # not through the history
    assert s.undo()
    assert s.last_conflicts == 1
    assert lib.cluster(cid).display_name == "Changed elsewhere"


def test_history_survives_a_restart_and_is_shared(lib, tmp_path):
    lib.add_photos([_item("a.jpg")], "m")
    cid = lib.create_cluster(suggested_name="s")
    Session(lib).rename(cid, "Beach")
    lib.close()
    with Library.open(tmp_path) as again:
        s = Session(again)
        assert s.can_undo and "Beach" in s.undo_text
        s.undo()
        assert again.cluster(cid).display_name == "s" and s.can_redo


def test_history_is_bounded(lib, monkeypatch):
    monkeypatch.setattr(history_mod, "MAX_ENTRIES", 5)
    cid = lib.create_cluster(suggested_name="s")
    s = Session(lib)
    for i in range(12):
        s.rename(cid, f"name {i}")
    assert len(lib.history()) == 5
    for _ in range(5):
        assert s.undo()
    assert not s.undo() and lib.cluster(cid).display_name == "name 6"


def test_a_recluster_stores_only_the_rows_it_changed(lib):
    from photoclust_app.core.clustering.plan import ClusteringPlan, apply_clustering

    ids = np.array(lib.add_photos([_item(f"{i:03d}.jpg") for i in range(200)], "m"))

    def plan(labels):
        labels = np.asarray(labels)
        return ClusteringPlan("m", ids, labels, np.ones(len(ids), np.float32),
                              {int(k): ids[labels == k][:2].tolist() for k in set(labels.tolist())},
                              {}, {}, {}, np.zeros((len(ids), 2), np.float32))

    apply_clustering(lib, plan([0] * 100 + [1] * 100), text="Cluster")
    apply_clustering(lib, plan([0] * 100 + [1] * 99 + [2]), text="Re-cluster")
    [_, last] = lib.history()[-2:]
    size = sql(lib, "SELECT size FROM history WHERE id=?", (last[0],))[0][0]
    assert size < 300   # one photo and one new cluster, not two snapshots of everything


def test_a_library_refuses_to_be_shared_between_threads(lib):
    """0.1 shared the window's connection with a worker thread."""
    errors = []
    t = threading.Thread(target=lambda: errors.append(_try(lambda: lib.count_photos())))
    t.start()
    t.join()
    assert isinstance(errors[0], sqlite3.ProgrammingError)


def _try(fn):
    try:
        fn()
    except Exception as err:  # noqa: BLE001 - the test inspects it
        return err
    return None


def test_a_state_read_on_another_thread_never_sees_an_uncommitted_edit(lib):
    """0.1: a worker read saw a rename that was later rolled back."""
    lib.add_photos([_item("a.jpg")], "m")
    cid = lib.create_cluster(suggested_name="s")
    seen = []
    with pytest.raises(RuntimeError):
        with lib.transaction():
            lib.rename_cluster(cid, "Never committed")

            def read():
                with lib.reader() as reader:
                    seen.append(read_state(reader).clusters[cid].display_name)

            t = threading.Thread(target=read)
            t.start()
            t.join()
            raise RuntimeError("roll back")
    assert seen == ["s"] and lib.cluster(cid).display_name == "s"

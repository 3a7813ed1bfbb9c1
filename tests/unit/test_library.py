"""Library store: identity, transactions, locking, snapshots, odd file names."""
import os
import sqlite3

import numpy as np
import pytest

from photoclust_app.core.errors import LibraryError, LibraryLocked
from photoclust_app.core.store.library import IndexedPhoto, Library, library_path_for
from photoclust_app.core.store.schema import SCHEMA_VERSION
from photoclust_app.core.records import PhotoMeta, PhotoRecord
from sqlpeek import sql  # noqa: E402


def _item(relpath, vec, size=10, mtime=1):
    return IndexedPhoto(PhotoRecord(relpath, size, mtime), f"h-{abs(hash(relpath))}", PhotoMeta(4, 3), b"jpeg", np.asarray(vec))


@pytest.fixture
def lib(tmp_path):
    with Library.open(tmp_path) as lib:
        yield lib


def test_library_lives_inside_the_folder_and_has_schema(tmp_path, lib):
    assert lib.path == tmp_path.resolve() / ".photoclust" / "library.sqlite"
    assert sql(lib, "PRAGMA user_version")[0][0] == SCHEMA_VERSION
    assert sql(lib, "PRAGMA journal_mode")[0][0] == "wal"


def test_read_only_folder_falls_back_to_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    photos = tmp_path / "ro"
    photos.mkdir()
    monkeypatch.setattr(os, "access", lambda p, mode: False)
    path = library_path_for(photos)
    assert str(path).startswith(str(tmp_path / "data"))
    assert path.name == "library.sqlite"


def test_add_photos_keeps_id_on_refresh_and_round_trips_vectors(lib):
    [a] = lib.add_photos([_item("a.jpg", [0.6, 0.8])], "m")
    [a2] = lib.add_photos([_item("a.jpg", [1.0, 0.0], size=20, mtime=2)], "m")
    assert a == a2
    ids, vecs = lib.embedding_matrix("m")
    assert ids.tolist() == [a]
    np.testing.assert_allclose(vecs[0], [1.0, 0.0], atol=1e-3)
    assert lib.file_states()["a.jpg"].size == 20
    assert lib.thumbnail(a) == b"jpeg"


def test_invalid_utf8_and_newline_names_round_trip(lib):
    name = os.fsdecode(b"dir/bad\xff name\n.jpg")
    [pid] = lib.add_photos([_item(name, [1, 0])], "m")
    assert lib.photo(pid).relpath == name
    assert name in lib.file_states()


def test_skips_replace_photo_rows_and_clear_on_success(lib):
    lib.add_photos([_item("x.jpg", [1, 0])], "m")
    lib.record_skips([(PhotoRecord("x.jpg", 5, 9), "truncated")])
    assert lib.count_photos() == 0
    assert [(s.relpath, s.reason) for s in lib.skipped()] == [("x.jpg", "truncated")]
    lib.add_photos([_item("x.jpg", [1, 0])], "m")
    assert lib.skipped() == []


def test_failed_transaction_leaves_nothing(lib):
    with pytest.raises(RuntimeError):
        with lib.transaction() as c:
            c.execute("INSERT INTO meta(key, value) VALUES('k', 'v')")
            raise RuntimeError("boom")
    assert lib.get_meta("k") is None


def test_second_writer_is_refused_but_reader_works(tmp_path, lib):
    lib.add_photos([_item("a.jpg", [1, 0])], "m")
    with pytest.raises(LibraryLocked, match="in use"):
        Library.open(tmp_path)
    with Library.open(tmp_path, readonly=True) as ro:
        assert ro.count_photos() == 1
        with pytest.raises(LibraryError):
            ro.set_meta("x", "y")


def test_lock_is_released_on_close(tmp_path):
    Library.open(tmp_path).close()
    Library.open(tmp_path).close()


def test_delete_cluster_sends_members_to_unsorted_and_undo_restores(lib):
    ids = lib.add_photos([_item(f"{i}.jpg", [1, 0]) for i in range(4)], "m")
    cid = lib.create_cluster(suggested_name="daisy")
    lib.assign(ids[:3], cid, manual=False)
    lib.set_representatives(cid, ids[:2])
    assert lib.clusters()[0].size == 3 and lib.count_unsorted() == 1
    with lib.record("Dissolve") as rec:
        rec.touch("clusters", [cid])
        rec.touch("representatives", [cid])
        rec.touch("assignments", ids)
        lib.delete_cluster(cid)
    assert lib.clusters() == [] and lib.count_unsorted() == 4
    assert lib.undo().text == "Dissolve"
    [c] = lib.clusters()
    assert (c.id, c.size, c.representatives, c.display_name) == (cid, 3, ids[:2], "daisy")


def test_rename_user_name_wins_and_empty_reverts(lib):
    cid = lib.create_cluster(suggested_name="beach")
    lib.rename_cluster(cid, "  Holiday 2024 ")
    c = lib.cluster(cid)
    assert (c.display_name, c.user_named) == ("Holiday 2024", True)
    lib.rename_cluster(cid, "")
    assert lib.cluster(cid).display_name == "beach"


def test_removing_photos_cascades(lib):
    [pid] = lib.add_photos([_item("a.jpg", [1, 0])], "m")
    cid = lib.create_cluster("c")
    lib.assign([pid], cid)
    lib.set_layout(np.array([pid]), np.array([[1.0, 2.0]]))
    lib.remove_photos([pid])
    for table in ("embeddings", "thumbnails", "assignments", "layout"):
        assert sql(lib, f"SELECT COUNT(*) FROM {table}")[0][0] == 0


def test_newer_schema_is_refused_with_a_sentence(tmp_path):
    Library.open(tmp_path).close()
    conn = sqlite3.connect(tmp_path / ".photoclust" / "library.sqlite")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(LibraryError, match="newer photoclust"):
        Library.open(tmp_path)


def test_corrupt_library_file_is_a_library_error(tmp_path):
    (tmp_path / ".photoclust").mkdir()
    (tmp_path / ".photoclust" / "library.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LibraryError, match="is damaged"):
        Library.open(tmp_path)


def test_folder_without_write_bits_gets_its_library_elsewhere_even_for_root(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    photos = tmp_path / "archive"
    photos.mkdir()
    photos.chmod(0o555)
    try:
        with Library.open(photos) as lib:
            assert str(lib.path).startswith(str(tmp_path / "data"))
        assert not (photos / ".photoclust").exists()
    finally:
        photos.chmod(0o755)


def test_two_read_only_cards_at_one_mount_point_get_two_libraries(tmp_path, monkeypatch):
    """0.1 keyed the fallback library by path alone: card B inherited card A's clusters."""
    from photoclust_app.core.store import location

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    card = tmp_path / "media" / "card"
    card.mkdir(parents=True)
    os.chmod(card, 0o555)
    try:
        monkeypatch.setattr(location, "volume_id", lambda folder: "AAAA-0001")
        with Library.open(card) as a:
            a.create_cluster("Card A's cluster")
            path_a = a.path
        monkeypatch.setattr(location, "volume_id", lambda folder: "BBBB-0002")
        with Library.open(card) as b:
            assert b.path != path_a and b.clusters() == []
        monkeypatch.setattr(location, "volume_id", lambda folder: "AAAA-0001")
        with Library.open(card) as a:
            assert a.path == path_a and [c.display_name for c in a.clusters()] == ["Card A's cluster"]
    finally:
        os.chmod(card, 0o755)

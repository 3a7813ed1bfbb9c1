"""Two-pass indexing: embedded previews first, full decodes after, nothing re-clustered by the second."""
import os
import shutil
import sqlite3

import numpy as np
import pytest
from PIL import Image

from camera_files import camera_jpeg
from photoclust_app.core import pipeline
from photoclust_app.core.editing.session import Session
from photoclust_app.core.ingest import index
from photoclust_app.core.ingest.index import index_folder
from photoclust_app.core.ingest.refine import refine_previews
from photoclust_app.core.store.library import Library
from photoclust_app.core.store.schema import MIGRATIONS, SCHEMA_VERSION


def as_camera_files(folder, preview=(160, 120)):
    """Rewrite every photo as a camera would: a 320x240 main image with an MPF preview (tiny-test's
    input is 64 px, so a 160x120 preview stands in for it) and an EXIF thumbnail."""
    for p in sorted(folder.glob("*.jpg")):
        with Image.open(p) as im:
            main = im.convert("RGB").resize((320, 240), Image.Resampling.LANCZOS)
        p.write_bytes(camera_jpeg(main, preview=preview))
    return folder


def snapshot(lib: Library):
    return (lib.assignments(), [(c.id, c.name, c.user_named) for c in lib.clusters()], lib.last_clustering(),
            lib.get_meta("cluster.tree"))


def test_previews_first_then_full_decodes_replace_the_vectors_and_keep_the_users_clusters(tmp_path, photo_folder):
    folder = as_camera_files(photo_folder)
    one_pass = shutil.copytree(folder, tmp_path / "one-pass")
    report = index_folder(folder, model="tiny-test", workers=0, previews=True)
    assert (report.embedded, report.from_preview) == (30, 30)
    with Library.open(folder) as lib:
        assert len(lib.preview_embedded()) == 30
        ids, preview_vectors = lib.embedding_matrix()
        pipeline.cluster(lib)
        s = Session(lib)
        first, second = s.cluster_ids()[:2]
        s.rename(first, "Mine")
        moved = s.members(second)[0]
        s.move([moved], first)  # a hand placement
        before = snapshot(lib)
        done = refine_previews(lib, workers=0)
        assert (done.pending, done.refined, done.failed) == (30, 30, 0)
        assert lib.preview_embedded() == {}
        assert snapshot(lib) == before  # nothing re-clustered, renamed or moved
        assert pipeline.after_index(lib) is None  # and nothing asks for it
        ids2, refined = lib.embedding_matrix()
        assert refine_previews(lib, workers=0).pending == 0
    assert index_folder(one_pass, model="tiny-test", workers=0, previews=False).from_preview == 0
    with Library.open(one_pass) as other:
        _, full = other.embedding_matrix()
    assert np.array_equal(ids, ids2)
    assert np.array_equal(refined, full)  # what a one-pass index stores
    assert not np.array_equal(preview_vectors, full)


def test_photos_without_a_large_enough_preview_are_decoded_in_full_in_pass_one(photo_folder):
    as_camera_files(photo_folder)
    small = sorted(photo_folder.glob("*.jpg"))[:4]
    for i, p in enumerate(small):  # an EXIF thumbnail only, or with a preview, both under 1.5 x the input
        with Image.open(p) as im:
            main = im.convert("RGB")
            main.load()
        p.write_bytes(camera_jpeg(main, thumb=(80, 60), preview=None if i < 2 else (120, 90)))
    report = index_folder(photo_folder, model="tiny-test", workers=0, previews=True)
    assert (report.embedded, report.from_preview) == (30, 26)
    with Library.open(photo_folder) as lib:
        pending = {rel for rel, _, _ in lib.preview_embedded().values()}
    assert pending.isdisjoint(p.name for p in small) and len(pending) == 26


def test_a_file_changed_between_the_passes_is_left_to_the_next_index(photo_folder):
    as_camera_files(photo_folder)
    index_folder(photo_folder, model="tiny-test", workers=0, previews=True)
    changed = sorted(photo_folder.glob("*.jpg"))[0]
    with Image.open(changed) as im:
        main = im.convert("RGB").transpose(Image.Transpose.ROTATE_180)
    changed.write_bytes(camera_jpeg(main, preview=(160, 120)))
    st = changed.stat()
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with Library.open(photo_folder) as lib:
        done = refine_previews(lib, workers=0)
        assert (done.pending, done.refined) == (30, 29)
        assert [rel for rel, _, _ in lib.preview_embedded().values()] == [changed.name]
    report = index_folder(photo_folder, model="tiny-test", workers=0)  # 1 file to decode: no previews
    assert (report.changed, report.from_preview) == (1, 0)
    with Library.open(photo_folder) as lib:
        assert lib.preview_embedded() == {}


def test_large_folders_get_previews_first_by_default(photo_folder, monkeypatch):
    as_camera_files(photo_folder)
    monkeypatch.setattr(index, "PREVIEW_FIRST", 30)
    assert index_folder(photo_folder, model="tiny-test", workers=0).from_preview == 30


def test_small_folders_are_decoded_in_full_by_default(photo_folder):
    as_camera_files(photo_folder)
    assert index.PREVIEW_FIRST > 30
    assert index_folder(photo_folder, model="tiny-test", workers=0).from_preview == 0


def test_preview_decodes_run_in_worker_processes_too(photo_folder):
    as_camera_files(photo_folder)
    report = index_folder(photo_folder, model="tiny-test", workers=2, previews=True)
    assert (report.embedded, report.from_preview) == (30, 30)


def test_a_schema_6_library_gains_the_preview_flag_with_its_vectors_marked_full(tmp_path):
    db = tmp_path / ".photoclust" / "library.sqlite"
    db.parent.mkdir()
    conn = sqlite3.connect(db)
    conn.executescript("".join(MIGRATIONS[:6]) + "PRAGMA user_version = 6;")
    conn.execute("INSERT INTO photos(id, relpath, size, mtime_ns, quick_hash, added_at) VALUES(7, ?, 1, 1, 'h', 0)",
                 (b"a.jpg",))
    conn.execute("INSERT INTO embeddings(photo_id, model, vector) VALUES(7, 'm', ?)",
                 (np.ones(4, np.float16).tobytes(),))
    conn.commit()
    conn.close()
    assert SCHEMA_VERSION == 7
    with Library.open(tmp_path) as lib:
        assert lib.preview_embedded("m") == {}
        assert lib._q("SELECT from_preview FROM embeddings").fetchall() == [(0,)]
        assert lib.embedding_matrix("m")[0].tolist() == [7]


def test_cli_index_refines_after_the_first_pass(photo_folder, capsys):
    from photoclust_app.cli import main

    as_camera_files(photo_folder)
    assert main(["index", str(photo_folder), "--model", "tiny-test", "--workers", "0", "--previews", "yes"]) == 0
    out = capsys.readouterr().out
    assert "30 photos were embedded from their embedded previews" in out
    assert "30 of 30 preview vectors refined from the full photos." in out
    with Library.open(photo_folder) as lib:
        assert lib.preview_embedded() == {} and lib.count_embedded() == 30

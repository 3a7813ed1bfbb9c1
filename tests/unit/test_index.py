"""index_folder: incremental diff, moves, changes, skips, cancel, model switch, worker pool."""
import multiprocessing
import os
import shutil

import numpy as np
import pytest

from photoclust_app.core.ingest import decode_pool, index
from photoclust_app.core.ingest.decode_pool import CRASH_REASON, DecodeJob, DecodePool, decode_for_worker
from photoclust_app.core.errors import Cancelled
from photoclust_app.core.ingest.index import index_folder
from photoclust_app.core.store.library import Library
from photoclust_app.core.ingest.quickhash import CHUNK, quick_hash, quick_hash_bytes

FAST = {"model": "tiny-test", "workers": 0, "batch_size": 8}


@pytest.fixture
def decodes(monkeypatch):
    """Relpaths decoded (in-process pool), in order."""
    seen = []

    def counting(job):
        seen.append(job.relpath)
        return decode_for_worker(job)

    monkeypatch.setattr(decode_pool, "decode_for_worker", counting)
    return seen


@pytest.fixture
def hashes(monkeypatch):
    seen = []
    real = index.quick_hash

    def counting(path):
        seen.append(path)
        return real(path)

    monkeypatch.setattr(index, "quick_hash", counting)
    return seen


def vectors(folder, model="tiny-test"):
    with Library.open(folder, readonly=True) as lib:
        ids, vecs = lib.embedding_matrix(model)
        by_path = {p.id: p.relpath for p in lib.photos()}
    return {by_path[i]: v for i, v in zip(ids.tolist(), vecs)}


def ids(folder):
    with Library.open(folder, readonly=True) as lib:
        return {p.relpath: p.id for p in lib.photos()}


def test_first_run_embeds_everything(photo_folder, photo_labels):
    stages = []
    r = index_folder(photo_folder, progress=lambda d, t, s: stages.append(s), **FAST)
    assert (r.found, r.new, r.embedded, r.unchanged, r.missing, r.skipped) == (30, 30, 30, 0, 0, [])
    assert r.model == "tiny-test" and r.notice is None and r.seconds > 0
    assert {"scan", "index"} <= set(stages)
    with Library.open(photo_folder, readonly=True) as lib:
        assert lib.model == "tiny-test" and lib.count_photos() == 30 and lib.count_embedded() == 30
        photo = lib.photos()[0]
        assert (photo.width, photo.height) == (160, 120)
        assert lib.thumbnail(photo.id)[:2] == b"\xff\xd8"
    assert set(vectors(photo_folder)) == set(photo_labels)


def test_second_run_decodes_and_hashes_nothing(photo_folder, decodes, hashes):
    index_folder(photo_folder, **FAST)
    decodes.clear()
    r = index_folder(photo_folder, **FAST)
    assert decodes == [] and hashes == []
    assert (r.unchanged, r.new, r.changed, r.embedded) == (30, 0, 0, 0)


def test_unchanged_reindex_runs_a_constant_number_of_queries(photo_folder):
    index_folder(photo_folder, **FAST)
    statements = []
    with Library.open(photo_folder) as lib:
        lib._conn.set_trace_callback(statements.append)
        index_folder(photo_folder, library=lib, **FAST)
    assert len(statements) < 12, statements  # a few whole-table reads, nothing per photo


def test_moved_file_keeps_id_and_embedding_without_decoding(photo_folder, decodes, hashes):
    index_folder(photo_folder, **FAST)
    before_ids, before_vecs = ids(photo_folder), vectors(photo_folder)
    (photo_folder / "album").mkdir()
    os.rename(photo_folder / "red_03.jpg", photo_folder / "album" / "renamed.jpg")
    os.utime(photo_folder / "album" / "renamed.jpg", ns=(1, 1_000_000_000))  # copies often change mtime
    decodes.clear()
    stages = []
    r = index_folder(photo_folder, progress=lambda d, t, s: stages.append(s), **FAST)
    assert (r.moved, r.new, r.missing, r.embedded) == (1, 0, 0, 0)
    assert decodes == [] and len(hashes) == 1 and "hash" in stages
    after = ids(photo_folder)
    assert "red_03.jpg" not in after and after["album/renamed.jpg"] == before_ids["red_03.jpg"]
    np.testing.assert_array_equal(vectors(photo_folder)["album/renamed.jpg"], before_vecs["red_03.jpg"])
    assert index_folder(photo_folder, **FAST).unchanged == 30


def test_changed_file_is_re_embedded_under_the_same_id(photo_folder, make_photo, decodes):
    index_folder(photo_folder, **FAST)
    before_ids, before_vecs = ids(photo_folder), vectors(photo_folder)
    make_photo(photo_folder / "red_01.jpg", size=(160, 120), color=(30, 60, 210), pattern="rings", seed=5)
    decodes.clear()
    r = index_folder(photo_folder, **FAST)
    assert (r.changed, r.embedded, r.unchanged) == (1, 1, 29) and decodes == ["red_01.jpg"]
    assert ids(photo_folder) == before_ids
    assert not np.allclose(vectors(photo_folder)["red_01.jpg"], before_vecs["red_01.jpg"])


def test_a_vanished_file_is_missing_not_deleted_until_the_user_forgets_it(photo_folder):
    index_folder(photo_folder, **FAST)
    gone = photo_folder / "blue_02.jpg"
    data = gone.read_bytes()
    stat = gone.stat()
    gone.unlink()
    r = index_folder(photo_folder, **FAST)
    assert (r.missing, r.found) == (1, 29)
    assert "blue_02.jpg" in ids(photo_folder) and len(vectors(photo_folder)) == 30
    with Library.open(photo_folder, readonly=True) as lib:
        assert list(lib.missing().values()) == ["blue_02.jpg"]
    gone.write_bytes(data)                      # the drive is back
    os.utime(gone, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    r = index_folder(photo_folder, **FAST)
    assert (r.missing, r.unchanged, r.embedded) == (0, 30, 0)
    gone.unlink()
    index_folder(photo_folder, **FAST)
    with Library.open(photo_folder) as lib:
        assert lib.forget_missing() == 1 and lib.missing() == {}
    assert "blue_02.jpg" not in ids(photo_folder) and len(vectors(photo_folder)) == 29


def test_skipped_files_are_listed_with_reasons_and_not_retried_until_changed(photo_folder, make_photo, decodes):
    (photo_folder / "empty.jpg").write_bytes(b"")
    (photo_folder / "notes.png").write_bytes(b"not really a picture")
    good = (photo_folder / "green_00.jpg").read_bytes()
    (photo_folder / "cut.jpg").write_bytes(good[: len(good) // 2])
    r = index_folder(photo_folder, **FAST)
    assert {s.relpath: s.reason for s in r.skipped} == {
        "cut.jpg": "truncated or corrupt JPEG data", "empty.jpg": "empty file (0 bytes)",
        "notes.png": "not an image (unrecognised format)"}
    assert r.embedded == 30
    decodes.clear()
    r2 = index_folder(photo_folder, **FAST)
    assert decodes == [] and len(r2.skipped) == 3  # earlier runs' skips are still reported
    make_photo(photo_folder / "cut.jpg", size=(160, 120))  # repaired
    (photo_folder / "empty.jpg").unlink()
    r3 = index_folder(photo_folder, **FAST)
    assert decodes == ["cut.jpg"] and [s.relpath for s in r3.skipped] == ["notes.png"]
    assert "cut.jpg" in ids(photo_folder)


def test_file_deleted_between_scan_and_decode_is_skipped_not_fatal(photo_folder, monkeypatch):
    real = index.scan_folder

    def scan_then_delete(folder, cancel=None):
        out = real(folder, cancel=cancel)
        (photo_folder / "green_04.jpg").unlink()
        return out

    monkeypatch.setattr(index, "scan_folder", scan_then_delete)
    r = index_folder(photo_folder, **FAST)
    assert [(s.relpath, s.reason) for s in r.skipped] == [("green_04.jpg", "file disappeared during indexing")]
    assert r.embedded == 29
    monkeypatch.setattr(index, "scan_folder", real)
    assert index_folder(photo_folder, **FAST).skipped == []  # the stale skip is forgotten


def test_file_rewritten_while_read_is_redone_next_time(photo_folder, monkeypatch):
    def rewrite_after_read(job):
        res = decode_for_worker(job)
        if job.relpath == "blue_05.jpg":
            with open(job.path, "ab") as f:
                f.write(b"\0" * 10)  # appended while "indexing": size and mtime change
        return res

    monkeypatch.setattr(decode_pool, "decode_for_worker", rewrite_after_read)
    index_folder(photo_folder, **FAST)
    monkeypatch.setattr(decode_pool, "decode_for_worker", decode_for_worker)
    r = index_folder(photo_folder, **FAST)
    assert (r.changed, r.embedded) == (1, 1)


def test_cancel_keeps_committed_batches_and_a_rerun_finishes(photo_folder):
    state = {"cancel": False}

    def progress(done, total, stage):
        if stage == "index" and done >= 8:
            state["cancel"] = True

    with pytest.raises(Cancelled):
        index_folder(photo_folder, progress=progress, cancel=lambda: state["cancel"], **FAST)
    with Library.open(photo_folder, readonly=True) as lib:
        assert lib.count_photos() == 8 and lib.count_embedded("tiny-test") == 8
    r = index_folder(photo_folder, **FAST)
    assert (r.unchanged, r.new, r.embedded) == (8, 22, 22)
    assert len(vectors(photo_folder)) == 30


class ColourEmbedder:
    """A second 'model': per-channel means and spreads of a 32-px input."""

    name, dim, input_size, device = "colour-test", 6, 32, "cpu"

    def embed(self, pixels):
        a = pixels.astype(np.float32) / 255.0
        v = np.concatenate([a.mean(axis=(1, 2)), a.std(axis=(1, 2))], axis=1) + 1e-3
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    def describe(self, centroids, top=3):
        return [[("colour", 1.0)] for _ in centroids]


def test_model_switch_re_embeds_and_switching_back_reuses(photo_folder, decodes):
    index_folder(photo_folder, **FAST)
    before = ids(photo_folder)
    decodes.clear()
    r = index_folder(photo_folder, embedder=ColourEmbedder(), workers=0, batch_size=8)
    assert (r.model, r.embedded, r.unchanged) == ("colour-test", 30, 30) and len(decodes) == 30
    with Library.open(photo_folder, readonly=True) as lib:
        assert lib.model == "colour-test" and lib.embedding_matrix()[1].shape == (30, 6)
    assert ids(photo_folder) == before
    decodes.clear()
    r = index_folder(photo_folder, **FAST)  # the tiny-test vectors are still there
    assert (r.model, r.embedded) == ("tiny-test", 0) and decodes == []
    with Library.open(photo_folder, readonly=True) as lib:
        assert lib.model == "tiny-test"


def test_worker_pool_matches_in_process_results_and_leaves_no_processes(photo_folder):
    r = index_folder(photo_folder, model="tiny-test", workers=2, batch_size=8)
    assert r.embedded == 30
    assert multiprocessing.active_children() == []
    pooled = vectors(photo_folder)
    shutil.rmtree(photo_folder / ".photoclust")
    index_folder(photo_folder, **FAST)
    inline = vectors(photo_folder)
    for k in inline:
        np.testing.assert_allclose(pooled[k], inline[k], atol=1e-3)


def test_pool_is_stopped_on_cancel_and_on_errors(photo_folder):
    class Boom(ColourEmbedder):
        def embed(self, pixels):
            raise RuntimeError("embedder failed")

    with pytest.raises(RuntimeError, match="embedder failed"):
        index_folder(photo_folder, embedder=Boom(), workers=2, batch_size=4)
    assert multiprocessing.active_children() == []
    seen = []
    with pytest.raises(Cancelled):
        index_folder(photo_folder, model="tiny-test", workers=2, batch_size=4,
                     progress=lambda d, t, s: seen.append(s), cancel=lambda: "index" in seen)
    assert multiprocessing.active_children() == []
    with Library.open(photo_folder, readonly=True) as lib:
        assert lib.count_photos() == 4  # the one batch committed before the cancel was seen


def crash_on_red(job):
    """A decoder that kills its worker process on one file (think: segfault)."""
    if job.relpath == "red_02.jpg":
        os._exit(3)
    return decode_for_worker(job)


def test_a_crashing_decoder_skips_only_the_culprit(photo_folder):
    jobs = [DecodeJob(str(photo_folder / n), n, 64) for n in sorted(os.listdir(photo_folder))]
    with DecodePool(2, window=6, fn=crash_on_red) as pool:
        results = list(pool.imap(jobs))
    assert [r.relpath for r in results] == [j.relpath for j in jobs]
    bad = [(r.relpath, r.reason) for r in results if r.decoded is None]
    assert bad == [("red_02.jpg", CRASH_REASON)]
    assert multiprocessing.active_children() == []


def test_quick_hash_identity(tmp_path):
    rng = np.random.default_rng(0)
    big = rng.bytes(5 * CHUNK + 123)
    small = rng.bytes(1000)
    for name, data in (("big", big), ("small", small)):
        (tmp_path / name).write_bytes(data)
        assert quick_hash(tmp_path / name) == quick_hash_bytes(data)
    (tmp_path / "copy").write_bytes(big)
    assert quick_hash(tmp_path / "copy") == quick_hash(tmp_path / "big")
    for pos in (10, len(big) // 2, len(big) - 10):  # head, middle and tail windows all count
        changed = bytearray(big)
        changed[pos] ^= 0xFF
        assert quick_hash_bytes(bytes(changed)) != quick_hash_bytes(big)
    assert quick_hash_bytes(big + b"\0") != quick_hash_bytes(big)


def test_worker_reads_large_files_by_streaming_with_the_same_hash(photo_folder, monkeypatch):
    job = DecodeJob(str(photo_folder / "red_00.jpg"), "red_00.jpg", 64)
    in_memory = decode_for_worker(job)
    monkeypatch.setattr(decode_pool, "IN_MEMORY_LIMIT", 10)
    streamed = decode_for_worker(job)
    assert in_memory.quick_hash == streamed.quick_hash == quick_hash(photo_folder / "red_00.jpg")
    np.testing.assert_array_equal(in_memory.decoded.pixels, streamed.decoded.pixels)
    assert streamed.record.size == (photo_folder / "red_00.jpg").stat().st_size

"""Hostile input fed to `photoclust index`: every good photo indexed, every bad one skipped
with a one-line reason (in the report, in `info --json`), no traceback, bounded memory.

The folder of hostile files is made in code by tests/hostile.py. Cases that are a moment
rather than bytes (deleted between scan and decode, rewritten while decoding, permission
denied) are staged here, in-process through monkeypatch, and (permissions) also for real in
a child process; as root, that child runs without the capabilities that let root ignore
file modes (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH).
"""
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hostile import (BLUE, GREEN, INDEXED, RED, REPO, SKIPPED, centre_color, cli_argv, cli_env, close_color,
                     integrity_problems, jpeg, jpeg_declaring, png_declaring, rewrite_in_place, run_cli,
                     write_hostile_folder)
from sqlpeek import sql
from photoclust_app.cli import main
from photoclust_app.core.ingest import decode_pool
from photoclust_app.core.ingest import index as index_mod
from photoclust_app.core.ingest.index import index_folder
from photoclust_app.core.store.library import Library


@pytest.fixture(autouse=True)
def _cli_logging_left_alone(monkeypatch):
    """cli.main() configures logging once per process, binding a stderr handler to whatever
    stream pytest captures at that moment (closed later): mark it configured instead."""
    monkeypatch.setattr(logging.getLogger(), "_photoclust_configured", True, raising=False)


def _lib_photos(folder):
    with Library.open(folder, readonly=True) as lib:
        return {p.relpath: (p, lib.thumbnail(p.id)) for p in lib.photos()}, {s.relpath: s.reason for s in lib.skipped()}


def _info_json(folder, capsys):
    capsys.readouterr()
    assert main(["info", str(folder), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


# -- the whole hostile folder through the real command line ------------------------------
@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "photos"
    expect = write_hostile_folder(folder, outside=root / "outside")
    home = root / "home"
    first = run_cli("index", folder, "--model", "tiny-test", "--workers", "2", home=home)
    second = run_cli("index", folder, "--model", "tiny-test", "--workers", "2", home=home)
    return folder, expect, first, second, home


@pytest.mark.slow
def test_cli_index_of_hostile_folder_has_no_traceback(hostile_run):
    folder, expect, first, second, _ = hostile_run
    for run in (first, second):
        assert run.returncode == 0, run.stderr[-3000:]
        assert "Traceback" not in run.stdout
        # logging's own "--- Logging error ---" reports are the known bug below, nothing else.
        assert run.stderr.count("Traceback") == run.stderr.count("--- Logging error ---"), run.stderr[-3000:]
    n_photos = sum(e.outcome == INDEXED for e in expect.values())
    assert f"{n_photos} embedded" in first.stdout
    # The second run reads nothing again: bad files stay skipped until they change.
    assert f"{n_photos} unchanged; 0 embedded" in second.stdout, second.stdout
    # Every skip is one printable line of the report: "  path: reason".
    lines = first.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith(" skipped:"))
    assert len(lines[start + 1:]) == sum(e.outcome == SKIPPED for e in expect.values())
    assert all(line.startswith("  ") and ": " in line for line in lines[start + 1:])


@pytest.mark.slow
def test_no_logging_error_on_undecodable_file_names(hostile_run):
    for run in hostile_run[2:4]:
        assert "--- Logging error ---" not in run.stderr


@pytest.mark.slow
def test_every_good_photo_indexed_right(hostile_run):
    folder, expect, *_ = hostile_run
    photos, _ = _lib_photos(folder)
    want = {p for p, e in expect.items() if e.outcome == INDEXED}
    assert set(photos) == want
    for rel in want:
        e, (photo, thumb) = expect[rel], photos[rel]
        assert thumb, rel
        if e.size:
            assert (photo.width, photo.height) == e.size, (rel, e.case)
        if e.color:
            got = centre_color(thumb)
            assert close_color(got, e.color), (rel, e.case, got, e.color)
    with Library.open(folder, readonly=True) as lib:
        orient = dict(sql(lib, "SELECT relpath, orientation FROM photos"))
    for rel, e in expect.items():
        if e.orientation is not None:
            assert orient[os.fsencode(rel)] == e.orientation, (rel, e.case)
    assert integrity_problems(folder / ".photoclust" / "library.sqlite") == []


@pytest.mark.slow
def test_palette_transparency_composited_on_white(hostile_run):
    folder, *_ = hostile_run
    photos, _ = _lib_photos(folder)
    with Image.open(io.BytesIO(photos["palette_alpha.png"][1])) as im:
        a = np.asarray(im.convert("RGB"), np.float32)
    left, right = a[:, : a.shape[1] // 3].mean(axis=(0, 1)), a[:, -a.shape[1] // 3:].mean(axis=(0, 1))
    assert close_color(left, (255, 255, 255), 20), left  # transparent -> white, not black
    assert close_color(right, BLUE, 30), right


@pytest.mark.slow
def test_every_bad_file_skipped_with_one_line_reason_in_info_json(hostile_run, capsys):
    folder, expect, first, *_ = hostile_run
    info = _info_json(folder, capsys)
    shown = {s["path"]: s["reason"] for s in info["skipped"]}
    for rel, e in expect.items():
        # The file's raw bytes, undecodable ones as \xNN, line breaks as \n: one unambiguous line.
        printable = os.fsencode(rel).decode("utf-8", "backslashreplace").replace("\n", "\\n")
        if e.outcome == SKIPPED:
            assert printable in shown, (rel, e.case, sorted(shown))
            reason = shown[printable]
            assert e.reason in reason, (rel, reason)
            assert reason and "\n" not in reason and len(reason) < 200
            assert "Traceback" not in reason
        else:
            assert printable not in shown, (rel, e.case)
    for path in shown:
        assert "\n" not in path
    assert info["indexed"] == sum(e.outcome == INDEXED for e in expect.values())
    # The GUI lists exactly what the library lists (gui/jobs.py sends lib.skipped()).
    _, skipped = _lib_photos(folder)
    assert len(skipped) == len(shown)


@pytest.mark.slow
def test_symlinks_never_lead_outside(hostile_run):
    folder, expect, *_ = hostile_run
    photos, _ = _lib_photos(folder)
    for rel in photos:
        real = os.path.realpath(folder / rel)
        assert real.startswith(str(folder) + os.sep), rel
    assert not any(rel.startswith(("loop/", "outside_dir/")) for rel in photos)


# -- bombs: refused from the header, memory stays flat -----------------------------------
_BOMB_PROBE = r"""
import resource, sys, time
from photoclust_app.core.ingest.decode import decode_photo
from photoclust_app.core.errors import UnreadableImage
import numpy, PIL.Image  # baseline: what any decode needs loaded
decode_photo(sys.argv[1])  # warm up on a small good photo
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for path in sys.argv[2:]:
    t = time.perf_counter()
    try:
        decode_photo(path)
        print("DECODED", path)
    except UnreadableImage as err:
        print("SKIP", round(time.perf_counter() - t, 3), err)
print("GROWTH_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_decompression_bombs_are_refused_without_decoding(tmp_path):
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg())
    bombs = {"png30k.png": png_declaring(30000, 30000), "png300mp.png": png_declaring(20000, 15000),
             "jpeg30k.jpg": jpeg_declaring(30000, 30000), "jpeg65k.jpg": jpeg_declaring(65500, 65500)}
    for name, data in bombs.items():
        (tmp_path / name).write_bytes(data)
    out = subprocess.run([sys.executable, "-c", _BOMB_PROBE, str(good), *(str(tmp_path / n) for n in bombs)],
                         capture_output=True, text=True, env=cli_env(), timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    skips = [line for line in lines if line.startswith("SKIP")]
    assert len(skips) == len(bombs), out.stdout
    for line in skips:
        _, _seconds, reason = line.split(" ", 2)
        assert reason.startswith("too large ("), reason
    growth_kb = int(lines[-1].split()[1])
    # A 30000x30000 decode would need 900 MB (L) to 2.7 GB (RGB); we allow 64 MB of noise.
    assert growth_kb < 64 * 1024, growth_kb


# -- moments: deleted, rewritten, unreadable ---------------------------------------------
@pytest.fixture
def three_photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, color in enumerate((RED, GREEN, BLUE)):
        (folder / f"p{i}.jpg").write_bytes(jpeg(color=color, seed=i))
    return folder


def _index(folder, **kw):
    kw.setdefault("model", "tiny-test")
    kw.setdefault("workers", 0)  # in-process decoding, so monkeypatches apply
    return index_folder(folder, **kw)


def test_file_deleted_between_scan_and_decode(three_photos, monkeypatch, capsys):
    real_scan = index_mod.scan_folder

    def scan_then_delete(folder, **kw):
        out = real_scan(folder, **kw)
        (Path(folder) / "p1.jpg").unlink()
        return out

    monkeypatch.setattr(index_mod, "scan_folder", scan_then_delete)
    report = _index(three_photos)
    assert {s.relpath: s.reason for s in report.skipped} == {"p1.jpg": "file disappeared during indexing"}
    assert report.embedded == 2
    assert {s["path"] for s in _info_json(three_photos, capsys)["skipped"]} == {"p1.jpg"}
    monkeypatch.setattr(index_mod, "scan_folder", real_scan)
    report = _index(three_photos)  # gone for good: the skip is forgotten, nothing else changes
    assert report.skipped == [] and report.unchanged == 2 and report.embedded == 0
    photos, skipped = _lib_photos(three_photos)
    assert set(photos) == {"p0.jpg", "p2.jpg"} and skipped == {}


def test_file_deleted_then_restored_is_indexed(three_photos, monkeypatch):
    real_scan = index_mod.scan_folder
    saved = (three_photos / "p1.jpg").read_bytes()

    def scan_then_delete(folder, **kw):
        out = real_scan(folder, **kw)
        (Path(folder) / "p1.jpg").unlink()
        return out

    monkeypatch.setattr(index_mod, "scan_folder", scan_then_delete)
    _index(three_photos)
    monkeypatch.setattr(index_mod, "scan_folder", real_scan)
    (three_photos / "p1.jpg").write_bytes(saved)
    report = _index(three_photos)
    assert report.embedded == 1 and report.skipped == []
    assert set(_lib_photos(three_photos)[0]) == {"p0.jpg", "p1.jpg", "p2.jpg"}


def test_file_rewritten_while_decoding_is_redone_next_run(three_photos, monkeypatch):
    """Rewritten after it was read: the old stat and old pixels are stored together, and the
    next run sees the new stat and redoes it."""
    target = three_photos / "p0.jpg"
    original = target.read_bytes()
    old = target.stat()
    real_decode = decode_pool.decode_bytes

    def decode_and_rewrite(data, *a, **kw):
        if bytes(data) == original:
            rewrite_in_place(target, jpeg(color=BLUE, seed=50))
        return real_decode(data, *a, **kw)

    monkeypatch.setattr(decode_pool, "decode_bytes", decode_and_rewrite)
    _index(three_photos)
    photos, _ = _lib_photos(three_photos)
    photo, thumb = photos["p0.jpg"]
    assert (photo.size, photo.mtime_ns) == (old.st_size, old.st_mtime_ns)  # the stat it read
    assert close_color(centre_color(thumb), RED)  # ... with the pixels of that version
    monkeypatch.setattr(decode_pool, "decode_bytes", real_decode)
    report = _index(three_photos)
    assert report.changed == 1 and report.embedded == 1
    photos, _ = _lib_photos(three_photos)
    photo, thumb = photos["p0.jpg"]
    new = target.stat()
    assert (photo.size, photo.mtime_ns) == (new.st_size, new.st_mtime_ns)
    assert close_color(centre_color(thumb), BLUE)


def test_file_rewritten_between_stat_and_read_is_never_stale_under_new_stat(three_photos, monkeypatch):
    """Rewritten after its stat was taken but before it was read: the new pixels are stored
    under the OLD stat, so the next run sees a change and redoes it; never old pixels under
    the new stat (which would hide the edit forever)."""
    target = three_photos / "p0.jpg"
    old = target.stat()
    done = []

    def open_after_rewrite(path, *a, **kw):
        if os.fspath(path) == str(target) and not done:
            done.append(1)
            rewrite_in_place(target, jpeg(color=BLUE, seed=51))
        return open(path, *a, **kw)

    monkeypatch.setattr(decode_pool, "open", open_after_rewrite, raising=False)
    _index(three_photos)
    assert done, "the rewrite hook did not run: decode_pool no longer opens files with open()"
    photos, _ = _lib_photos(three_photos)
    photo, thumb = photos["p0.jpg"]
    new = target.stat()
    stored = (photo.size, photo.mtime_ns)
    if close_color(centre_color(thumb), RED):
        assert False, "old pixels stored although the file was read after the rewrite"
    assert stored == (old.st_size, old.st_mtime_ns) != (new.st_size, new.st_mtime_ns)
    monkeypatch.undo()
    report = _index(three_photos)
    assert report.changed == 1
    photo, thumb = _lib_photos(three_photos)[0]["p0.jpg"]
    assert (photo.size, photo.mtime_ns) == (new.st_size, new.st_mtime_ns)
    assert close_color(centre_color(thumb), BLUE)


def test_permission_denied_in_process_then_fixed(three_photos, monkeypatch):
    """As root, chmod cannot deny a read; the decoder's open() is made to fail as it would."""
    target = str(three_photos / "p2.jpg")

    def denying_open(path, *a, **kw):
        if os.fspath(path) == target:
            raise PermissionError(13, "Permission denied", target)
        return open(path, *a, **kw)

    monkeypatch.setattr(decode_pool, "open", denying_open, raising=False)
    report = _index(three_photos)
    assert {s.relpath: s.reason for s in report.skipped} == {"p2.jpg": "permission denied"}
    monkeypatch.undo()
    # Permissions fixed: chmod changes neither size nor mtime, yet the file must be retried.
    report = _index(three_photos)
    assert report.skipped == [] and report.embedded == 1
    assert set(_lib_photos(three_photos)[0]) == {"p0.jpg", "p1.jpg", "p2.jpg"}


def _drop_file_permission_override():
    """preexec_fn: the child loses CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (dropped from the
    bounding set, so execve cannot give them back), i.e. root that obeys file modes."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@pytest.mark.slow
def test_permission_denied_for_real(tmp_path):
    """The kernel's own EACCES, no monkeypatch: a child photoclust indexes a folder holding
    a mode-000 photo and a mode-000 subfolder. As root the child runs without the
    capabilities that let root ignore file modes."""
    folder, home = tmp_path / "photos", tmp_path / "home"
    folder.mkdir()
    for i, color in enumerate((RED, GREEN)):
        (folder / f"p{i}.jpg").write_bytes(jpeg(color=color, seed=i))
    secret = folder / "secret.jpg"
    secret.write_bytes(jpeg(color=BLUE, seed=9))
    locked = folder / "locked"
    locked.mkdir()
    (locked / "inside.jpg").write_bytes(jpeg(seed=10))
    os.chmod(secret, 0)
    os.chmod(locked, 0)
    preexec = _drop_file_permission_override if os.geteuid() == 0 else None

    def run(*args):
        return subprocess.run(cli_argv(*args), capture_output=True, text=True, env=cli_env(home),
                              preexec_fn=preexec, timeout=180, cwd=REPO)

    try:
        probe = subprocess.run([sys.executable, "-c", f"open({str(secret)!r}, 'rb')"], preexec_fn=preexec,
                               capture_output=True, text=True)
        if "PermissionError" not in probe.stderr:
            pytest.skip(f"cannot make a file unreadable here (probe: rc {probe.returncode} {probe.stderr[-200:]})")
        out = run("index", folder, "--model", "tiny-test", "--workers", "0")
        assert out.returncode == 0, out.stderr[-2000:]
        assert "Traceback" not in out.stderr
        assert "secret.jpg: permission denied" in out.stdout, out.stdout
        assert "locked/: folder not readable" in out.stdout, out.stdout
        info = json.loads(run("info", folder, "--json").stdout)
        reasons = {s["path"]: s["reason"] for s in info["skipped"]}
        assert reasons.get("secret.jpg") == "permission denied", reasons
        assert reasons.get("locked/", "").startswith("folder not readable"), reasons
        assert info["indexed"] == 2
        # The owner fixes the modes (size and mtime unchanged): the next run indexes both.
        os.chmod(secret, 0o644)
        os.chmod(locked, 0o755)
        out = run("index", folder, "--model", "tiny-test", "--workers", "0")
        assert out.returncode == 0, out.stderr[-2000:]
        info = json.loads(run("info", folder, "--json").stdout)
        assert info["indexed"] == 4 and info["skipped"] == [], (out.stdout, info["skipped"])
    finally:
        os.chmod(secret, 0o644)
        os.chmod(locked, 0o755)


# -- small folders -----------------------------------------------------------------------
def test_folder_with_no_photos(tmp_path, capsys):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("nothing to see")
    report = _index(folder)
    assert (report.found, report.embedded, report.skipped) == (0, 0, [])
    info = _info_json(folder, capsys)
    assert info["photos"] == 0 and info["skipped"] == [] and info["clusters"] == []
    capsys.readouterr()
    assert main(["cluster", str(folder)]) == 1
    assert "Nothing to cluster yet" in capsys.readouterr().err




def test_folder_with_one_photo_indexes(tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "only.jpg").write_bytes(jpeg())
    report = _index(folder)
    assert (report.found, report.embedded, report.skipped) == (1, 1, [])


@pytest.mark.slow
@pytest.mark.parametrize("n", [1, 3])
def test_tiny_folders_cluster_without_error(tmp_path, capsys, n):
    """One photo, or three near-identical ones: clustering answers, never raises."""
    folder = tmp_path / f"n{n}"
    folder.mkdir()
    for i in range(n):
        (folder / f"near_{i}.jpg").write_bytes(jpeg(color=GREEN, seed=100 + i, sigma=2))
    assert _index(folder).embedded == n
    capsys.readouterr()
    code = main(["cluster", str(folder), "--no-names"])
    out = capsys.readouterr()
    assert code == 0, out.err
    info = _info_json(folder, capsys)
    assert sum(c["size"] for c in info["clusters"]) + info["unsorted"] == n
    with Library.open(folder, readonly=True) as lib:
        assert len(lib.assignments()) == n
        ids, xy = lib.layout()
        assert len(ids) == n and (xy == xy).all()  # a position for each, no NaN


def test_three_near_identical_photos_are_three_photos(tmp_path):
    folder = tmp_path / "near"
    folder.mkdir()
    for i in range(3):
        (folder / f"near_{i}.jpg").write_bytes(jpeg(color=GREEN, seed=100 + i, sigma=2))
    report = _index(folder)
    assert report.embedded == 3 and report.moved == 0
    with Library.open(folder, readonly=True) as lib:
        rows = sql(lib, "SELECT relpath, quick_hash FROM photos")
    assert len(rows) == 3 and len({h for _, h in rows}) == 3
    # Renaming one of them is a move (keeps its id), not a confusion with its look-alikes.
    with Library.open(folder, readonly=True) as lib:
        before = {p.relpath: p.id for p in lib.photos()}
    (folder / "near_1.jpg").rename(folder / "renamed.jpg")
    report = _index(folder)
    assert report.moved == 1 and report.embedded == 0
    with Library.open(folder, readonly=True) as lib:
        after = {p.relpath: p.id for p in lib.photos()}
    assert after["renamed.jpg"] == before["near_1.jpg"]
    assert after["near_0.jpg"] == before["near_0.jpg"] and after["near_2.jpg"] == before["near_2.jpg"]


# -- hostile library files ---------------------------------------------------------------
@pytest.mark.parametrize("kind", ["empty", "schema0", "newer", "garbage"])
def test_readonly_open_of_unfinished_or_foreign_library_is_a_sentence(tmp_path, capsys, kind):
    """What a writer killed before its first commit leaves (an empty file, or schema 0),
    a newer photoclust's library, or junk: `info` answers with a sentence, no traceback;
    `index` then builds (or refuses) it properly."""
    import sqlite3

    folder = tmp_path / "photos"
    (folder / ".photoclust").mkdir(parents=True)
    (folder / "a.jpg").write_bytes(jpeg())
    db = folder / ".photoclust" / "library.sqlite"
    if kind == "garbage":
        db.write_bytes(np.random.default_rng(1).integers(0, 256, 8192, dtype=np.uint8).tobytes())
    else:
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute({"empty": "PRAGMA user_version=0", "schema0": "CREATE TABLE meta(key TEXT)",
                      "newer": "PRAGMA user_version=99"}[kind])
        conn.commit()
        conn.close()
    capsys.readouterr()
    assert main(["info", str(folder), "--json"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("photoclust: ") and err.count("\n") == 1, err
    assert {"empty": "has not been indexed yet", "schema0": "has not been indexed yet",
            "newer": "newer photoclust", "garbage": "is damaged"}[kind] in err
    if kind == "empty":
        assert _index(folder).embedded == 1
        assert _info_json(folder, capsys)["indexed"] == 1

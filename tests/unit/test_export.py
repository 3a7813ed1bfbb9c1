"""Export: name sanitising, planning (the dry run), collisions and the four modes."""
from __future__ import annotations

import hashlib
import os
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from photoclust_app.core.export import fs
from photoclust_app.core.errors import ExportConflict
from photoclust_app.core.export import (EXPORT_MARKER, plan_export, read_manifest, run_export,
                                        sanitize_file_name, sanitize_folder_name, undo_export)
from photoclust_app.core.export.names import WINDOWS_RESERVED


def make_photos(root: Path, names: list[str], size: int = 3000) -> dict[Path, bytes]:
    out = {}
    for n, name in enumerate(names):
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        data = hashlib.sha256(name.encode()).digest() * (size // 32) + bytes([n % 256])
        p.write_bytes(data)
        out[p] = data
    return out


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def assert_valid_component(name: str, parent: Path) -> None:
    assert name and name not in (".", "..")
    assert not set(name) & set('/\\:*?"<>|\x00')
    assert not any(unicodedata.category(c) == "Cc" for c in name)
    assert name == name.rstrip(". ") and not name.startswith(".")
    assert name.partition(".")[0].rstrip(" ").upper() not in WINDOWS_RESERVED
    assert len(name.encode("utf-8")) <= 120
    target = parent / name
    target.mkdir()
    assert target.resolve().parent == parent.resolve()
    assert os.listdir(parent) == [name]
    target.rmdir()


NASTY = ["a/b", "a\\b", "..", ".", "../../etc", "x:y", "CON", "con.txt", "LPT1", "nul", "COM9.jpg",
         "Dogs. . .", "  Dogs  ", "x" * 300, "é" * 300, "🐶🐱", "", "   ", "\t\n", "a\x00b", "line\nbreak",
         "\u202eevil", "what?*<>|\"", "aux .txt"]


@pytest.mark.parametrize("name", NASTY)
def test_sanitize_gives_one_component_that_creates_under_dest(tmp_path, name):
    result = sanitize_folder_name(name)
    assert_valid_component(result, tmp_path)


def test_sanitize_specific_results():
    assert sanitize_folder_name("CON") == "CON_"
    assert sanitize_folder_name("con.txt") == "con_.txt"
    assert sanitize_folder_name("LPT1") == "LPT1_"
    assert sanitize_folder_name("..") == "Cluster"
    assert sanitize_folder_name("", fallback="Unsorted") == "Unsorted"
    assert sanitize_folder_name("   ") == "Cluster"
    assert sanitize_folder_name("Dogs. . ") == "Dogs"
    assert sanitize_folder_name("🐶🐱") == "🐶🐱"                 # emoji-only names are kept
    assert sanitize_folder_name("a\x00b\nc") == "ab c"
    assert sanitize_folder_name("Cats/Dogs") == "Cats_Dogs"
    long = sanitize_folder_name("é" * 300)                        # 2 bytes each: cut on a boundary
    assert long == "é" * 60
    assert sanitize_file_name("CON.jpg") == "CON_.jpg"
    assert sanitize_file_name("IMG:1.JPG") == "IMG_1.JPG"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_sanitize_any_text(text):
    with tempfile.TemporaryDirectory() as d:
        assert_valid_component(sanitize_folder_name(text), Path(d))


def test_plan_is_a_dry_run(tmp_path):
    photos = make_photos(tmp_path / "src", ["a.jpg", "b.jpg"])
    dest = tmp_path / "out"
    plan = plan_export([("Dogs", list(photos))], dest)
    assert not dest.exists()
    dest.mkdir()
    (dest / "Dogs").mkdir()
    before = tree(tmp_path)
    plan = plan_export([("Dogs", list(photos)), ("Cats", list(photos))], dest)
    assert tree(tmp_path) == before
    assert plan.folders == [("Dogs", 2), ("Cats", 2)]
    assert all(not d.exists() for _, d in plan.items)


def test_case_insensitive_folder_dedup(tmp_path):
    photos = list(make_photos(tmp_path / "src", ["a.jpg", "b.jpg", "c.jpg"]))
    plan = plan_export([("Dogs", photos[:1]), ("dogs", photos[1:2]), ("DOGS", photos[2:])], tmp_path / "out")
    names = [n for n, _ in plan.folders]
    assert names == ["Dogs", "dogs (2)", "DOGS (3)"]
    run_export(plan)
    assert sorted(os.listdir(tmp_path / "out" / "dogs (2)")) == ["b.jpg"]


def test_same_basename_from_different_folders(tmp_path):
    photos = make_photos(tmp_path / "src", ["x/IMG_1.jpg", "y/IMG_1.jpg", "z/img_1.JPG"])
    plan = plan_export([("Trip", list(photos))], tmp_path / "out")
    assert [d.name for _, d in plan.items] == ["IMG_1.jpg", "IMG_1 (2).jpg", "img_1 (3).JPG"]
    run_export(plan)
    for src, dst in plan.items:
        assert dst.read_bytes() == photos[src]


def test_existing_file_in_dest_is_never_overwritten(tmp_path):
    photos = make_photos(tmp_path / "src", ["a.jpg", "b.jpg"])
    dest = tmp_path / "out"
    (dest / "Dogs").mkdir(parents=True)
    (dest / "Dogs" / "a.jpg").write_bytes(b"the user's own file")
    (dest / "Cats").write_bytes(b"a file named like a folder")
    plan = plan_export([("Dogs", list(photos)), ("Cats", list(photos))], dest)
    assert plan.folders == [("Dogs", 2), ("Cats (2)", 2)]
    assert (dest / "Dogs" / "a (2).jpg", ) == tuple(d for s, d in plan.items[:1])
    # A file that appears between planning and running is not overwritten either.
    (dest / "Dogs" / "b.jpg").write_bytes(b"appeared later")
    manifest = run_export(plan)
    assert (dest / "Dogs" / "a.jpg").read_bytes() == b"the user's own file"
    assert (dest / "Dogs" / "b.jpg").read_bytes() == b"appeared later"
    assert (dest / "Cats").read_bytes() == b"a file named like a folder"
    got = {s: d for s, d in ((i.src, i.dst) for i in read_manifest(manifest).done) if d.parent.name == "Dogs"}
    assert got[tmp_path / "src" / "b.jpg"].name == "b (2).jpg"
    assert (dest / "Dogs" / "b (2).jpg").read_bytes() == photos[tmp_path / "src" / "b.jpg"]
    report = undo_export(manifest)
    assert report.removed == 4 and not report.refused
    assert (dest / "Dogs" / "a.jpg").read_bytes() == b"the user's own file"
    assert sorted(os.listdir(dest / "Dogs")) == ["a.jpg", "b.jpg"]


def test_symlinked_folder_in_dest_is_not_followed(tmp_path):
    photos = make_photos(tmp_path / "src", ["a.jpg"])
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "Dogs").symlink_to(outside)
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out")
    assert plan.folders == [("Dogs (2)", 1)]
    run_export(plan)
    assert os.listdir(outside) == []


def test_a_missing_photo_is_skipped_and_the_rest_exported(tmp_path):
    """Missing is not deleted: a photo not where the library says (a move export, a drive
    unplugged since the scan) is listed as skipped; 0.1 refused the whole export."""
    root = tmp_path / "Pictures"
    photos = list(make_photos(root, ["a.jpg", "sub/b.jpg"]))
    plan = plan_export([("Dogs", photos + [root / "gone.jpg"])], tmp_path / "out", source_root=root)
    assert [src.name for src, _ in plan.items] == ["a.jpg", "b.jpg"]
    assert [(p.name, why.split(":")[0]) for p, why in plan.skipped] == [("gone.jpg", "missing")]


@pytest.mark.parametrize("case", ["mode", "dest_file", "dest_is_root", "own_folder", "missing", "empty"])
def test_plan_conflicts(tmp_path, case):
    root = tmp_path / "Pictures"
    photos = list(make_photos(root, ["a.jpg", "sub/b.jpg"]))
    kwargs, groups, dest = {"source_root": root}, [("Dogs", photos)], tmp_path / "out"
    if case == "mode":
        kwargs["mode"] = "teleport"
    elif case == "dest_file":
        dest.write_bytes(b"x")
    elif case == "dest_is_root":
        dest = root
    elif case == "own_folder":
        dest, kwargs = root / "sub", {}
    elif case == "missing":  # every photo gone (a few missing ones are skipped: below)
        groups = [("Dogs", [root / "gone.jpg", root / "sub" / "gone.jpg"])]
    else:
        groups = [("Dogs", [])]
    before = tree(tmp_path)
    with pytest.raises(ExportConflict) as err:
        plan_export(groups, dest, **kwargs)
    assert str(err.value).endswith(".") and len(str(err.value)) > 20
    assert tree(tmp_path) == before


def test_dest_inside_source_root_gets_marker(tmp_path):
    root = tmp_path / "Pictures"
    photos = make_photos(root, ["a.jpg", "b.jpg"])
    plan = plan_export([("Dogs", list(photos))], root / "Sorted", source_root=root)
    run_export(plan)
    assert (root / "Sorted" / EXPORT_MARKER).is_file()
    assert EXPORT_MARKER == ".photoclust-export"


def _check_manifest(manifest: Path, plan, mode: str) -> None:
    m = read_manifest(manifest)
    assert manifest.parent == plan.dest and m.mode == mode and m.end["status"] == "complete"
    assert [(i.src, i.dst) for i in m.done] == plan.items


def test_copy_mode(tmp_path):
    photos = make_photos(tmp_path / "src", ["a.jpg", "b.jpg", "c.jpg"])
    old = {p: p.stat().st_mtime_ns - 10**9 for p in photos}
    for p, t in old.items():
        os.utime(p, ns=(t, t))
    plan = plan_export([("Dogs", list(photos)[:2]), ("Cats", list(photos)[2:])], tmp_path / "out")
    manifest = run_export(plan)
    _check_manifest(manifest, plan, "copy")
    for src, dst in plan.items:
        assert src.read_bytes() == photos[src] and dst.read_bytes() == photos[src]
        assert not fs.same_file(src, dst)
        assert dst.stat().st_mtime_ns == old[src]
    for item in read_manifest(manifest).done:
        assert item.record["sha256"] == hashlib.sha256(photos[item.src]).hexdigest()
    assert not list((tmp_path / "out").rglob("*.part"))


@pytest.mark.parametrize("other_disk", [False, True], ids=["same-disk", "forced-other-disk"])
def test_move_mode(tmp_path, monkeypatch, other_disk):
    photos = make_photos(tmp_path / "src", ["a.jpg", "b.jpg", "c.jpg"])
    if other_disk:   # make the source look like another file system: exercises copy + verify
        real = fs.device_of
        monkeypatch.setattr(fs, "device_of", lambda p: real(p) + ("src" in Path(p).parts))
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out", mode="move")
    manifest = run_export(plan)
    _check_manifest(manifest, plan, "move")
    for src, dst in plan.items:
        assert not src.exists() and dst.read_bytes() == photos[src]
    report = undo_export(manifest)
    assert (report.restored, report.removed, report.refused) == (3, 0, [])
    for src, data in photos.items():
        assert src.read_bytes() == data
    assert not (tmp_path / "out").exists()


def test_symlink_mode(tmp_path):
    photos = make_photos(tmp_path / "src", ["a.jpg", "b.jpg"])
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out", mode="symlink")
    _check_manifest(run_export(plan), plan, "symlink")
    for src, dst in plan.items:
        assert dst.is_symlink() and os.readlink(dst) == str(src) and os.path.isabs(os.readlink(dst))
        assert dst.read_bytes() == photos[src] and src.read_bytes() == photos[src]


def test_hardlink_mode(tmp_path):
    photos = make_photos(tmp_path / "src", ["a.jpg", "b.jpg"])
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out", mode="hardlink")
    manifest = run_export(plan)
    _check_manifest(manifest, plan, "hardlink")
    for src, dst in plan.items:
        assert dst.stat().st_ino == src.stat().st_ino and not dst.is_symlink()
    assert undo_export(manifest).removed == 2
    assert all(p.read_bytes() == d and p.stat().st_nlink == 1 for p, d in photos.items())


def test_photo_in_two_groups_is_moved_once(tmp_path):
    photos = make_photos(tmp_path / "src", ["a.jpg", "b.jpg"])
    a, b = list(photos)
    plan = plan_export([("Dogs", [a, b]), ("Cats", [a])], tmp_path / "out", mode="move")
    assert [s for s, _ in plan.items] == [a, b] and plan.folders == [("Dogs", 2)]
    manifest = run_export(plan)
    assert undo_export(manifest).restored == 2
    assert a.read_bytes() == photos[a] and b.read_bytes() == photos[b]
    copies = plan_export([("Dogs", [a, b]), ("Cats", [a])], tmp_path / "out2")
    assert len(copies.items) == 3      # copies may go to both folders


def test_undo_removes_everything_it_made(tmp_path):
    photos = make_photos(tmp_path / "src", ["a.jpg", "b.jpg"])
    before = tree(tmp_path)
    manifest = run_export(plan_export([("Dogs", list(photos)), ("Cats", list(photos))], tmp_path / "out"))
    report = undo_export(manifest)
    assert (report.removed, report.restored, report.refused) == (4, 0, [])
    assert tree(tmp_path) == before


def test_undo_keeps_pre_existing_dest_and_marker_of_other_export(tmp_path):
    photos = make_photos(tmp_path / "src", ["a.jpg"])
    dest = tmp_path / "out"
    (dest / "Mine").mkdir(parents=True)
    first = run_export(plan_export([("Dogs", list(photos))], dest))
    second = run_export(plan_export([("Dogs", list(photos))], dest))
    undo_export(first)
    assert (dest / EXPORT_MARKER).exists()      # the second export still lives here
    assert sorted(os.listdir(dest / "Dogs")) == ["a (2).jpg"]
    undo_export(second)
    assert tree(dest) == ["Mine"]

"""Scanning: what counts as a photo, what is passed over and why; never loops or escapes."""
import os

from photoclust_app.core.ingest.scan import EXPORT_MARKER, scan_folder


def _touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_finds_images_recursively_by_extension(tmp_path):
    _touch(tmp_path / "a.jpg")
    _touch(tmp_path / "sub" / "deeper" / "b.PNG")
    _touch(tmp_path / "sub" / "notes.txt")
    _touch(tmp_path / "empty.jpeg", b"")
    records, skips = scan_folder(tmp_path)
    assert [r.relpath for r in records] == ["a.jpg", "empty.jpeg", "sub/deeper/b.PNG"]
    assert records[1].size == 0
    assert skips == []


def test_ignores_hidden_library_and_export_folders(tmp_path):
    _touch(tmp_path / ".photoclust" / "x.jpg")
    _touch(tmp_path / ".hidden.jpg")
    _touch(tmp_path / "sorted" / EXPORT_MARKER, b"")
    _touch(tmp_path / "sorted" / "Dogs" / "d.jpg")
    _touch(tmp_path / "keep.jpg")
    records, _ = scan_folder(tmp_path)
    assert [r.relpath for r in records] == ["keep.jpg"]


def test_symlinks_are_listed_not_followed(tmp_path):
    outside = tmp_path / "outside"
    _touch(outside / "o.jpg")
    root = tmp_path / "photos"
    _touch(root / "real.jpg")
    os.symlink(outside, root / "link-out")
    os.symlink(root, root / "loop")
    os.symlink(root / "real.jpg", root / "alias.jpg")
    records, skips = scan_folder(root)
    assert [r.relpath for r in records] == ["real.jpg"]
    assert {s.relpath: s.reason for s in skips} == {
        "alias.jpg": "symbolic link (not followed)",
        "link-out": "symbolic link (not followed)",
        "loop": "symbolic link (not followed)",
    }


def test_odd_names_survive(tmp_path):
    names = ["with space.jpg", "emoji 🌸.jpg", "new\nline.jpg"]
    for n in names:
        _touch(tmp_path / n)
    bad = os.fsencode(str(tmp_path)) + b"/bad\xff.jpg"
    with open(bad, "wb") as f:
        f.write(b"x")
    records, _ = scan_folder(tmp_path)
    got = {r.relpath for r in records}
    assert set(names) <= got
    assert os.fsdecode(b"bad\xff.jpg") in got
    for r in records:
        assert os.path.exists(os.path.join(tmp_path, r.relpath))

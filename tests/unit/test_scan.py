"""Scanning: what counts as a photo, what is passed over and why; never loops or escapes."""
import os

from photoclust_app.core.ingest.scan import EXPORT_MARKER, EXPORT_SKIP_REASON, scan_folder


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
    records, skips = scan_folder(tmp_path)
    assert [r.relpath for r in records] == ["keep.jpg"]
    # the export is passed over with a reason the user sees, not silently (0.1)
    assert [(s.relpath, s.reason) for s in skips] == [("sorted/", EXPORT_SKIP_REASON)]


def test_an_entry_that_cannot_be_statted_is_listed(tmp_path, monkeypatch):
    """0.1 dropped a directory entry whose stat failed (a path over PATH_MAX) without a word."""
    _touch(tmp_path / "ok.jpg")
    (tmp_path / "deep").mkdir()
    real_scandir = os.scandir

    class Entry:
        def __init__(self, e):
            self._e, self.name, self.path = e, e.name, e.path

        def stat(self, follow_symlinks=True):
            if self.name == "deep":
                raise OSError(36, "File name too long")
            return self._e.stat(follow_symlinks=follow_symlinks)

    class Scandir:
        def __init__(self, path):
            self._it = real_scandir(path)

        def __enter__(self):
            return (Entry(e) for e in self._it)

        def __exit__(self, *a):
            self._it.close()

    monkeypatch.setattr(os, "scandir", Scandir)
    records, skips = scan_folder(tmp_path)
    monkeypatch.undo()
    assert [r.relpath for r in records] == ["ok.jpg"]
    assert [(s.relpath, s.reason) for s in skips] == [("deep", "cannot be read (File name too long)")]


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

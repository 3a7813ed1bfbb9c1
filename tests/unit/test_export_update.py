"""Exporting again into an earlier export: an update that adds only what is new (nothing
doubled, a renamed cluster's photos stay in its folder), says what it leaves, and is undone
like any export; --fresh is a separate export."""
import json

import numpy as np
import pytest

from photoclust_app.cli import main
from photoclust_app.core.clustering.plan import ClusteringPlan, apply_clustering
from photoclust_app.core.export import plan_update
from photoclust_app.core.records import PhotoMeta, PhotoRecord
from photoclust_app.core.store.library import IndexedPhoto, Library


@pytest.fixture
def folder(tmp_path):
    """12 photos: "sea" (00-04), "hills" (05-08), Unsorted (09-11)."""
    root = tmp_path / "photos"
    root.mkdir()
    for i in range(12):
        (root / f"{i:02d}.jpg").write_bytes(b"\xff\xd8 photo %d" % i)
    with Library.open(root) as lib:
        lib.set_meta("model", "m")
        ids = np.array(lib.add_photos([IndexedPhoto(PhotoRecord(f"{i:02d}.jpg", 1, 1), str(i), PhotoMeta(1, 1), b"",
                                                    np.ones(2)) for i in range(12)], "m"))
        labels = np.array([0] * 5 + [1] * 4 + [-1] * 3)
        apply_clustering(lib, ClusteringPlan("m", ids, labels, np.ones(12, np.float32),
                                             {0: ids[:2].tolist(), 1: ids[5:7].tolist()}, {0: "sea", 1: "hills"},
                                             {}, {}, np.zeros((12, 2), np.float32)))
    return root


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def manifest_line(out):
    return next(line for line in reversed(out.splitlines()) if line.endswith(".jsonl"))


def tree(dest):
    return sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.jpg"))


def test_an_update_adds_moves_and_removes_copies_and_undoes_each_step(folder, tmp_path, capsys):
    dest = tmp_path / "sorted"
    code, out = run(capsys, "export", folder, dest)
    assert code == 0
    first = manifest_line(out)
    before = tree(dest)
    assert len(before) == 9
    assert run(capsys, "rename", folder, "sea", "Beach")[0] == 0
    assert run(capsys, "move", folder, "Beach", "09.jpg", "05.jpg")[0] == 0   # new; from hills
    assert run(capsys, "move", folder, "unsorted", "06.jpg")[0] == 0          # out of every cluster
    code, out = run(capsys, "export", folder, dest, "--dry-run")
    assert code == 0
    assert ("Updating 1 earlier export here: 1 new photo to add, 7 already there, 1 to move to their "
            "cluster's folder, 1 no longer in a cluster to remove.") in out
    assert "folder \u201csea\u201d (now \u201cBeach\u201d)" in out
    assert "would copy 2 photos" in out and "sea/" in out
    assert tree(dest) == before                                   # the dry run wrote nothing
    code, out = run(capsys, "export", folder, dest)
    assert code == 0 and "left" not in out
    second = manifest_line(out)
    after = sorted(set(before) - {"hills/05.jpg", "hills/06.jpg"} | {"sea/05.jpg", "sea/09.jpg"})
    assert tree(dest) == after                                    # nothing doubled, nothing stale
    assert (dest / "sea" / "05.jpg").read_bytes() == (folder / "05.jpg").read_bytes()
    code, out = run(capsys, "export", folder, dest)                # up to date now
    assert code == 0 and "Nothing new to export." in out
    assert len(list(dest.glob("photoclust-export-*.jsonl"))) == 2
    code, out = run(capsys, "undo-export", second)                 # the update, undone
    assert code == 0 and "2 exported files removed" in out and "2 earlier copies the update had replaced made again" in out
    assert tree(dest) == before
    assert (dest / "hills" / "06.jpg").read_bytes() == (folder / "06.jpg").read_bytes()
    assert run(capsys, "undo-export", first)[0] == 0               # and the first: nothing left
    assert not dest.exists()


def test_an_update_kept_then_the_first_export_undone_removes_only_the_first_ones(folder, tmp_path, capsys):
    dest = tmp_path / "sorted"
    first = manifest_line(run(capsys, "export", folder, dest)[1])
    assert run(capsys, "move", folder, "sea", "05.jpg", "09.jpg")[0] == 0
    assert run(capsys, "export", folder, dest)[0] == 0
    assert tree(dest)[:7] == ["hills/06.jpg", "hills/07.jpg", "hills/08.jpg", "sea/00.jpg", "sea/01.jpg",
                              "sea/02.jpg", "sea/03.jpg"]
    code, out = run(capsys, "undo-export", first)
    assert code == 0, out
    assert tree(dest) == ["sea/05.jpg", "sea/09.jpg"]              # what the update made stays


def test_a_copy_changed_after_the_export_is_left_alone(folder, tmp_path, capsys):
    dest = tmp_path / "sorted"
    assert run(capsys, "export", folder, dest)[0] == 0
    (dest / "hills" / "05.jpg").write_bytes(b"the user's own edit")
    assert run(capsys, "move", folder, "sea", "05.jpg", "09.jpg")[0] == 0
    code, out = run(capsys, "export", folder, dest)
    assert code == 0 and "left" in out and "hills/05.jpg" in out and "changed after the export" in out
    assert (dest / "hills" / "05.jpg").read_bytes() == b"the user's own edit"


def test_fresh_is_a_separate_export_and_a_foreign_manifest_is_not_an_earlier_export(folder, tmp_path, capsys):
    dest = tmp_path / "sorted"
    assert run(capsys, "export", folder, dest)[0] == 0
    code, out = run(capsys, "export", folder, dest, "--fresh")
    assert code == 0 and "Updating" not in out
    assert len(tree(dest)) == 18
    other = tmp_path / "other"
    other.mkdir()
    (other / "photoclust-export-20260101T000000Z.jsonl").write_text(
        json.dumps({"type": "header", "version": 2, "mode": "copy", "dest": str(other), "dest_id": [1, 2],
                    "source_root": str(folder), "source_id": [3, 4], "token": "abc"}) + "\n")
    assert plan_update([("sea", [folder / "00.jpg"])], other, source_root=folder) is None
    code, out = run(capsys, "export", folder, other)
    assert code == 0 and "Updating" not in out and len(tree(other)) == 9


def test_an_empty_destination_is_still_a_sentence(folder, capsys):
    code, out = run(capsys, "export", folder, " ")
    assert code == 1 and "Choose a destination folder" in out


def test_export_with_xmp_tags_the_photos_and_refuses_a_move(folder, tmp_path, capsys):
    from photoclust_app.core.tags import xmp

    code, out = run(capsys, "export", folder, tmp_path / "sorted", "--xmp")
    assert code == 0 and "Tags: 9 XMP sidecars written beside the photos" in out
    assert xmp.ours((folder / "00.jpg.xmp").read_bytes()) == ["sea"]
    assert not list((tmp_path / "sorted").rglob("*.xmp"))
    code, out = run(capsys, "export", folder, tmp_path / "moved", "--xmp", "--mode", "move")
    assert code == 1 and "cannot go with a move export" in out and not (tmp_path / "moved").exists()


def test_a_stray_second_copy_from_a_separate_export_is_removed_by_the_next_update(folder, tmp_path, capsys):
    dest = tmp_path / "sorted"
    assert run(capsys, "export", folder, dest)[0] == 0
    assert run(capsys, "move", folder, "sea", "05.jpg")[0] == 0
    assert run(capsys, "export", folder, dest, "--fresh")[0] == 0      # a second set: sea/05.jpg among them
    assert (dest / "hills" / "05.jpg").exists() and (dest / "sea" / "05.jpg").exists()
    assert run(capsys, "move", folder, "sea", "09.jpg")[0] == 0       # something to add
    code, out = run(capsys, "export", folder, dest)
    assert code == 0 and "1 stray second copies to remove" in out
    assert not (dest / "hills" / "05.jpg").exists() and (dest / "sea" / "09.jpg").exists()

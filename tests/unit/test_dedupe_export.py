"""Clusters and export know about duplicates: export "one per duplicate group" lists the copies
it leaves out in the manifest; the mosaic never shows two copies of one picture."""
import json
import shutil

import pytest

from photoclust_app.cli import main
from photoclust_app.core.dedupe.export_filter import one_per_group
from photoclust_app.core.editing.session import Session
from photoclust_app.core.store.library import Library
from tests.unit.test_dedupe import build_library


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    root = tmp_path_factory.mktemp("dexport") / "photos"
    root.mkdir()
    build_library(root)
    with Library.open(root) as lib:
        ids = {r: i for i, r in lib.relpaths().items()}
        everything = lib.create_cluster("Everything")
        lib.assign(sorted(ids.values()), everything, manual=False)
        # the clustering's mosaic as it might be: the photo and its copies first
        lib.set_representatives(everything, [ids["a/two.jpg"], ids["b/two.png"], ids["b/two q60.jpg"],
                                             ids["a/one.jpg"], ids["b/one copy.jpg"], ids["a/three.jpg"]])
    return root


@pytest.fixture
def folder(template, tmp_path):
    dest = tmp_path / "photos"
    shutil.copytree(template, dest, copy_function=shutil.copy2)
    return dest


def test_export_one_per_duplicate_group_lists_the_copies_left_out(folder, tmp_path, capsys):
    dest = tmp_path / "out"
    assert main(["export", str(folder), str(dest), "--one-per-duplicate-group"]) == 0
    out = capsys.readouterr().out
    assert "4 copies left out (one per duplicate group)" in out
    names = sorted(p.name for p in (dest / "Everything").iterdir())
    assert "one.jpg" in names and "two.jpg" in names
    assert not {"one copy.jpg", "two small.jpg", "two q60.jpg", "two.png"} & set(names)
    manifest = out.strip().splitlines()[-1]
    lines = [json.loads(x) for x in open(manifest)]
    left = {x["src"]: x["reason"] for x in lines if x["type"] == "left_out"}
    assert set(left) == {str(folder / r) for r in ("b/one copy.jpg", "b/two small.jpg", "b/two q60.jpg", "b/two.png")}
    assert left[str(folder / "b/two.png")] == f"a copy of {folder / 'a/two.jpg'} (one per duplicate group)"
    assert main(["undo-export", manifest]) == 0          # the manifest still undoes as before
    assert not dest.exists()


def test_one_per_group_never_leaves_a_picture_out_entirely(tmp_path):
    a, b, c = tmp_path / "a.jpg", tmp_path / "b.jpg", tmp_path / "c.jpg"
    groups = [("Cats", [b, c])]                      # the keeper a is not exported (Unsorted, say)
    kept, left = one_per_group(groups, [("near", 1, [1, 2, 3])], {1: a, 2: b, 3: c})
    assert kept == [("Cats", [b])] and left == [(c, f"a copy of {b} (one per duplicate group)")]
    kept, left = one_per_group([("Cats", [a]), ("Dogs", [b])], [("identical", 2, [1, 2])], {1: a, 2: b})
    assert kept == [("Dogs", [b])] and [p for p, _ in left] == [a]


def test_the_mosaic_never_shows_two_copies(folder, capsys):
    with Library.open(folder) as lib:
        before = Session(lib).clusters()[0].representatives
        ids = {r: i for i, r in lib.relpaths().items()}
    assert ids["b/two.png"] in before                 # without the groups: copies side by side
    assert main(["duplicates", str(folder)]) == 0      # finds and stores the groups
    capsys.readouterr()
    with Library.open(folder) as lib:
        reps = Session(lib).clusters()[0].representatives
    groups = [{"a/one.jpg", "b/one copy.jpg"}, {"a/two.jpg", "b/two.png", "b/two q60.jpg", "b/two small.jpg"}]
    shown = {r for r, i in ids.items() if i in reps}
    assert len(reps) == 4 and all(len(shown & g) <= 1 for g in groups)
    assert {"a/two.jpg", "a/one.jpg", "a/three.jpg"} <= shown


def test_a_duplicate_group_counts_once_in_a_clusters_size_when_asked(folder, capsys):
    assert main(["duplicates", str(folder)]) == 0
    capsys.readouterr()
    with Library.open(folder) as lib:
        session = Session(lib)
        events = []
        session.subscribe(lambda e, p: events.append(e))
        n = session.clusters()[0].size
        session.set_count_copies_once(True)
        assert session.clusters()[0].size == n - 4 and "reset" in events   # 2 groups, 4 extra copies
        assert len(session.members(session.cluster_ids()[0])) == n          # the members are all there
        session.set_count_copies_once(False)
        assert session.clusters()[0].size == n

"""The session's edits from the command line: rename, move, merge, undo, redo, sharing one
history with the window, and `cluster` using the granularity the window chose."""
import json

import numpy as np
import pytest

from photoclust_app.cli import main
from photoclust_app.core import pipeline
from photoclust_app.core.clustering.plan import ClusteringPlan, apply_clustering
from photoclust_app.core.editing.session import Session
from photoclust_app.core.records import PhotoMeta, PhotoRecord
from photoclust_app.core.store.library import IndexedPhoto, Library


@pytest.fixture
def folder(tmp_path):
    """12 photos in clusters "sea" (0-4), "hills" (5-8) and Unsorted (9-11); files exist."""
    for i in range(12):
        (tmp_path / f"{i:02d}.jpg").write_bytes(b"x")
    with Library.open(tmp_path) as lib:
        lib.set_meta("model", "m")
        ids = np.array(lib.add_photos([IndexedPhoto(PhotoRecord(f"{i:02d}.jpg", 1, 1), str(i), PhotoMeta(1, 1),
                                                    b"", np.ones(2)) for i in range(12)], "m"))
        labels = np.array([0] * 5 + [1] * 4 + [-1] * 3)
        apply_clustering(lib, ClusteringPlan("m", ids, labels, np.ones(12, np.float32),
                                             {0: ids[:2].tolist(), 1: ids[5:7].tolist()}, {0: "sea", 1: "hills"},
                                             {}, {}, np.zeros((12, 2), np.float32)))
    return tmp_path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def clusters(capsys, folder) -> dict:
    code, out = run(capsys, "info", folder, "--json")
    info = json.loads(out)
    return {c["name"]: c["size"] for c in info["clusters"]} | {"Unsorted": info["unsorted"]}


def test_rename_move_merge_and_undo_redo_from_the_command_line(folder, capsys):
    assert run(capsys, "rename", folder, "sea", "Beach")[0] == 0
    assert clusters(capsys, folder) == {"Beach": 5, "hills": 4, "Unsorted": 3}
    code, out = run(capsys, "move", folder, "Beach", "09.jpg", folder / "10.jpg")
    assert code == 0 and "Moved 2 photos" in out
    assert run(capsys, "move", folder, "new:Trip", "11.jpg")[0] == 0
    assert run(capsys, "move", folder, "unsorted", "00.jpg")[0] == 0
    assert clusters(capsys, folder) == {"Beach": 6, "hills": 4, "Trip": 1, "Unsorted": 1}
    code, out = run(capsys, "merge", folder, "Trip", "hills")
    assert code == 0 and "now 5 photos" in out
    assert clusters(capsys, folder) == {"Beach": 6, "hills": 5, "Unsorted": 1}
    for expect in ({"Beach": 6, "hills": 4, "Trip": 1, "Unsorted": 1},     # merge undone
                   {"Beach": 7, "hills": 4, "Trip": 1, "Unsorted": 0},     # move to unsorted undone
                   {"Beach": 7, "hills": 4, "Unsorted": 1}):               # new:Trip undone
        code, out = run(capsys, "undo", folder)
        assert code == 0 and out.startswith("Undid")
        assert clusters(capsys, folder) == expect
    assert run(capsys, "redo", folder)[0] == 0
    assert clusters(capsys, folder) == {"Beach": 7, "hills": 4, "Trip": 1, "Unsorted": 0}


def test_the_window_and_the_command_line_share_one_history(folder, capsys):
    with Library.open(folder) as lib:  # what the window's session does
        s = Session(lib)
        s.rename(s.cluster_ids()[0], "Window name")
    code, out = run(capsys, "undo", folder)
    assert code == 0 and "Window name" in out
    with Library.open(folder) as lib:
        s = Session(lib)
        assert "Window name" in s.redo_text and s.redo()
        assert lib.cluster(s.cluster_ids()[0]).display_name == "Window name"


def test_bad_names_get_a_sentence_and_change_nothing(folder, capsys):
    before = clusters(capsys, folder)
    for argv in (("rename", folder, "nope", "x"), ("move", folder, "sea", "missing.jpg"),
                 ("move", folder, "nope", "00.jpg"), ("merge", folder, "sea"), ("rename", folder, "unsorted", "x")):
        code, out = run(capsys, *argv)
        assert code == 1 and out.startswith("photoclust: ") and "Traceback" not in out, argv
    assert run(capsys, "redo", folder)[0] == 1
    outside = folder.parent / "00.jpg"                 # a same-named file above the folder
    outside.write_bytes(b"x")
    try:
        code, out = run(capsys, "move", folder, "sea", "./../00.jpg")   # is not folder/00.jpg
    finally:
        outside.unlink()
    assert code == 1 and "Not photos of this library" in out
    assert clusters(capsys, folder) == before


def test_cluster_uses_the_granularity_chosen_in_the_window(tmp_path, capsys):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    vectors = np.concatenate([c + 0.05 * rng.normal(size=(30, 16)) for c in centres])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with Library.open(tmp_path) as lib:
        lib.set_meta("model", "m")
        lib.add_photos([IndexedPhoto(PhotoRecord(f"{i:02d}.jpg", 1, 1), str(i), PhotoMeta(1, 1), b"", v)
                        for i, v in enumerate(vectors)], "m")
        s = Session(lib)
        s.recluster(pipeline.compute(lib, names=False))
        assert len(s.clusters()) == 3
        # the window: the slider asks the engine for 2 groups (a cut of the same tree), then applies it
        plan = pipeline.compute(lib, groups=2, names=False)
        assert plan.tree is None and plan.tree_id is not None  # no refit
        s.recluster(plan)
        assert pipeline.stored_groups(lib) == 2
        assert len([c for c in s.clusters() if c.size]) == 2
        s.undo()  # undo restores the granularity with the clustering
        assert pipeline.stored_groups(lib) is None
        assert len([c for c in s.clusters() if c.size]) == 3
        s.redo()
        s.recluster(pipeline.compute(lib, min_cluster_size=7, names=False))  # a new smallest group: a refit
        assert pipeline.stored_granularity(lib) == 7 and pipeline.stored_groups(lib) == 2
    code, out = run(capsys, "cluster", tmp_path, "--no-names")
    assert code == 0 and "2 clusters" in out and "exactly 2" in out and "smallest group 7" in out, out
    _, out = run(capsys, "info", tmp_path, "--json")
    assert len(json.loads(out)["clusters"]) == 2
    assert json.loads(out)["last_clustering"]["params"]["min_cluster_size"] == 7
    code, out = run(capsys, "cluster", tmp_path, "--groups", "auto", "--no-names")
    assert code == 0 and "3 clusters" in out and "automatic" in out
    code, out = run(capsys, "cluster", tmp_path, "--list-levels")
    assert code == 0 and "the automatic one is level" in out and "      3 clusters  --level" in out
    code, out = run(capsys, "cluster", tmp_path, "--groups", "50", "--no-names")
    assert code != 0 and "at most 3 groups" in out + capsys.readouterr().err

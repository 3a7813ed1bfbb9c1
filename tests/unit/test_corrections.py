"""Corrections are constraints (issue 10): hand placements pull their look-alikes along, "not
this one" sticks through every re-cluster and level, suggestions learn from the examples, and
new photos join the clusters as they are (or wait in To review) without moving the map."""
import json

import numpy as np
import pytest

from photoclust_app import cli
from photoclust_app.core import pipeline
from photoclust_app.core.clustering.place import MAX_SHARE
from photoclust_app.core.editing.session import Session
from photoclust_app.core.records import PhotoMeta, PhotoRecord
from photoclust_app.core.store.library import IndexedPhoto, Library


def unit(a):
    return (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)


def look(rng, centre, n, spread=0.25):
    return unit(centre + spread * rng.normal(size=(n, len(centre))) / np.sqrt(len(centre)) * 3)


def add(lib, vectors, start):
    lib.add_photos([IndexedPhoto(PhotoRecord(f"p{start + i:04d}.jpg", 1, 1), str(start + i), PhotoMeta(1, 1), b"", v)
                    for i, v in enumerate(vectors)], "m")


@pytest.fixture
def world(tmp_path):
    """Three looks: A (60), B (50) close to A, C (40) far away."""
    rng = np.random.default_rng(1)
    a = unit(rng.normal(size=32))
    b = unit(a + 1.2 * unit(rng.normal(size=32)))
    c = unit(rng.normal(size=32))
    X = np.concatenate([look(rng, a, 60), look(rng, b, 50), look(rng, c, 40)])
    with Library.open(tmp_path) as lib:
        lib.set_meta("model", "m")
        add(lib, X, 0)
        s = Session(lib)
        s.recluster(pipeline.compute(lib, names=False))
        ids = sorted(s.photo_ids())
        yield lib, s, {"A": ids[:60], "B": ids[60:110], "C": ids[110:]}, (a, b, c), rng


def home(s, photos):
    cids = {s.cluster_of(p) for p in photos}
    assert len(cids) == 1, cids
    return cids.pop()


def test_moving_out_is_a_lasting_cannot_link(world):
    lib, s, g, _, _ = world
    A, B = home(s, g["A"]), home(s, g["B"])
    assert A != B
    p = g["B"][0]
    assert s.reject(A, [p]) == 1 and s.corrections(A) == (0, 1)
    s.recluster(pipeline.compute(lib, groups=1, names=False))  # one group: it would be A's
    assert s.cluster_of(p) is None and s.cluster_of(g["B"][1]) == s.cluster_of(g["A"][0])
    s.recluster(pipeline.compute(lib, groups=None, names=False))
    assert s.cluster_of(p) == s.cluster_of(g["B"][1]) != s.cluster_of(g["A"][0])  # its own group is fine
    B = s.cluster_of(p)  # (the coarse level emptied B's old cluster: the group came back under a new id)
    q = g["A"][5]
    s.move([q], B)  # dragged from A into B: placed in B, kept out of A
    assert lib.kept_out()[q] == {A} and s.corrections(B) == (1, 0)
    s.undo()
    assert q not in lib.kept_out() and s.cluster_of(q) == A
    s.redo()
    s.move([q], A)  # dragged back: A is allowed again, and now it left B
    assert lib.kept_out()[q] == {B}
    assert s.corrections(A) == (1, 1)  # q placed by hand, p kept out
    assert s.clear_corrections() == 3
    assert lib.kept_out() == {} and s.corrections(A) == (0, 0)


def test_hand_placed_photos_stay_and_do_not_drag_their_neighbours(world):
    """A hand move corrects a photo the clustering got wrong: it stays where it was put at
    every level, and its former neighbours stay with their own look."""
    lib, s, g, _, _ = world
    A, C = home(s, g["A"]), home(s, g["C"])
    s.move(g["C"][:3], A)
    for n in (None, 2, 3, None):
        s.recluster(pipeline.compute(lib, groups=n, names=False))
        assert all(s.cluster_of(p) == A for p in g["C"][:3]), n
        rest = {s.cluster_of(p) for p in g["C"][3:]}
        assert len(rest) == 1 and A not in rest, (n, rest)
    assert s.corrections(A) == (3, 0)
    assert home(s, g["C"][3:]) != C or s.corrections(C) == (0, 3)  # kept out of C, if C's id lived on


def test_suggestions_learn_from_examples_and_rejects_stick(world):
    lib, s, g, _, _ = world
    new = s.new_cluster(g["B"][:3], "Beach")
    found = [p for p, _ in s.suggestions(new, limit=100)]
    assert found and set(found) <= set(g["B"][3:])  # the rest of B's look, nothing else
    assert len(found) >= 20  # of the 47 others
    assert s.reject(new, found[:2]) == 2
    again = [p for p, _ in s.suggestions(new, limit=100)]
    assert not set(found[:2]) & set(again)
    assert s.move(again, new) == len(again)
    assert s.corrections(new) == (3 + len(again), 2)


def test_new_photos_join_without_moving_the_map(world):
    lib, s, g, (a, b, c), rng = world
    A = home(s, g["A"])
    ids0, xy0 = lib.layout()
    add(lib, np.concatenate([look(rng, a, 10), unit(rng.normal(size=(2, 32)))]), 1000)
    assert pipeline.after_index(lib) == "place"
    plan = pipeline.compute_placement(lib)
    assert len(plan.photo_ids) == 12
    s.reload()
    s.place_new(plan)
    new = sorted(plan.photo_ids.tolist())
    assert sum(s.cluster_of(p) == A for p in new[:10]) >= 9
    strays = new[10:]
    review = {p for p, _, _ in s.review_items()}
    assert set(strays) <= review and all(s.cluster_of(p) is None for p in strays)
    ids1, xy1 = lib.layout()
    keep = np.isin(ids1, ids0)
    np.testing.assert_array_equal(xy1[keep], xy0)  # existing points stay put
    assert len(ids1) == len(ids0) + 12
    first, would, _ = next(r for r in s.review_items() if r[0] == strays[0])
    assert would is not None  # a stray still names its likeliest cluster
    assert s.accept_review([first]) == 1 and s.cluster_of(first) == would
    assert s.dismiss_review(strays) == 1 and s.cluster_of(strays[1]) is None
    assert not {p for p, _, _ in s.review_items()} & set(strays)
    s.undo()
    assert strays[1] in {p for p, _, _ in s.review_items()}
    s.redo()
    assert pipeline.after_index(lib) is None
    add(lib, look(rng, c, int(MAX_SHARE / (1 - MAX_SHARE) * 162) + 5), 2000)
    assert pipeline.after_index(lib) == "cluster"  # a large share: the clusters are redone


def test_cli_suggest_review_and_index_placement(world, tmp_path, capsys):
    lib, s, g, (a, _, _), rng = world
    new = s.new_cluster(g["B"][:3], "Beach")
    folder = lib.folder
    lib.close()
    assert cli.main(["suggest", str(folder), "Beach", "--json", "--limit", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 5 and all(set(r) == {"path", "score"} for r in out)
    assert out == sorted(out, key=lambda r: -r["score"]) and all(r["path"].startswith("p0") for r in out)
    assert cli.main(["suggest", str(folder), "Beach", "--reject", out[0]["path"]]) == 0
    assert "1 kept out" in capsys.readouterr().out
    assert cli.main(["review", str(folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert cli.main(["clear-corrections", str(folder), "Beach"]) == 0
    assert "Forgot 4 corrections" in capsys.readouterr().out
    assert new


def test_split_by_example_previews_then_applies_and_undoes(world, capsys):
    lib, s, g, _, _ = world
    s.recluster(pipeline.compute(lib, groups=2, names=False))  # A's and B's looks in one cluster
    M = home(s, g["A"] + g["B"])
    plan = pipeline.split_by_example(lib, M, [g["A"][:2], g["B"][:2]])
    row = {int(p): r for r, p in enumerate(plan.photo_ids.tolist())}
    assert {int(plan.labels[row[p]]) for p in g["A"]} == {0} and {int(plan.labels[row[p]]) for p in g["B"]} == {1}
    assert s.cluster_of(g["B"][5]) == M  # a plan is a preview: nothing written
    new = s.split(plan)
    assert len(new) == 1 and all(s.cluster_of(p) == M for p in g["A"]) and all(s.cluster_of(p) == new[0] for p in g["B"])
    assert s.corrections(new[0])[0] == 2  # the picked photos are placed by hand
    assert s.cluster(new[0]).display_name != s.cluster(M).display_name
    s.undo()
    assert all(s.cluster_of(p) == M for p in g["B"])
    with pytest.raises(Exception, match="two sides"):
        pipeline.split_by_example(lib, M, [g["A"][:2]])
    with pytest.raises(Exception, match="one side only"):
        pipeline.split_by_example(lib, M, [g["A"][:2], g["A"][1:3]])
    folder = lib.folder
    lib.close()
    rel = lambda p: s.relpath(p)  # noqa: E731
    assert cli.main(["split", str(folder), str(M), "--side", rel(g["A"][0]), "--side", rel(g["B"][0]), "--dry-run"]) == 0
    assert "would split into 2: 60 photos, 50 photos" in capsys.readouterr().out


def test_bench_learn_simulated_user_keeps_every_placed_photo(tmp_path):
    """bench learn's user on a library of three labelled looks (folder = class): the report has
    the issue's keys, the user placed photos, and every one ended where it was placed."""
    from photoclust_app.core.bench.learn_bench import simulate_user

    rng = np.random.default_rng(3)
    a = unit(rng.normal(size=32))
    looks = [a, unit(a + 0.5 * unit(rng.normal(size=32))), unit(rng.normal(size=32))]  # two look-alikes
    X = np.concatenate([look(rng, c, n, spread=0.5) for c, n in zip(looks, (70, 50, 30))])
    y = np.repeat([0, 1, 2], (70, 50, 30))
    with Library.open(tmp_path) as lib:
        lib.set_meta("model", "m")
        lib.add_photos([IndexedPhoto(PhotoRecord(f"c{c}/{i:04d}.jpg", 1, 1), str(i), PhotoMeta(1, 1), b"", v)
                        for i, (v, c) in enumerate(zip(X, y))], "m")
        r = simulate_user(lib, examples=5, seed=0)
    assert {"nmi_before", "nmi_after", "ari_before", "ari_after", "placed", "placed_kept"} <= set(r)
    assert r["n_classes"] == 3 and r["placed"] > 0 and r["placed_kept"] == r["placed"]
    assert 0 <= r["nmi_before"] <= 1 and 0 <= r["nmi_after"] <= 1


def test_bench_stream_places_each_batch_without_moving_the_map():
    """bench stream on three labelled looks: half clustered, the rest in 4 batches; every row
    has the figures, placement keeps the looks apart as well as a full re-cluster does, and no
    existing map point ever moves."""
    from photoclust_app.core.bench.stream_bench import stream

    rng = np.random.default_rng(4)
    looks = [unit(rng.normal(size=32)) for _ in range(3)]
    X = np.concatenate([look(rng, c, 80) for c in looks])
    paths = [f"c{c}/{i:04d}.jpg" for i, c in enumerate(np.repeat([0, 1, 2], 80))]
    rows = stream(paths, X, model="m", steps=4, seed=0)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert sum(r["added"] for r in rows) == 120 and rows[-1]["photos"] == 240
    assert all(r["map_max_move"] == 0.0 for r in rows)
    assert all(r["placed"] + r["to_review"] == r["added"] for r in rows)
    assert rows[-1]["nmi_placement"] >= rows[-1]["nmi_full_recluster"] - 0.05 and rows[-1]["nmi_placement"] > 0.8


def test_a_split_keeps_its_pieces_apart_through_later_reclusters(world):
    """A split separates the pieces for good: a re-cluster (or level) that would join them
    again keeps them as the user split them."""
    lib, s, g, _, _ = world
    s.recluster(pipeline.compute(lib, groups=2, names=False))  # A's and B's looks in one cluster
    M = home(s, g["A"] + g["B"])
    new = s.split(pipeline.split_by_example(lib, M, [g["A"][:2], g["B"][:2]]))
    assert len(new) == 1
    for groups in (2, None):  # the coarse level that joined them, then the automatic one
        s.recluster(pipeline.compute(lib, groups=groups, names=False))
        assert home(s, g["A"]) != home(s, g["B"])
        assert home(s, g["B"]) == new[0] and home(s, g["A"]) == M
    assert lib.kept_apart() == {M, new[0]}
    assert s.clear_corrections(new[0]) >= 1 and lib.kept_apart() == {M}
    s.undo()
    assert lib.kept_apart() == {M, new[0]}

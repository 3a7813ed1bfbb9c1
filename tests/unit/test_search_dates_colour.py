"""Capture times from synthetic EXIF (with and without offset, fallbacks, missing, garbage),
events and date order; colour histograms and search by colour, also for photos indexed
before colours existed (from their thumbnails, without opening the originals)."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from photoclust_app.core.ingest.capture_time import FILE_TIME, iso_datetime
from photoclust_app.core.ingest.colour import COLOUR_DIM, colour_descriptor
from photoclust_app.core.ingest.decode import decode_photo
from photoclust_app.core.ingest.index import index_folder
from photoclust_app.core.search import Searcher
from photoclust_app.core.search.colour import colour_name
from photoclust_app.core.search.dates import date_range, events, photo_time
from photoclust_app.core.store.library import Library

FAST = {"model": "tiny-test", "workers": 0, "batch_size": 16}


def _jpeg(path, tags: dict[int, str], ifd0: dict[int, str] | None = None, color=(90, 90, 90)):
    exif = Image.Exif()
    for tag, value in (ifd0 or {}).items():
        exif[tag] = value
    sub = exif.get_ifd(0x8769)
    for tag, value in tags.items():
        sub[tag] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), color).save(path, exif=exif.tobytes(), quality=90)
    return path


@pytest.mark.parametrize("tags, ifd0, want", [
    ({0x9003: "2021:07:14 18:03:59", 0x9011: "+02:00"}, None, ("2021-07-14T18:03:59+02:00", "DateTimeOriginal")),
    ({0x9003: "2021:07:14 18:03:59"}, None, ("2021-07-14T18:03:59", "DateTimeOriginal")),
    ({0x9003: "    :  :     :  :  ", 0x9004: "2020:01:02 03:04:05", 0x9012: "-05:00"}, None,
     ("2020-01-02T03:04:05-05:00", "DateTimeDigitized")),     # garbage original: the next tag
    ({0x9003: "2021:13:45 99:00:00", 0x9011: "+02:00"}, {0x0132: "2019:05:06 07:08:09"},
     ("2019-05-06T07:08:09", "DateTime")),                     # its offset is not DateTime's
    ({0x9003: "2021:07:14 18:03:59", 0x9011: "+99:00"}, None, ("2021-07-14T18:03:59", "DateTimeOriginal")),
    ({0x9003: "0000:00:00 00:00:00"}, None, (None, None)),
    ({}, None, (None, None)),
])
def test_capture_time_from_exif(tmp_path, tags, ifd0, want):
    meta = decode_photo(_jpeg(tmp_path / "a.jpg", tags, ifd0), 32, 32).meta
    assert (meta.taken_at, meta.taken_source) == want


def test_iso_datetime_refuses_garbage():
    assert iso_datetime("garbage") is None and iso_datetime("") is None and iso_datetime(None) is None
    assert iso_datetime("2021:02:03 04:05:60") == "2021-02-03T04:05:59"  # a leap second
    assert iso_datetime("2021-02-03T04:05:06", "+0530") == "2021-02-03T04:05:06+05:30"


def test_photo_time_uses_the_offset_and_falls_back_to_the_file_time():
    a, day = photo_time("2021-07-14T18:00:00+02:00", 0)
    b, _ = photo_time("2021-07-14T16:00:00", 0)   # no offset: the wall clock, taken as UTC
    assert a == b and day == "2021-07-14"
    t, day = photo_time(None, 1_600_000_000 * 10**9)
    assert t == 1_600_000_000 and day.startswith("2020-09-1")


def test_events_split_at_the_gap():
    h = 3600.0
    times = {1: 0.0, 2: 1 * h, 3: 2.5 * h, 4: 10 * h, 5: 10.5 * h, 6: 40 * h}
    assert [e.photo_ids for e in events(times, gap_hours=4)] == [[1, 2, 3], [4, 5], [6]]
    assert [e.photo_ids for e in events(times, gap_hours=30)] == [[1, 2, 3, 4, 5, 6]]
    assert len(events(times, gap_hours=0.5)) == 5
    with pytest.raises(ValueError):
        events(times, gap_hours=0)
    assert date_range(["2021-07-15", "2021-07-14"]) == "2021-07-14 \u2013 2021-07-15"
    assert date_range(["2021-07-14"]) == "2021-07-14" and date_range([]) == ""


def test_colour_descriptor_and_names():
    blue = colour_descriptor(np.full((40, 40, 3), (40, 80, 200), np.uint8))
    grey = colour_descriptor(np.full((40, 40, 3), 128, np.uint8))
    assert blue.shape == (COLOUR_DIM,) and abs(blue[:-4].sum() - 1) < 1e-5 and abs(blue[-4:].sum() - 1) < 1e-5
    assert grey[-4] == 1.0 and blue[-1] == 1.0   # all grey / all vivid
    assert colour_name("mostly blue") == "blue" and colour_name("Black and white") == "black and white"
    assert colour_name("b&w") == "black and white" and colour_name("gray") == "grey" and colour_name("dog") is None


@pytest.fixture
def dated_folder(tmp_path):
    folder = tmp_path / "photos"
    _jpeg(folder / "blue1.jpg", {0x9003: "2023:07:14 18:00:00", 0x9011: "+02:00"}, color=(30, 60, 210))
    _jpeg(folder / "blue2.jpg", {0x9003: "2023:07:14 19:30:00", 0x9011: "+02:00"}, color=(50, 90, 190))
    _jpeg(folder / "grey.jpg", {0x9003: "2021:01:01 10:00:00"}, color=(120, 120, 120))
    _jpeg(folder / "red.jpg", {}, color=(210, 30, 30))
    os.utime(folder / "red.jpg", (1_500_000_000, 1_500_000_000))  # 2017, from the file time
    index_folder(folder, **FAST)
    return folder


def test_dates_and_colours_through_the_searcher(dated_folder):
    with Library.open(dated_folder, readonly=True) as lib:
        s = Searcher(lib)
    by = {rel: pid for pid, rel in s.relpaths.items()}
    assert s.date_sources[by["blue1.jpg"]] == "DateTimeOriginal" and s.date_sources[by["red.jpg"]] == FILE_TIME
    assert [s.relpaths[i] for i in s.sort_by_date(by.values())] == ["red.jpg", "grey.jpg", "blue1.jpg", "blue2.jpg"]
    assert [h.relpath for h in s.search("2023").hits] == ["blue1.jpg", "blue2.jpg"]
    assert [h.relpath for h in s.search("2017").hits] == ["red.jpg"]
    got = s.search("mostly blue", limit=2)
    assert got.mode == "colour" and {h.relpath for h in got.hits} == {"blue1.jpg", "blue2.jpg"}
    assert [h.relpath for h in s.search("black and white", limit=1).hits] == ["grey.jpg"]
    assert [h.relpath for h in s.search("colour:red", limit=1).hits] == ["red.jpg"]


def test_colours_of_photos_indexed_before_come_from_thumbnails(dated_folder, monkeypatch):
    with Library.open(dated_folder) as lib:
        lib._conn.execute("DELETE FROM colours")  # a library from before schema 3
    opened = []
    import photoclust_app.core.ingest.decode as decode

    monkeypatch.setattr(decode, "decode_bytes", lambda *a, **k: opened.append(a) or pytest.fail("decoded"))
    index_folder(dated_folder, **FAST)
    assert opened == []
    with Library.open(dated_folder, readonly=True) as lib:
        ids, hists = lib.colour_matrix()
        assert len(ids) == 4
        s = Searcher(lib)
    assert [h.relpath for h in s.search("colour:grey", limit=1).hits] == ["grey.jpg"]


def test_a_histogram_of_another_layout_is_recomputed(dated_folder):
    from photoclust_app.core.ingest.colour_backfill import backfill_colours

    with Library.open(dated_folder) as lib:
        pid = next(iter(lib.relpaths()))
        lib.set_colours({pid: np.ones(148, np.float32)})   # an older, shorter layout
        assert pid not in lib.colour_matrix()[0].tolist()
        assert backfill_colours(lib) == 1
        ids, hists = lib.colour_matrix()
        assert pid in ids.tolist() and hists.shape[1] == COLOUR_DIM

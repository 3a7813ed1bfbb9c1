"""bench duplicates: the planted set is what it claims, and the scores count pairs right.
(Speed and the photoclust-vs-peer figures live in `photoclust bench duplicates`, not here.)"""
import numpy as np
import pytest
from PIL import Image, ImageOps

from photoclust_app.core.bench.duplicates import TRANSFORMS, default_datasets, plant, score


def test_scores_count_pairs_per_transformation():
    truth = {"o1.jpg": (1, "original"), "c/r/o1.jpg": (1, "resize_50"), "c/q/o1.jpg": (1, "jpeg_q60"),
             "o2.jpg": (2, "original"), "c/r/o2.jpg": (2, "resize_50"), "c/q/o2.jpg": (2, "jpeg_q60"),
             "n1.jpg": (10, "negative")}
    groups = [{"o1.jpg", "c/r/o1.jpg", "n1.jpg"}, {"o2.jpg", "c/r/o2.jpg", "c/q/o2.jpg"}]
    r = score(truth, groups, ["resize_50", "jpeg_q60"])
    assert r["true_pairs"] == 6 and r["predicted_pairs"] == 6
    assert r["precision"] == pytest.approx(4 / 6, abs=1e-4) and r["recall"] == pytest.approx(4 / 6, abs=1e-4)
    assert r["by_transform"]["resize_50"] == {"recall": 1.0, "precision": 0.75}   # 3 of its 4 pairs
    assert r["by_transform"]["jpeg_q60"] == {"recall": 0.5, "precision": 1.0}
    assert r["negatives_wrongly_grouped"] == 1


@pytest.mark.shared_data
def test_planted_copies_are_the_transformations_they_claim(tmp_path):
    datasets = default_datasets()
    if not datasets:
        pytest.skip("../shared/data (oxford_flowers12, clothing10) is not here")
    truth, names = plant(datasets, tmp_path, 2, seed=3)
    assert set(names) <= set(TRANSFORMS) and {"resize_25", "rotate90_exif", "watermark"} <= set(names)
    originals = [p for p, (_, t) in truth.items() if t == "original"]
    assert len(originals) == 2 and sum(t == "negative" for _, t in truth.values()) == 2
    assert len(truth) == 2 + 2 + 2 * len(names)
    g = truth[originals[0]][0]
    copy = {t: p for p, (gg, t) in truth.items() if gg == g}
    with Image.open(tmp_path / originals[0]) as o:
        orig = np.asarray(o.convert("RGB"), dtype=np.float32)
        w, h = o.size
    assert (tmp_path / copy["byte_copy"]).read_bytes() == (tmp_path / originals[0]).read_bytes()
    with Image.open(tmp_path / copy["resize_25"]) as im:
        assert im.size == (round(w / 4), round(h / 4))
    with Image.open(tmp_path / copy["rotate90_exif"]) as im:
        assert im.getexif().get(0x0112) == 6 and im.size == (h, w)       # stored turned, shown upright
        shown = np.asarray(ImageOps.exif_transpose(im).convert("RGB"), dtype=np.float32)
    assert shown.shape == orig.shape and np.abs(shown - orig).mean() < 8
    with Image.open(tmp_path / copy["brightness_10"]) as im:
        assert np.asarray(im.convert("RGB"), dtype=np.float32).mean() > orig.mean() * 1.04
    if "heic_resave" in names:
        from pillow_heif import register_heif_opener
        register_heif_opener()
        with Image.open(tmp_path / copy["heic_resave"]) as im:
            assert im.format == "HEIF" and im.size == (w, h)

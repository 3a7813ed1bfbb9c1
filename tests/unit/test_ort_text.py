"""CLIP's text tower through ONNX Runtime on the CPU (core/embed/ort.py), with the tiny random
CLIP: the same export, verification, cache and torch fallback as the image tower, and text
search ranks the same photos on either runtime."""
import logging

import numpy as np
import pytest

from photoclust_app.core.embed import ort
from photoclust_app.core.embed.tiny import TinyClipEmbedder

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

TEXTS = ["a photo of a cat.", "a photo of a red bicycle leaning on a wall.", "dog"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PHOTOCLUST_ORT", raising=False)
    return tmp_path / "cache" / "photoclust" / "onnx"


def torch_text(texts=TEXTS):
    e = TinyClipEmbedder("cpu")
    e.use_ort = False
    return e.text_features(texts)


def text_files(cache):
    return sorted(cache.glob("*-text-*.onnx"))


def ready(e):
    """An embedder whose text tower has been tried (as the background thread does)."""
    e.prepare_text_tower()
    return e


def test_text_features_run_on_onnxruntime_and_match_torch(cache):
    e = ready(TinyClipEmbedder("cpu"))
    got = e.text_features(TEXTS)
    assert e.text_runtime == "onnxruntime" and len(text_files(cache)) == 1
    want = torch_text()
    assert got.shape == want.shape == (3, e.dim)
    assert float((got * want).sum(1).min()) > 0.999
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    one = e.text_features(TEXTS[1:2])  # a batch size the export never saw
    assert float(one[0] @ want[1]) > 0.999


def test_the_text_export_is_cached_and_reused(cache, monkeypatch):
    ready(TinyClipEmbedder("cpu"))
    import torch

    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: pytest.fail("exported again"))
    assert TinyClipEmbedder("cpu").prepare_text_tower() == "onnxruntime"


@pytest.mark.parametrize("damage", ["truncated", "other model"])
def test_an_unusable_cached_text_export_is_exported_again(cache, damage, caplog):
    ready(TinyClipEmbedder("cpu"))
    (path,) = text_files(cache)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
    else:  # a valid ONNX file of the wrong tower under this name: loads, does not match
        e = TinyClipEmbedder("cpu")
        e.embed(np.zeros((1, e.input_size, e.input_size, 3), np.uint8))
        (image,) = [p for p in cache.glob("*.onnx") if p != path]
        path.write_bytes(image.read_bytes())
    before = path.read_bytes()
    with caplog.at_level(logging.INFO, logger="photoclust_app.core.embed.ort"):
        e = ready(TinyClipEmbedder("cpu"))
    got = e.text_features(TEXTS)
    assert e.text_runtime == "onnxruntime" and "exporting it again" in caplog.text
    assert path.read_bytes() != before
    assert float((got * torch_text()).sum(1).min()) > 0.999


def test_a_text_export_failure_means_torch_with_one_log_line(cache, monkeypatch, caplog):
    import torch

    def broken(*a, **k):
        raise RuntimeError("an operator the exporter cannot write")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with caplog.at_level(logging.WARNING, logger="photoclust_app.core.embed.ort"):
        e = ready(TinyClipEmbedder("cpu"))
        out = e.text_features(TEXTS)
        e.prepare_text_tower()
        e.text_features(TEXTS)
    assert e.text_runtime == "torch"
    np.testing.assert_allclose(out, torch_text(), atol=1e-6)
    lines = [r.getMessage() for r in caplog.records if "using torch" in r.getMessage()]
    assert len(lines) == 1 and "text tower" in lines[0] and "cannot write" in lines[0]
    assert not text_files(cache)


def test_a_text_export_that_keeps_mismatching_is_dropped_for_torch(cache, monkeypatch, caplog):
    real_run = ort.OrtTower.run
    monkeypatch.setattr(ort.OrtTower, "run", lambda self, x: -real_run(self, x))  # a wrong sign: cosine -1
    with caplog.at_level(logging.WARNING, logger="photoclust_app.core.embed.ort"):
        e = ready(TinyClipEmbedder("cpu"))
        out = e.text_features(TEXTS)
    assert e.text_runtime == "torch" and "does not match torch" in caplog.text
    np.testing.assert_allclose(out, torch_text(), atol=1e-6)
    assert not text_files(cache)


def test_text_search_ranks_the_same_photos_on_either_runtime(cache, monkeypatch):
    from photoclust_app.core.search.rank import VectorIndex
    from photoclust_app.core.search.text import rank_text

    e = ready(TinyClipEmbedder("cpu"))
    px = np.random.default_rng(3).integers(0, 256, (40, e.input_size, e.input_size, 3), dtype=np.uint8)
    vectors = e.embed(px)
    index = VectorIndex.from_arrays(np.arange(40), vectors, "tiny-test")
    on_ort = rank_text(index, "cat", e, limit=10)
    monkeypatch.setenv("PHOTOCLUST_ORT", "0")
    t = TinyClipEmbedder("cpu")
    on_torch = rank_text(index, "cat", t, limit=10)
    assert e.text_runtime == "onnxruntime" and t.text_runtime == "torch"
    np.testing.assert_array_equal(on_ort.rows, on_torch.rows)
    np.testing.assert_allclose(on_ort.scores, on_torch.scores, atol=1e-4)


def test_text_tower_switched_off_by_the_environment(cache, monkeypatch):
    monkeypatch.setenv("PHOTOCLUST_ORT", "0")
    e = ready(TinyClipEmbedder("cpu"))
    e.text_features(TEXTS)
    assert e.text_runtime == "torch" and not cache.exists()


"""The image tower through ONNX Runtime on the CPU (core/embed/ort.py), with the tiny random
CLIP: exported once into the user cache, verified against torch, reused, and torch whenever
anything fails."""
import logging

import numpy as np
import pytest

from photoclust_app.core.embed import ort
from photoclust_app.core.embed.tiny import IMAGE_SIZE, TinyClipEmbedder

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PHOTOCLUST_ORT", raising=False)
    return tmp_path / "cache" / "photoclust" / "onnx"


def pixels(n=5):
    return np.random.default_rng(7).integers(0, 256, (n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)


def torch_only(monkeypatch):
    e = TinyClipEmbedder("cpu")
    e.use_ort = False
    return e


def test_cpu_embeddings_run_on_onnxruntime_and_match_torch(cache, monkeypatch):
    e = TinyClipEmbedder("cpu")
    got = e.embed(pixels())
    assert e.runtime == "onnxruntime" and len(list(cache.glob("*.onnx"))) == 1
    want = torch_only(monkeypatch).embed(pixels())
    assert got.shape == want.shape == (5, e.dim)
    assert float((got * want).sum(1).min()) > 0.999
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_the_export_is_cached_and_reused(cache, monkeypatch):
    TinyClipEmbedder("cpu").embed(pixels(2))
    import torch

    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: pytest.fail("exported again"))
    e = TinyClipEmbedder("cpu")
    e.embed(pixels(2))
    assert e.runtime == "onnxruntime"


def test_an_export_failure_means_torch_with_one_log_line(cache, monkeypatch, caplog):
    import torch

    def broken(*a, **k):
        raise RuntimeError("an operator the exporter cannot write")

    monkeypatch.setattr(torch.onnx, "export", broken)
    e = TinyClipEmbedder("cpu")
    with caplog.at_level(logging.WARNING, logger="photoclust_app.core.embed.ort"):
        out = e.embed(pixels(3))
        e.embed(pixels(3))
    assert e.runtime == "torch" and out.shape == (3, e.dim)
    lines = [r for r in caplog.records if "using torch" in r.getMessage()]
    assert len(lines) == 1 and "cannot write" in lines[0].getMessage()
    assert not list(cache.glob("*")) or not list(cache.glob("*.onnx"))


def test_an_export_that_does_not_match_torch_is_thrown_away(cache, monkeypatch, caplog):
    real_run = ort.OrtTower.run
    monkeypatch.setattr(ort.OrtTower, "run", lambda self, x: -real_run(self, x))  # a wrong sign: cosine -1
    e = TinyClipEmbedder("cpu")
    with caplog.at_level(logging.WARNING, logger="photoclust_app.core.embed.ort"):
        e.embed(pixels(2))
    assert e.runtime == "torch" and "does not match torch" in caplog.text
    assert not list(cache.glob("*.onnx"))  # the bad file is not kept for next time


def test_switched_off_by_the_environment(cache, monkeypatch):
    monkeypatch.setenv("PHOTOCLUST_ORT", "0")
    e = TinyClipEmbedder("cpu")
    e.embed(pixels(2))
    assert e.runtime == "torch" and not cache.exists()


def test_onnxruntime_threads_follow_torchs_setting_at_each_call(cache):
    """The indexer gives the embedder half the cores while decoders run and all once they
    idle (torch_threads); the ONNX Runtime tower must obey the same plan."""
    from photoclust_app.core.embed.device import torch_threads

    e = TinyClipEmbedder("cpu")
    with torch_threads(1):
        first = e.embed(pixels(3))
    tower = e._ort_tower()
    assert sorted(tower._sessions) == [1]
    with torch_threads(2):
        again = e.embed(pixels(3))
    assert sorted(tower._sessions) == [1, 2]
    np.testing.assert_allclose(first, again, atol=1e-5)

"""Embedders: registry, CLIP -> lite fallback without network, lite and tiny-test behaviour."""
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from photoclust_app.core.ingest.decode import decode_photo
from photoclust_app.core.embed import available_models, create_embedder, load_vocabulary, model_name
from photoclust_app.core.errors import ModelUnavailable

REPO = Path(__file__).resolve().parents[2]
FLOWERS = REPO.parent / "shared" / "data" / "oxford_flowers12"


def pixels_of(folder: Path, names, size: int) -> np.ndarray:
    return np.stack([decode_photo(folder / n, size).pixels for n in names])


@pytest.fixture(scope="module")
def tiny():
    return create_embedder("tiny-test").load()


@pytest.fixture(scope="module")
def lite():
    return create_embedder("lite", "cpu").load()


def test_registry_names_without_loading():
    assert model_name("lite") == "lite" and model_name("tiny-test") == "tiny-test"
    assert model_name("clip") == "clip:MobileCLIP2-S0/dfndr2b"
    assert model_name("clip:ViT-B-32/laion2b_s34b_b79k") == "clip:ViT-B-32/laion2b_s34b_b79k"
    assert model_name("clip:/tmp/w.safetensors") == "clip:/tmp/w.safetensors"
    assert "clip" in available_models() and "lite" in available_models()
    with pytest.raises(ModelUnavailable, match="Unknown model"):
        model_name("resnet-9000")
    with pytest.raises(ModelUnavailable):
        create_embedder("resnet-9000")


def test_creating_lite_or_learning_names_does_not_import_torch():
    code = ("import sys; from photoclust_app.core.embed import create_embedder, model_name;"
            "e = create_embedder('lite'); model_name('clip');"
            "assert (e.name, e.dim, e.input_size) == ('lite', 1280, 224);"
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


def test_clip_falls_back_to_lite_quickly_with_one_notice(no_network):
    notices = []
    emb = create_embedder("clip", notify=notices.append)
    assert emb.name == "lite"
    assert len(notices) == 1
    assert notices[0].startswith("CLIP weights could not be downloaded (")
    assert notices[0].endswith("using the offline model 'lite' instead.")


def test_clip_without_fallback_raises_model_unavailable(no_network):
    with pytest.raises(ModelUnavailable, match="could not be downloaded"):
        create_embedder("clip", fallback=False)


def test_missing_local_weights_file_falls_back(tmp_path):
    notices = []
    emb = create_embedder(f"clip:{tmp_path / 'nope.safetensors'}", notify=notices.append)
    assert emb.name == "lite" and "does not exist" in notices[0]


def test_tiny_embeddings_are_normalised_deterministic_and_separate_groups(tiny, photo_folder, photo_labels):
    names = sorted(photo_labels)
    px = pixels_of(photo_folder, names, tiny.input_size)
    v = tiny.embed(px)
    assert v.shape == (len(names), tiny.dim) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    again = create_embedder("tiny-test").embed(px)  # a second, independently built instance
    np.testing.assert_allclose(v, again, atol=1e-5)
    np.testing.assert_allclose(tiny.embed(px[:3]), v[:3], atol=1e-5)  # batch composition does not matter
    groups = np.array([photo_labels[n] for n in names])
    sim = v @ v.T
    np.fill_diagonal(sim, -np.inf)
    assert (groups[sim.argmax(1)] == groups).all()  # every photo's nearest neighbour is in its group


def test_embed_rejects_wrong_input(tiny):
    with pytest.raises(ValueError, match="uint8"):
        tiny.embed(np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError):
        tiny.embed(np.zeros((2, 64, 64, 3), np.float32))
    assert tiny.embed(np.zeros((0, 64, 64, 3), np.uint8)).shape == (0, tiny.dim)


def test_tiny_describe_names_from_the_vocabulary(tiny):
    vocab = set(load_vocabulary())
    assert len(vocab) >= 200 and {"a beach", "a cat", "receipts and documents", "a screenshot"} <= vocab
    rng = np.random.default_rng(0)
    c = rng.normal(size=(2, tiny.dim)).astype(np.float32)
    out = tiny.describe(c / np.linalg.norm(c, axis=1, keepdims=True), top=3)
    assert len(out) == 2
    for row in out:
        assert len(row) == 3 and all(name in vocab for name, _ in row)
        scores = [s for _, s in row]
        assert scores == sorted(scores, reverse=True) and 0 <= sum(scores) <= 1.0001
    assert tiny.describe(c[:1], top=3) == tiny.describe(c[:1], top=3)
    # zero-shot is a nearest-text search: a text's own embedding names itself
    t = tiny.text_features([tiny.prompt.format("a lighthouse")])
    assert tiny.describe(t, top=1)[0][0][0] == "a lighthouse"


def test_lite_features_dim_determinism_and_names(lite, photo_folder, photo_labels):
    names = sorted(photo_labels)[:6]
    px = pixels_of(photo_folder, names, 224)
    v = lite.embed(px)
    assert v.shape == (6, 1280) and lite.dim == 1280
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(lite.embed(px), v, atol=1e-5)
    described = lite.describe(v[:2], top=3)
    assert len(described) == 2 and all(len(r) == 3 and isinstance(r[0][0], str) for r in described)
    assert all("," not in name for r in described for name, _ in r)  # short readable ImageNet names


def test_lite_weight_loading_refuses_a_mismatched_network():
    import timm

    from photoclust_app.core.embed.lite import load_lite_state_dict

    with pytest.raises(ModelUnavailable):
        load_lite_state_dict(timm.create_model("efficientnet_b0", pretrained=False))


@pytest.mark.shared_data
def test_lite_recognises_real_daisies_and_sunflowers(lite):
    if not FLOWERS.is_dir():
        pytest.skip("../shared/data/oxford_flowers12 is not here")
    rows = list(csv.DictReader(open(FLOWERS / "labels.csv")))
    for label, expected in (("daisy", "daisy"), ("sunflower", "daisy")):
        paths = [r["path"] for r in rows if r["label"] == label][:8]
        v = lite.embed(pixels_of(FLOWERS, paths, 224))
        c = v.mean(0)
        top = [n for n, _ in lite.describe(c / np.linalg.norm(c), top=3)[0]]
        assert expected in top, (label, top)
    # and the embedding separates two very different flowers
    a = lite.embed(pixels_of(FLOWERS, [r["path"] for r in rows if r["label"] == "sunflower"][:6], 224))
    b = lite.embed(pixels_of(FLOWERS, [r["path"] for r in rows if r["label"] == "bluebell"][:6], 224))
    within = (a @ a.T)[np.triu_indices(6, 1)].mean()
    assert within > (a @ b.T).mean() + 0.1


def test_device_resolution():
    import torch

    from photoclust_app.core.embed.device import resolve_device

    assert resolve_device("auto") in ("cpu", "cuda", "mps")
    assert resolve_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("cuda") == "cpu"


@pytest.mark.slow
def test_default_clip_architecture_from_a_local_weights_file(tmp_path, photo_folder, photo_labels, monkeypatch):
    """The real default pipeline (MobileCLIP2-S0, reparameterised) with random weights in a file;
    the vocabulary's text features are cached on disk for the next process."""
    import open_clip
    from safetensors.torch import save_file

    from photoclust_app.core.embed import clear_cache
    from photoclust_app.core.embed.clip import ClipEmbedder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    model = open_clip.create_model("MobileCLIP2-S0", pretrained=None)
    path = tmp_path / "mc2s0.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    emb = create_embedder(f"clip:{path}", "cpu", fallback=False)
    assert emb.name == f"clip:{path}" and (emb.dim, emb.input_size) == (512, 256)
    names = sorted(photo_labels)[:4]
    v = emb.embed(pixels_of(photo_folder, names, 256))
    assert v.shape == (4, 512)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    named = emb.describe(v[:1], top=2)
    assert len(named[0]) == 2
    assert create_embedder(f"clip:{path}", "cpu") is emb  # loaded once per process
    cached = list((tmp_path / "cache").rglob("*.npy"))
    assert len(cached) == 1
    clear_cache()
    fresh = ClipEmbedder.from_spec(f"clip:{path}", "cpu")
    fresh.text_features = None  # the text tower must not run again: features come from disk
    assert fresh.describe(v[:1], top=2) == named


def test_models_are_built_once_and_a_clip_failure_is_remembered(monkeypatch):
    """A granularity change names clusters through the engine: rebuilding lite per request
    cost ~1.2 s, and asking the hub again for CLIP weights that were not there ~0.3 s."""
    from photoclust_app.core import embed
    from photoclust_app.core.embed.clip import ClipEmbedder
    from photoclust_app.core.errors import ModelUnavailable

    embed.clear_cache()
    tries = []

    def unavailable(spec, device):
        tries.append(spec)
        raise ModelUnavailable("CLIP weights are not on this machine")

    monkeypatch.setattr(ClipEmbedder, "from_spec", staticmethod(unavailable))
    notes = []
    first = create_embedder("clip", "cpu", notify=notes.append)
    again = create_embedder("clip", "cpu", notify=notes.append)
    assert first is again is create_embedder("lite", "cpu") and first.name == "lite"
    assert tries == ["clip"] and len(notes) == 2  # asked once; each caller still hears why
    with pytest.raises(ModelUnavailable, match="not on this machine"):
        create_embedder("clip", "cpu", fallback=False)
    embed.clear_cache()
    create_embedder("clip", "cpu")
    assert tries == ["clip", "clip"]  # after clear_cache the hub is asked again
    embed.clear_cache()

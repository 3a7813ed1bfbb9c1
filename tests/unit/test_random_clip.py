"""'clip-random:ARCH' (core/bench/random_clip.py): the default CLIP's shape and preprocessing
with random weights, for `bench index` only; the model registry never hands it out."""
import pytest

from photoclust_app.core.bench.random_clip import RandomClipEmbedder, is_random_spec
from photoclust_app.core.embed import create_embedder
from photoclust_app.core.embed.clip import DEFAULT_ARCH, _DEFAULT_INFO
from photoclust_app.core.errors import ModelUnavailable


def test_it_has_the_default_clips_input_and_preprocessing():
    e = RandomClipEmbedder.from_spec("clip-random", "cpu")
    assert e.arch == DEFAULT_ARCH and e.name == f"clip-random:{DEFAULT_ARCH}"
    assert (e.input_size, e.dim) == (_DEFAULT_INFO["image_size"], _DEFAULT_INFO["embed_dim"])
    assert (e.mean, e.std) == (_DEFAULT_INFO["mean"], _DEFAULT_INFO["std"]) and e.channels_last
    assert e.weights is None and e._model is None  # nothing built until it is used


def test_only_bench_specs_are_random_and_the_registry_refuses_them(no_network):
    assert is_random_spec("clip-random") and is_random_spec("clip-random:ViT-B-32")
    assert not is_random_spec("clip") and not is_random_spec("lite")
    with pytest.raises(ModelUnavailable):
        create_embedder("clip-random", "cpu", fallback=False)


def test_an_unknown_architecture_is_a_sentence():
    with pytest.raises(ModelUnavailable, match="Unknown CLIP architecture 'NoSuchNet'"):
        RandomClipEmbedder.from_spec("clip-random:NoSuchNet", "cpu")

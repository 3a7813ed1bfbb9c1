"""The Embedder protocol and the shared torch plumbing behind every embedder.

Embedders are cheap to construct: the network is built on first use (``load()``), so
asking for one (e.g. to learn its ``name`` while re-indexing an unchanged folder) never
imports torch.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

log = logging.getLogger(__name__)


@runtime_checkable
class Embedder(Protocol):
    name: str  # stored in the library as the model id
    dim: int
    input_size: int  # S for decode_photo

    @property
    def device(self) -> str: ...

    def embed(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 (N, S, S, 3) RGB -> float32 (N, dim), rows L2-normalised."""

    def describe(self, centroids: np.ndarray, top: int = 3) -> list[list[tuple[str, float]]]:
        """Suggested names with scores (best first) for each L2-normalised centroid."""


def resource_path(name: str) -> Path:
    """A file shipped in resources/ (installed as photoclust_app.resources)."""
    try:
        from importlib.resources import files

        p = files("photoclust_app.resources") / name
        if p.is_file():
            return Path(str(p))
    except (ImportError, ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[3] / "resources" / name


def load_vocabulary() -> list[str]:
    """The naming vocabulary: one subject per line; blank lines and # comments ignored."""
    lines = resource_path("vocabulary.txt").read_text(encoding="utf-8").splitlines()
    seen, out = set(), []
    for line in lines:
        term = line.split("#", 1)[0].strip()
        if term and term.lower() not in seen:
            seen.add(term.lower())
            out.append(term)
    return out


def top_labels(probs: np.ndarray, labels: list[str], top: int) -> list[list[tuple[str, float]]]:
    """Rows of class probabilities -> [(label, p)] best first; equal labels are summed."""
    out = []
    for row in np.atleast_2d(probs):
        merged: dict[str, float] = {}
        for i in np.argsort(-row)[: max(top * 4, top)]:
            merged[labels[i]] = merged.get(labels[i], 0.0) + float(row[i])
        best = sorted(merged.items(), key=lambda kv: -kv[1])[:top]
        out.append([(k, round(v, 4)) for k, v in best])
    return out


class TorchEmbedder:
    """uint8 NHWC in, normalised float32 out; subclasses supply ``_build`` and ``_forward``."""

    name = ""
    dim = 0
    input_size = 224
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    channels_last = False  # True for CNNs: +80% on CPU; no gain for ViTs
    use_ort = True  # on the CPU, run the image tower through ONNX Runtime when it verifies

    def __init__(self, device: str = "auto"):
        self._device_request = device
        self._device: str | None = None
        self._model = None
        self._lock = threading.Lock()
        self._ort = None  # the ONNX Runtime tower (CPU), once tried: False when torch it is

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} dim={self.dim} S={self.input_size}>"

    @property
    def device(self) -> str:
        if self._device is None:
            from photoclust_app.core.embed.device import resolve_device

            self._device = resolve_device(self._device_request)
        return self._device

    @property
    def half(self) -> bool:
        return self.device.startswith("cuda")

    def load(self):
        """Build the network now (otherwise on first embed/describe); returns self."""
        with self._lock:
            if self._model is None:
                import torch

                model = self._build()
                model.eval().requires_grad_(False)
                model = model.to(self.device)
                if self.half:
                    model = model.half()
                if self.channels_last:
                    model = model.to(memory_format=torch.channels_last)
                self._model = model
                log.info("Loaded %s on %s", self.name, self.device)
        return self

    @property
    def runtime(self) -> str:
        """"onnxruntime" or "torch": what embed() runs on (known after the first embed on CPU)."""
        return "onnxruntime" if self._ort else "torch"

    def _ort_tower(self):
        """On the CPU, the verified ONNX Runtime tower (embed/ort.py), tried once."""
        if self._ort is None:
            with self._lock:
                if self._ort is None:
                    if self.device != "cpu" or not self.use_ort:
                        self._ort = False
                    else:
                        from photoclust_app.core.embed.ort import tower_for

                        self._ort = tower_for(self) or False
        return self._ort or None

    def _build(self):
        raise NotImplementedError

    def _forward(self, model, x):
        raise NotImplementedError

    def embed(self, pixels: np.ndarray) -> np.ndarray:
        pixels = np.asarray(pixels)
        s = self.input_size
        if pixels.ndim != 4 or pixels.shape[1:] != (s, s, 3) or pixels.dtype != np.uint8:
            raise ValueError(f"{self.name} expects uint8 (N, {s}, {s}, 3), got {pixels.dtype} {pixels.shape}")
        if len(pixels) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.load()
        tower = self._ort_tower()
        if tower is not None:
            mean = np.asarray(self.mean, dtype=np.float32).reshape(1, 3, 1, 1) * 255.0
            std = np.asarray(self.std, dtype=np.float32).reshape(1, 3, 1, 1) * 255.0
            x = (np.ascontiguousarray(pixels).transpose(0, 3, 1, 2).astype(np.float32) - mean) / std
            f = tower.run(x).astype(np.float32, copy=False)
            return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
        import torch

        dev = self.device
        x = torch.from_numpy(np.ascontiguousarray(pixels)).to(dev, non_blocking=True)
        # NHWC memory viewed as NCHW is channels_last already; elementwise ops keep it.
        x = x.permute(0, 3, 1, 2)
        dtype = torch.float16 if self.half else torch.float32
        mean = torch.tensor(self.mean, device=dev, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.std, device=dev, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        x = ((x.float() - mean) / std).to(dtype)
        if not self.channels_last:
            x = x.contiguous()
        with torch.inference_mode():
            f = self._forward(self._model, x).float()
            f = torch.nn.functional.normalize(f, dim=-1)
        return f.cpu().numpy().astype(np.float32, copy=False)


class ClipLike(TorchEmbedder):
    """Zero-shot naming over the shipped vocabulary, for any model with a text tower."""

    prompt = "a photo of {}."
    logit_scale = 100.0

    def __init__(self, device: str = "auto"):
        super().__init__(device)
        self._text: tuple[list[str], np.ndarray] | None = None
        self._ort_text = None  # the ONNX Runtime text tower (CPU), once tried: False when torch it is
        self._text_lock = threading.Lock()

    def _tokenize(self, texts: list[str]):
        raise NotImplementedError

    def _forward_text(self, model, tokens):
        return model.encode_text(tokens)

    @property
    def text_runtime(self) -> str:
        """"onnxruntime" or "torch": what text_features() runs on (known after its first call on CPU)."""
        return "onnxruntime" if self._ort_text else "torch"

    def prepare_text_tower(self) -> str:
        """Try the ONNX Runtime text tower now (export once, verify; embed/ort.py) and return
        ``text_runtime``; CUDA and MPS keep torch. Loading and verifying even a cached export
        costs ~0.7 s on 2 cores for MobileCLIP2-S0: a caller that can, warms it early."""
        self.load()
        with self._text_lock:
            if self._ort_text is None:
                if self.device != "cpu" or not self.use_ort:
                    self._ort_text = False
                else:
                    from photoclust_app.core.embed.ort import text_tower_for

                    self._ort_text = text_tower_for(self) or False
        return self.text_runtime

    def _ort_text_tower(self):
        """The ONNX Runtime text tower, tried on the first text query. Synchronous on purpose:
        a query answered by torch and the next by onnxruntime would rank ties differently."""
        if self._ort_text is None:
            self.prepare_text_tower()
        return self._ort_text or None

    def text_features(self, texts: list[str]) -> np.ndarray:
        """L2-normalised text embeddings in the image space."""
        self.load()
        tower = self._ort_text_tower()
        if tower is not None:
            f = tower.run(self._tokenize(texts).numpy()).astype(np.float32, copy=False)
            return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
        import torch

        tokens = self._tokenize(texts).to(self.device)
        with torch.inference_mode():
            f = self._forward_text(self._model, tokens).float()
            f = torch.nn.functional.normalize(f, dim=-1)
        return f.cpu().numpy().astype(np.float32)

    def _text_cache_key(self, vocab: list[str]) -> str | None:
        """A key for the on-disk cache of vocabulary features; None: no disk cache."""
        return None

    def vocabulary_features(self) -> tuple[list[str], np.ndarray]:
        """Text embeddings of the prompted vocabulary. A real CLIP text tower needs ~10-50 s
        of CPU for a few hundred prompts, so subclasses may cache them on disk."""
        if self._text is None:
            vocab = load_vocabulary()
            key = self._text_cache_key(vocab)
            feats = _load_cached_text(key, (len(vocab), self.dim)) if key else None
            if feats is None:
                feats = np.concatenate([self.text_features([self.prompt.format(t) for t in vocab[i:i + 128]])
                                        for i in range(0, len(vocab), 128)])
                if key:
                    _save_cached_text(key, feats)
            self._text = (vocab, feats)
        return self._text

    def describe(self, centroids: np.ndarray, top: int = 3) -> list[list[tuple[str, float]]]:
        c = np.atleast_2d(np.asarray(centroids, dtype=np.float32))
        if len(c) == 0:
            return []
        c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
        vocab, t = self.vocabulary_features()
        logits = self.logit_scale * (c @ t.T)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        return top_labels(p, vocab, top)


def _text_cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("photoclust")) / "text-features"


def _load_cached_text(key: str, shape: tuple[int, int]) -> np.ndarray | None:
    try:
        feats = np.load(_text_cache_dir() / f"{key}.npy", allow_pickle=False)
    except (OSError, ValueError):
        return None
    return feats.astype(np.float32) if feats.shape == shape else None


def _save_cached_text(key: str, feats: np.ndarray) -> None:
    import os

    try:
        folder = _text_cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{key}.{os.getpid()}.tmp.npy"
        np.save(tmp, feats.astype(np.float32))
        os.replace(tmp, folder / f"{key}.npy")
    except OSError as err:  # a cache, not a requirement
        log.info("Could not cache text features: %s", err)

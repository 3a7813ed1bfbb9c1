"""CPU inference of an embedder's image tower through ONNX Runtime.

Measured on this 2-core CPU (FIELD-NOTES, re-measured here: 32 photos in 0.29-0.39 s against
torch's 1.14-1.26 s): onnxruntime runs `lite` 3-4x and MobileCLIP2-S0 1.8x faster than torch,
and the index becomes decode-bound. The tower is exported from torch once, the first time its
weights are loaded, into the user cache (keyed by model, input size and a hash of the weights),
and trusted only after its output matches torch's on a few fixed inputs (cosine >= VERIFY_COS).
Anything that fails (no onnxruntime, an operator the exporter cannot write, a mismatch) means
torch, with one log line. Torch stays for CUDA and MPS. PHOTOCLUST_ORT=0 turns this off.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

VERIFY_COS = 0.999
VERIFY_N = 3
_export_lock = threading.Lock()


def enabled() -> bool:
    return os.environ.get("PHOTOCLUST_ORT", "1") not in ("0", "false", "no")


def cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("photoclust")) / "onnx"


def weights_key(model) -> str:
    """A hash of every parameter and buffer (names, shapes, values): a new export for new weights."""
    h = hashlib.sha1()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:20]


class OrtTower:
    """An ONNX Runtime session of the tower: float32 NCHW normalised pixels in, features out."""

    def __init__(self, path: Path, threads: int):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = max(1, int(threads))
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        self.path = path
        self._session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def run(self, x: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: np.ascontiguousarray(x, dtype=np.float32)})[0]


def tower_for(embedder) -> OrtTower | None:
    """The verified ONNX Runtime tower of a loaded CPU TorchEmbedder, or None (then torch)."""
    if not enabled():
        return None
    try:
        import importlib.util

        import torch

        if importlib.util.find_spec("onnxruntime") is None:
            raise ImportError("onnxruntime")
    except ImportError:
        log.info("onnxruntime is not installed: %s runs on torch", embedder.name)
        return None
    try:
        model, s = embedder._model, embedder.input_size
        key = f"{''.join(c if c.isalnum() else '_' for c in embedder.name)[:60]}-{s}-{weights_key(model)}"
        path = cache_dir() / f"{key}.onnx"
        wrapper = _Tower(embedder, model).eval()
        with _export_lock:
            if not path.is_file():
                _export(wrapper, s, path)
        tower = OrtTower(path, torch.get_num_threads())
        x = torch.from_numpy(np.random.default_rng(0).normal(size=(VERIFY_N, 3, s, s)).astype(np.float32))
        with torch.inference_mode():
            want = wrapper(x).float().numpy()
        got = tower.run(x.numpy())
        cos = (want * got).sum(1) / np.maximum(np.linalg.norm(want, axis=1) * np.linalg.norm(got, axis=1), 1e-12)
        if got.shape != want.shape or not np.isfinite(got).all() or float(cos.min()) < VERIFY_COS:
            path.unlink(missing_ok=True)
            log.warning("The ONNX export of %s does not match torch (cosine %.4f); using torch.", embedder.name,
                        float(np.nan_to_num(cos).min()) if got.shape == want.shape else float("nan"))
            return None
        log.info("%s runs on onnxruntime (%s)", embedder.name, path.name)
        return tower
    except Exception as err:  # an exporter or runtime failure must never stop indexing
        log.warning("ONNX Runtime is not available for %s (%s: %s); using torch.", embedder.name,
                    type(err).__name__, str(err).splitlines()[0][:200] if str(err) else "")
        return None


class _Tower:
    """The embedder's forward as an nn.Module the exporter can trace."""

    def __new__(cls, embedder, model):
        import torch

        class Tower(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, x):
                return embedder._forward(self.model, x)

        return Tower()


def _export(module, size: int, path: Path) -> None:
    """torch.onnx.export (the TorchScript exporter: no onnxscript needed), batch axis dynamic,
    written to a temporary name and renamed, so a killed export leaves no half file."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    mha = getattr(getattr(torch.backends, "mha", None), "set_fastpath_enabled", None)
    fast = torch.backends.mha.get_fastpath_enabled() if mha else None
    try:
        if mha:  # nn.MultiheadAttention's fused CPU path has no ONNX form (ViT towers)
            mha(False)
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (torch.zeros(2, 3, size, size),), str(tmp), input_names=["x"],
                              output_names=["f"], dynamic_axes={"x": {0: "n"}, "f": {0: "n"}}, opset_version=17,
                              dynamo=False)
        os.replace(tmp, path)
    finally:
        if mha:
            mha(fast)
        tmp.unlink(missing_ok=True)

"""CPU inference of an embedder's towers (image, and CLIP's text) through ONNX Runtime.

Measured on this 2-core CPU (FIELD-NOTES, re-measured here: 32 photos in 0.29-0.39 s against
torch's 1.14-1.26 s): onnxruntime runs `lite` 3-4x and MobileCLIP2-S0 1.8x faster than torch,
and the index becomes decode-bound. A tower is exported from torch once, the first time its
weights are loaded, into the user cache (keyed by model, tower, input shape and a hash of the
weights), and trusted only after its output matches torch's on a few fixed inputs (cosine >=
VERIFY_COS), every time it is loaded: a cached file that will not load or no longer matches
is exported again once. Anything that still fails (no onnxruntime, an operator the exporter
cannot write, a mismatch) means torch, with one log line. Torch stays for CUDA and MPS.
PHOTOCLUST_ORT=0 turns this off.
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
# Fixed text-tower probes of different lengths: CLIP pools the end-of-text token, whose
# position the exported graph must find for every length.
VERIFY_TEXTS = ("a photo of a dog.", "a photo of two children flying a red kite on a windy beach at sunset.", "x")
_export_lock = threading.Lock()


class _Unusable(Exception):
    """A cached export that does not load or does not match torch."""


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
    """ONNX Runtime sessions of a tower: one input (float32 pixels or int64 tokens), features out.

    The thread count follows torch's setting at each call (one session per count, made on
    first use), so the indexer's plan holds for either runtime: half the cores while the
    decoders run, all of them once they idle (index.cpu_plan). Spinning is off: ORT's idle
    threads would otherwise spin between operators and take CPU the decoders need (on 2
    loaded cores: 54 instead of 47 ms of CPU per indexed photo for `lite`)."""

    def __init__(self, path: Path, threads: int | None = None):
        self.path = path
        self._threads = threads
        self._sessions: dict[int, object] = {}
        self._lock = threading.Lock()
        inp = self._session().get_inputs()[0]  # load now: a file that cannot be loaded fails here
        self._input = inp.name
        self._dtype = np.int64 if "int64" in inp.type else np.float32

    def _session(self):
        n = self._threads
        if n is None:
            import torch

            n = torch.get_num_threads()
        n = max(1, int(n))
        session = self._sessions.get(n)
        if session is None:
            import onnxruntime as ort

            with self._lock:
                session = self._sessions.get(n)
                if session is None:
                    so = ort.SessionOptions()
                    so.intra_op_num_threads = n
                    so.inter_op_num_threads = 1
                    so.log_severity_level = 3
                    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
                    session = ort.InferenceSession(str(self.path), so, providers=["CPUExecutionProvider"])
                    self._sessions[n] = session
        return session

    def run(self, x: np.ndarray) -> np.ndarray:
        return self._session().run(None, {self._input: np.ascontiguousarray(x, dtype=self._dtype)})[0]


def tower_for(embedder) -> OrtTower | None:
    """The verified ONNX Runtime image tower of a loaded CPU TorchEmbedder, or None (then torch)."""
    if not _available(embedder):
        return None
    import torch

    s = embedder.input_size
    wrapper = _Module(lambda m, x: embedder._forward(m, x), embedder._model)
    probe = torch.from_numpy(np.random.default_rng(0).normal(size=(VERIFY_N, 3, s, s)).astype(np.float32))
    return _verified(embedder, "image", f"{s}", wrapper, torch.zeros(2, 3, s, s), probe)


def text_tower_for(embedder) -> OrtTower | None:
    """The verified ONNX Runtime text tower of a loaded CPU ClipLike (int64 tokens in), or None."""
    if not _available(embedder):
        return None
    probe = embedder._tokenize(list(VERIFY_TEXTS))
    wrapper = _Module(lambda m, t: embedder._forward_text(m, t), embedder._model)
    return _verified(embedder, "text", f"t{probe.shape[1]}", wrapper, probe[:2].clone(), probe)


def _available(embedder) -> bool:
    if not enabled():
        return False
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is None:
        log.info("onnxruntime is not installed: %s runs on torch", embedder.name)
        return False
    return True


def _verified(embedder, tower: str, shape: str, module, example, probe) -> OrtTower | None:
    """Load (exporting first when absent) and verify one tower; a cached file that fails is
    exported again once; whatever fails after that means torch, with one warning."""
    import torch

    label = embedder.name if tower == "image" else f"{embedder.name} ({tower} tower)"
    try:
        wkey = getattr(embedder, "_ort_weights_key", None)
        if wkey is None:  # hashing every weight costs ~0.1 s per 100 MB: once per loaded model
            wkey = embedder._ort_weights_key = weights_key(embedder._model)
        stem = "".join(c if c.isalnum() else "_" for c in embedder.name)[:60]
        path = cache_dir() / f"{stem}{'' if tower == 'image' else '-' + tower}-{shape}-{wkey}.onnx"
        with torch.inference_mode():
            want = module(probe).float().numpy()
        with _export_lock:
            if path.is_file():
                try:
                    return _load(path, probe, want, label)
                except _Unusable as why:
                    log.info("The cached ONNX file %s is unusable (%s); exporting it again", path.name, why)
                    path.unlink(missing_ok=True)
            _export(module, example, path)
            try:
                return _load(path, probe, want, label)
            except _Unusable as why:
                path.unlink(missing_ok=True)  # not kept for next time
                log.warning("The ONNX export of %s does not match torch (%s); using torch.", label, why)
                return None
    except Exception as err:  # an exporter or runtime failure must never stop indexing or search
        log.warning("ONNX Runtime is not available for %s (%s: %s); using torch.", label,
                    type(err).__name__, str(err).splitlines()[0][:200] if str(err) else "")
        return None


def _load(path: Path, probe, want: np.ndarray, label: str) -> OrtTower:
    """A session of PATH whose output on PROBE matches WANT; raises _Unusable otherwise."""
    try:
        session = OrtTower(path)
        got = session.run(probe.numpy())
    except Exception as err:  # a truncated or foreign file: onnxruntime's own error types
        raise _Unusable(f"{type(err).__name__}: {(str(err).splitlines() or [''])[0][:120]}") from err
    if got.shape != want.shape or not np.isfinite(got).all():
        raise _Unusable(f"output {got.shape} instead of {want.shape}" if got.shape != want.shape else "not finite")
    cos = (want * got).sum(1) / np.maximum(np.linalg.norm(want, axis=1) * np.linalg.norm(got, axis=1), 1e-12)
    if float(cos.min()) < VERIFY_COS:
        raise _Unusable(f"cosine {float(cos.min()):.4f}")
    log.info("%s runs on onnxruntime (%s)", label, path.name)
    return session


class _Module:
    """FORWARD(model, x) as an nn.Module the exporter can trace."""

    def __new__(cls, forward, model):
        import torch

        class Tower(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, x):
                return forward(self.model, x)

        return Tower().eval()


def _export(module, example, path: Path) -> None:
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
            torch.onnx.export(module, (example,), str(tmp), input_names=["x"], output_names=["f"],
                              dynamic_axes={"x": {0: "n"}, "f": {0: "n"}}, opset_version=17, dynamo=False)
        os.replace(tmp, path)
    finally:
        if mha:
            mha(fast)
        tmp.unlink(missing_ok=True)

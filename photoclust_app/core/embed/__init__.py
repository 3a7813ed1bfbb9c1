"""Embedder registry: ``create_embedder(spec)`` for 'clip' (default), 'clip:...', 'lite', 'tiny-test'.

Importing this package imports neither torch nor open_clip; building an embedder object
is cheap too except for CLIP, whose weights are located (and downloaded) up front so that
a failure can fall back to the offline 'lite' model with a notice.
"""
from __future__ import annotations

import logging
from typing import Callable

from photoclust_app.core.errors import ModelUnavailable
from photoclust_app.core.embed.base import Embedder, TorchEmbedder, load_vocabulary

log = logging.getLogger(__name__)

DEFAULT_MODEL = "clip"
FALLBACK_MODEL = "lite"
_loaded: dict[tuple[str, str], Embedder] = {}  # embedders by (spec, device); see clear_cache()
_failed: dict[tuple[str, str], str] = {}  # CLIP specs that could not be loaded in this process, and why

__all__ = ["DEFAULT_MODEL", "Embedder", "TorchEmbedder", "available_models", "clear_cache", "create_embedder",
           "load_vocabulary", "model_name"]


def available_models() -> list[str]:
    """Specs accepted by create_embedder (besides 'clip:ARCH/TAG' for any open_clip pair
    and 'clip:/path/to/weights' for the default architecture)."""
    from photoclust_app.core.embed.clip import DEFAULT_ARCH, DEFAULT_TAG

    return ["clip", f"clip:{DEFAULT_ARCH}/{DEFAULT_TAG}", "lite", "tiny-test"]


def model_name(spec: str = DEFAULT_MODEL) -> str:
    """The model id SPEC would be stored under if its weights load; nothing is loaded."""
    spec = (spec or DEFAULT_MODEL).strip()
    if spec in ("lite", "tiny-test"):
        return spec
    if spec == "clip" or spec.startswith("clip:"):
        from photoclust_app.core.embed.clip import clip_name

        return clip_name(spec)
    raise ModelUnavailable(f"Unknown model '{spec}'; choose one of: {', '.join(available_models())}.")


def create_embedder(spec: str = DEFAULT_MODEL, device: str = "auto", *, fallback: bool = True,
                    notify: Callable[[str], None] | None = None) -> Embedder:
    """An embedder for SPEC. CLIP weights that cannot be had raise ModelUnavailable, or with
    ``fallback`` (the default) call ``notify`` once with a sentence and return 'lite'."""
    spec = (spec or DEFAULT_MODEL).strip()
    key = (spec, device)
    if key in _loaded:  # weights are MBs to hundreds of MB: build each model once per process
        return _loaded[key]
    if spec == "lite":
        return _lite(device)
    if spec == "tiny-test":
        from photoclust_app.core.embed.tiny import TinyClipEmbedder

        _loaded[key] = TinyClipEmbedder("cpu" if device == "auto" else device)
        return _loaded[key]
    if spec == "clip" or spec.startswith("clip:"):
        from photoclust_app.core.embed.clip import ClipEmbedder

        try:
            if key in _failed:  # asked again in this process: the same answer, at once
                raise ModelUnavailable(_failed[key])
            emb = ClipEmbedder.from_spec(spec, device).load()
            _loaded[key] = emb
            return emb
        except ModelUnavailable as err:
            _failed[key] = str(err)
            if not fallback:
                raise
            reason = str(err).rstrip(".")
            if not reason.startswith("CLIP weights"):
                reason = f"CLIP weights could not be loaded ({reason})"
            message = f"{reason}; using the offline model '{FALLBACK_MODEL}' instead."
            log.warning(message)
            if notify is not None:
                notify(message)
            return _lite(device)
    raise ModelUnavailable(f"Unknown model '{spec}'; choose one of: {', '.join(available_models())}.")


def _lite(device: str) -> Embedder:
    from photoclust_app.core.embed.lite import LiteEmbedder

    key = ("lite", device)
    if key not in _loaded:
        _loaded[key] = LiteEmbedder(device)
    return _loaded[key]


def clear_cache() -> None:
    """Forget loaded models and CLIP failures (frees memory once nothing else holds them;
    the next request tries the network again)."""
    _loaded.clear()
    _failed.clear()

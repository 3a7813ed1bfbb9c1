"""open_clip image embedder with zero-shot naming.

Default: MobileCLIP2-S0 (dfndr2b). Apple's MobileCLIP2 paper reports 71.5% ImageNet
zero-shot for S0, above OpenAI ViT-B/32 (63%) and LAION ViT-B-32 (66%), while it is the
fastest CLIP we measured on a laptop CPU once reparameterised and run channels_last
(FIELD-NOTES: 23.6 img/s vs 14.5 for ViT-B-32 and 4-9 for MobileCLIP-S2); on a GPU it is
tiny (11M-param image tower). Its 512-d space also names clusters well, which the offline
EfficientNet cannot do beyond ImageNet classes.

Weights are resolved before torch is imported: the Hugging Face cache first, then, only
if the hub answers a short connection probe, a download (tqdm progress on stderr) with
bounded timeouts. Anything that stops us raises ModelUnavailable quickly instead of
spending a minute in huggingface_hub's retry loop.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

from photoclust_app.core.errors import ModelUnavailable
from photoclust_app.core.embed.base import ClipLike

log = logging.getLogger(__name__)

DEFAULT_ARCH = "MobileCLIP2-S0"
DEFAULT_TAG = "dfndr2b"
# Known facts for the default so that resolving it needs neither torch nor open_clip.
_DEFAULT_INFO = {"hf_hub": "timm/MobileCLIP2-S0-OpenCLIP/", "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0),
                 "image_size": 256, "embed_dim": 512}
_OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
_OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
PROBE_TIMEOUT_S = 4.0

# Bounded hub timeouts; only effective if huggingface_hub is not imported yet (we also
# pass etag_timeout explicitly).
os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "10")
os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "30")


def parse_clip_spec(spec: str) -> tuple[str, str | None, str | None]:
    """'clip' | 'clip:ARCH/TAG' | 'clip:ARCH' | 'clip:/path/w.safetensors' -> (arch, tag, file)."""
    rest = spec.split(":", 1)[1].strip() if ":" in spec else ""
    if not rest:
        return DEFAULT_ARCH, DEFAULT_TAG, None
    expanded = os.path.expanduser(rest)
    if rest.startswith(("/", "~", ".")) or expanded.lower().endswith(_WEIGHT_SUFFIXES) or os.path.isfile(expanded):
        return DEFAULT_ARCH, None, str(Path(expanded).resolve())
    arch, _, tag = rest.partition("/")
    return arch, (tag or None), None


def clip_name(spec: str) -> str:
    """The model id stored in the library, without loading anything."""
    arch, tag, file = parse_clip_spec(spec)
    if file:  # the absolute path itself, so create_embedder(name) finds the same weights again
        return f"clip:{file}"
    return f"clip:{arch}/{tag or _default_tag(arch)}"


def _default_tag(arch: str) -> str:
    if arch == DEFAULT_ARCH:
        return DEFAULT_TAG
    import open_clip

    tags = open_clip.list_pretrained_tags_by_model(arch)
    if not tags:
        raise ModelUnavailable(f"open_clip has no pretrained weights for '{arch}'.")
    return tags[0]


def _model_info(arch: str, tag: str | None) -> dict:
    """hf_hub/url, mean/std, image size and embedding dim for ARCH (+TAG)."""
    if arch == DEFAULT_ARCH and tag in (None, DEFAULT_TAG):
        return dict(_DEFAULT_INFO)
    import open_clip

    cfg = open_clip.get_model_config(arch)
    if cfg is None:
        raise ModelUnavailable(f"Unknown CLIP architecture '{arch}' (see open_clip.list_models()).")
    info = {"embed_dim": cfg["embed_dim"], "image_size": cfg["vision_cfg"].get("image_size", 224)}
    if isinstance(info["image_size"], (tuple, list)):
        info["image_size"] = info["image_size"][0]
    pcfg = open_clip.get_pretrained_cfg(arch, tag) if tag else {}
    if tag and not pcfg:
        raise ModelUnavailable(f"Unknown pretrained tag '{tag}' for '{arch}' "
                               f"(known: {', '.join(open_clip.list_pretrained_tags_by_model(arch)) or 'none'}).")
    info.update({k: pcfg[k] for k in ("hf_hub", "url") if pcfg.get(k)})
    info["mean"] = tuple(pcfg.get("mean") or cfg.get("preprocess_cfg", {}).get("mean") or _OPENAI_MEAN)
    info["std"] = tuple(pcfg.get("std") or cfg.get("preprocess_cfg", {}).get("std") or _OPENAI_STD)
    return info


def _probe(url: str) -> str | None:
    """None if URL's host accepts a TCP connection within PROBE_TIMEOUT_S, else why not."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set"
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None  # a proxy decides; rely on the download timeouts
    parsed = urlparse(url)
    host, port = parsed.hostname or "huggingface.co", parsed.port or 443
    result: list[str | None] = ["no answer within %.0f s" % PROBE_TIMEOUT_S]

    def attempt():  # getaddrinfo has no timeout of its own: run it where we can stop waiting
        try:
            socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S).close()
            result[0] = None
        except socket.gaierror:
            result[0] = f"cannot resolve {host}; no network?"
        except OSError as err:
            result[0] = f"no connection to {host}: {err.strerror or err}"

    t = threading.Thread(target=attempt, daemon=True, name="hub-probe")
    t.start()
    t.join(PROBE_TIMEOUT_S + 1.0)
    return result[0]


def _hub_candidates(hf_hub: str) -> tuple[str, list[str]]:
    model_id, filename = os.path.split(hf_hub)  # 'org/repo/' means the default file name
    filename = filename or "open_clip_pytorch_model.bin"
    if filename == "open_clip_pytorch_model.bin":
        return model_id, ["open_clip_model.safetensors", filename]
    if filename.endswith((".bin", ".pth")):
        return model_id, [filename[:-4] + ".safetensors", filename]
    return model_id, [filename]


def locate_weights(arch: str, tag: str, info: dict) -> str:
    """A local path to the weights of ARCH/TAG: cached, or downloaded now."""
    if info.get("hf_hub"):
        from huggingface_hub import constants, hf_hub_download, try_to_load_from_cache

        model_id, files = _hub_candidates(info["hf_hub"])
        for fn in files:
            cached = try_to_load_from_cache(model_id, fn)
            if isinstance(cached, str) and os.path.isfile(cached):
                return cached
        why = _probe(constants.ENDPOINT)
        if why:
            raise ModelUnavailable(f"CLIP weights could not be downloaded ({why})")
        last: Exception | None = None
        for fn in files:
            try:
                log.info("Downloading %s/%s", model_id, fn)
                return hf_hub_download(model_id, fn, etag_timeout=10, library_name="photoclust")
            except Exception as err:  # EntryNotFound -> try the next name; anything else is kept
                last = err
        raise ModelUnavailable(f"CLIP weights could not be downloaded ({type(last).__name__}: {last})")
    if info.get("url"):
        why = _probe(info["url"])
        if why:
            raise ModelUnavailable(f"CLIP weights could not be downloaded ({why})")
        try:
            from open_clip.pretrained import download_pretrained_from_url

            return download_pretrained_from_url(info["url"])
        except Exception as err:
            raise ModelUnavailable(f"CLIP weights could not be downloaded ({err})") from err
    raise ModelUnavailable(f"open_clip lists no download for {arch}/{tag}.")


class ClipEmbedder(ClipLike):
    """An open_clip model; ``ClipEmbedder.from_spec('clip')`` resolves weights (may download)."""

    def __init__(self, arch: str, weights: str | None, name: str, info: dict, device: str = "auto"):
        super().__init__(device)
        self.arch, self.weights, self.name = arch, weights, name
        self.dim = int(info["embed_dim"])
        self.input_size = int(info["image_size"])
        self.mean, self.std = tuple(info["mean"]), tuple(info["std"])
        # FastViT/MobileCLIP and other conv towers gain from channels_last; ViTs do not.
        self.channels_last = "vit" not in arch.lower() or "mobileclip" in arch.lower()
        self._tokenizer = None

    @classmethod
    def from_spec(cls, spec: str, device: str = "auto") -> "ClipEmbedder":
        arch, tag, file = parse_clip_spec(spec)
        if file:
            if not os.path.isfile(file):
                raise ModelUnavailable(f"CLIP weights file {file} does not exist")
            info = _model_info(arch, DEFAULT_TAG if arch == DEFAULT_ARCH else None)
            return cls(arch, file, clip_name(spec), info, device)
        tag = tag or _default_tag(arch)
        info = _model_info(arch, tag)
        return cls(arch, locate_weights(arch, tag, info), f"clip:{arch}/{tag}", info, device)

    def _build(self):
        import open_clip

        try:
            model = open_clip.create_model(self.arch, pretrained=self.weights, device="cpu", weights_only=True)
        except Exception as err:
            raise ModelUnavailable(f"CLIP weights {self.weights} could not be loaded ({err})") from err
        if "mobileclip" in self.arch.lower():
            from timm.utils.model import reparameterize_model

            model = reparameterize_model(model)  # fuse train-time branches: ~1.5x faster
        self._tokenizer = open_clip.get_tokenizer(self.arch)
        return model

    def _text_cache_key(self, vocab: list[str]) -> str | None:
        import hashlib

        try:
            st = os.stat(self.weights)
            ident = f"{self.name}|{self.weights}|{st.st_size}|{st.st_mtime_ns}"
        except (OSError, TypeError):
            return None
        return hashlib.sha1("\n".join([ident, self.prompt, *vocab]).encode()).hexdigest()

    def _forward(self, model, x):
        return model.encode_image(x)

    def _tokenize(self, texts):
        return self._tokenizer(texts)

"""'clip-random[:ARCH]': an open_clip architecture with random weights, for benchmarks only.

Speed depends on the architecture, not on the weights, and no CLIP weights can be had
offline; so `bench index --model clip-random` times the default CLIP (MobileCLIP2-S0,
reparameterised and channels_last exactly like the real one) on any machine. Never offered
by create_embedder: its vectors mean nothing and must not reach a library the user keeps.
"""
from __future__ import annotations

from photoclust_app.core.embed.clip import DEFAULT_ARCH, ClipEmbedder, _model_info
from photoclust_app.core.errors import ModelUnavailable

PREFIX = "clip-random"


def is_random_spec(spec: str) -> bool:
    return (spec or "").split(":", 1)[0].strip() == PREFIX


class RandomClipEmbedder(ClipEmbedder):
    """ClipEmbedder with ``pretrained=None``: the same towers, tokenizer and preprocessing."""

    def __init__(self, arch: str = DEFAULT_ARCH, device: str = "auto"):
        import open_clip

        cfg = open_clip.get_model_config(arch)
        if cfg is None:
            raise ModelUnavailable(f"Unknown CLIP architecture '{arch}' (see open_clip.list_models()).")
        info = _model_info(arch, None)
        super().__init__(arch, None, f"{PREFIX}:{arch}", info, device)

    @classmethod
    def from_spec(cls, spec: str, device: str = "auto") -> "RandomClipEmbedder":
        arch = spec.split(":", 1)[1].strip() if ":" in spec else ""
        return cls(arch or DEFAULT_ARCH, device)

    def _build(self):
        import open_clip
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = open_clip.create_model(self.arch, pretrained=None, device="cpu", weights_only=True)
        if "mobileclip" in self.arch.lower():
            from timm.utils.model import reparameterize_model

            model = reparameterize_model(model)
        self._tokenizer = open_clip.get_tokenizer(self.arch)
        return model

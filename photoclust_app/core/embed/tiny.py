"""'tiny-test': a randomly initialised tiny open_clip CLIP, seeded, for fast deterministic tests.

Its names mean nothing, but every code path (image tower, text tower, zero-shot naming)
is the real open_clip one, at a few ms per 64-px image on a CPU.
"""
from __future__ import annotations

from photoclust_app.core.embed.base import ClipLike

SEED = 1234
EMBED_DIM = 32
IMAGE_SIZE = 64
CONTEXT_LENGTH = 16
VISION_CFG = {"image_size": IMAGE_SIZE, "patch_size": 16, "width": 64, "layers": 2, "head_width": 32, "mlp_ratio": 2.0}
TEXT_CFG = {"context_length": CONTEXT_LENGTH, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2,
            "mlp_ratio": 2.0}


class TinyClipEmbedder(ClipLike):
    name = "tiny-test"
    dim = EMBED_DIM
    input_size = IMAGE_SIZE
    mean = (0.48145466, 0.4578275, 0.40821073)
    std = (0.26862954, 0.26130258, 0.27577711)
    channels_last = False

    def __init__(self, device: str = "cpu"):
        # Default CPU, not auto: identical numbers on every machine running the tests.
        super().__init__(device)
        self._tokenizer = None

    def _build(self):
        import torch
        from open_clip.model import CLIP
        from open_clip.tokenizer import SimpleTokenizer

        with torch.random.fork_rng(devices=[]):  # a fixed model without disturbing the caller's RNG
            torch.manual_seed(SEED)
            model = CLIP(embed_dim=EMBED_DIM, vision_cfg=dict(VISION_CFG), text_cfg=dict(TEXT_CFG))
        self._tokenizer = SimpleTokenizer(context_length=CONTEXT_LENGTH)
        return model

    def _forward(self, model, x):
        return model.encode_image(x)

    def _tokenize(self, texts):
        return self._tokenizer(texts)

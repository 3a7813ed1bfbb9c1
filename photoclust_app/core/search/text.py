"""Free text -> ranked rows: CLIP's text tower when the model has one, else the offline
'lite' label vocabulary (labels.py)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from photoclust_app.core.errors import PhotoclustError
from photoclust_app.core.search.labels import LabelScorer, match_query
from photoclust_app.core.search.rank import VectorIndex, top_k

log = logging.getLogger(__name__)

PROMPT = "a photo of {}."
# Scores below these are not matches. lite: softmax probability of the query's classes;
# on oxford_flowers12 "daisy" kept 300 of 960 photos at 0.5 (79 of the 80 daisies; the other
# 221 mostly sunflowers, windflowers and colts-foot, which ImageNet itself calls daisies) and
# 422 at 0.2 (all 80): the ranking, not the threshold, is what separates them. clip: cosine
# of prompt and photo, where matching pairs of published CLIPs sit at ~0.25-0.35 and
# unrelated ones ~0.1-0.18 (not measurable offline: no weights here).
MIN_SCORE = {"lite": 0.5, "clip": 0.2, "tiny-test": -1.0}
# A one-class query scores every photo exactly (one matrix-vector product). With several
# classes an exact pass costs one product per class (cat: 5, car: 13, dog: 118; 100-200 ms
# at 100k photos on a loaded 2-core machine), so one product with the mean class direction
# picks the candidates and only those get their exact best logit.
EXACT_CLASSES = 1
COARSE_CANDIDATES = 4000


class NoLabel(PhotoclustError):
    """The offline vocabulary has no word of the query."""


@dataclass(frozen=True)
class TextRanking:
    rows: np.ndarray     # row numbers into the index, best first
    scores: np.ndarray   # the shown score of each
    mode: str            # "text" (CLIP) or "labels" (lite)
    notice: str | None = None


def default_min_score(model: str) -> float:
    return MIN_SCORE.get((model or "").split(":", 1)[0], MIN_SCORE["clip"])


def has_text_tower(embedder) -> bool:
    return callable(getattr(embedder, "text_features", None))


def rank_text(index: VectorIndex, text: str, embedder, *, limit: int, min_score: float | None = None,
              allowed: np.ndarray | None = None, scorer: LabelScorer | None = None) -> TextRanking:
    """The LIMIT best rows for TEXT scoring at least MIN_SCORE (the model's default when None)."""
    threshold = default_min_score(index.model or embedder.name) if min_score is None else float(min_score)
    if has_text_tower(embedder):
        q = embedder.text_features([PROMPT.format(text.strip())])[0]
        scores = index.cosine(q)
        mask = scores >= threshold
        if allowed is not None:
            mask &= allowed
        rows = top_k(scores, limit, mask)
        return TextRanking(rows, scores[rows], "text")
    if scorer is None:
        scorer = LabelScorer.from_embedder(embedder)
    return rank_labels(index, text, scorer, limit=limit, min_score=threshold, allowed=allowed)


def rank_labels(index: VectorIndex, text: str, scorer: LabelScorer, *, limit: int, min_score: float,
                allowed: np.ndarray | None = None) -> TextRanking:
    m = match_query(text)
    if not m.classes or m.unmatched:
        # All or nothing: ranking "tiger lily" by "tiger" alone, or "lily of the valley" by
        # "valley", put the wrong photos first (measured on oxford_flowers12: 7/20 and 5/20).
        unknown = " ".join(m.unmatched) or text.strip()
        raise NoLabel(f"The offline model knows no label for \u201c{unknown}\u201d "
                      "(it recognises ImageNet's 1,000 subjects; CLIP understands any text).")
    notice = "Search is limited offline: the model matches a fixed list of subjects."
    classes = np.asarray(m.classes)
    vectors = index.vectors
    cand = np.flatnonzero(allowed) if allowed is not None else None
    if len(classes) > EXACT_CLASSES and len(index) > COARSE_CANDIDATES:
        direction = scorer.weight[classes].mean(axis=0)
        coarse = (vectors if cand is None else vectors[cand]) @ direction
        pick = top_k(coarse, COARSE_CANDIDATES)
        cand = pick if cand is None else cand[pick]
    sub = vectors if cand is None else vectors[cand]
    logits = scorer.rank_scores(sub, classes)
    n_prob = min(len(sub), max(limit + limit // 2, 50))  # exact softmax for these only: 1,000 classes each
    best = top_k(logits, n_prob)
    probs = scorer.probabilities(sub[best], classes)
    keep = probs >= min_score
    best, probs = best[keep], probs[keep]
    order = np.lexsort((best, -probs))[:limit]
    rows = best[order] if cand is None else cand[best[order]]
    return TextRanking(rows, probs[order], "labels", notice)

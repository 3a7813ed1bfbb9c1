"""Search by colour: named swatches scored against each photo's Lab histogram.

A swatch's score for a photo is the share of its pixels near the swatch colour: every
histogram bin counts with weight exp(-dE^2 / 2 sigma^2) by the distance from its centre to
the swatch (sigma 22 Lab units: one bin and a half). "Black and white" is the share of
nearly grey pixels (chroma < 8). So "mostly blue" ranks the bluest photos first.
"""
from __future__ import annotations

import re

import numpy as np

from photoclust_app.core.ingest.colour import A_BINS, B_BINS, L_BINS, bin_centres, rgb_to_lab

SIGMA = 22.0
GREY = "black and white"
# name -> sRGB of the swatch shown in the window and scored here
SWATCHES: dict[str, tuple[int, int, int]] = {
    "red": (200, 30, 35), "orange": (240, 130, 30), "yellow": (240, 210, 40), "green": (50, 150, 60),
    "teal": (30, 140, 140), "blue": (40, 80, 200), "purple": (120, 60, 160), "pink": (240, 140, 180),
    "brown": (120, 80, 50), "white": (245, 245, 245), "grey": (128, 128, 128), "black": (15, 15, 15),
}
ALIASES = {"gray": "grey", "violet": "purple", "cyan": "teal", "turquoise": "teal", "b&w": GREY, "bw": GREY,
           "black-and-white": GREY, "monochrome": GREY, "greyscale": GREY, "grayscale": GREY,
           "black and white": GREY, "colour": None}
_JOINT = L_BINS * A_BINS * B_BINS


def colour_name(text: str) -> str | None:
    """The swatch a phrase names ('mostly blue', 'Blue', 'black and white', 'b&w') or None."""
    t = re.sub(r"\s+", " ", (text or "").strip().lower())
    t = re.sub(r"^(mostly|mainly|very|lots of|all) ", "", t)
    t = re.sub(r" (photos?|pictures?|images?|tones?|ones?)$", "", t)
    t = ALIASES.get(t, t) if t in ALIASES else t
    if t == GREY or t in SWATCHES:
        return t
    return None


def swatch_weights(name: str) -> np.ndarray:
    """Per-bin weights (COLOUR_DIM,) whose dot product with a histogram is the score."""
    from photoclust_app.core.ingest.colour import COLOUR_DIM

    w = np.zeros(COLOUR_DIM, dtype=np.float32)
    if name == GREY:
        w[_JOINT] = 1.0  # the chroma < 8 share
        return w
    target = rgb_to_lab(np.asarray(SWATCHES[name], dtype=np.uint8))
    d2 = ((bin_centres() - target) ** 2).sum(axis=1)
    w[:_JOINT] = np.exp(-d2 / (2 * SIGMA ** 2))
    return w


def colour_scores(hists: np.ndarray, name: str) -> np.ndarray:
    """Score of every row of HISTS (n, COLOUR_DIM) for swatch NAME (0..1)."""
    if hists.size == 0:
        return np.zeros(len(hists), dtype=np.float32)
    return hists @ swatch_weights(name)


def dominant_colours(hist: np.ndarray, top: int = 3) -> list[tuple[str, float]]:
    """The swatches that score highest for one histogram (for a 'group by colour' view)."""
    names = list(SWATCHES) + [GREY]
    scores = [(n, float(np.asarray(hist) @ swatch_weights(n))) for n in names]
    return sorted(scores, key=lambda kv: -kv[1])[:top]


def group_by_colour(photo_ids: np.ndarray, hists: np.ndarray) -> dict[str, list[tuple[int, float]]]:
    """Each photo under the swatch it scores highest for; groups largest first, photos in a
    group by score. Photos without a colour (an all-zero histogram) are left out."""
    names = list(SWATCHES) + [GREY]
    if len(hists) == 0:
        return {}
    weights = np.stack([swatch_weights(n) for n in names], axis=1)   # (COLOUR_DIM, k)
    scores = hists @ weights
    best = scores.argmax(axis=1)
    has = hists.sum(axis=1) > 0
    groups: dict[str, list[tuple[int, float]]] = {}
    for k, name in enumerate(names):
        rows = np.flatnonzero((best == k) & has)
        if len(rows):
            rows = rows[np.argsort(-scores[rows, k], kind="stable")]
            groups[name] = [(int(photo_ids[r]), float(scores[r, k])) for r in rows]
    return dict(sorted(groups.items(), key=lambda kv: -len(kv[1])))

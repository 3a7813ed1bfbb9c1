"""Unbalanced photo sets built from labelled folders, the shape of a real library: a few big
themes beside many small groups, plus a handful of outliers.

A recipe picks files (never copies them into the repo: into a temporary folder, as
``class/file``) from ROOT/clothing10 and ROOT/oxford_flowers12 with a fixed seed, so every
run and every machine builds the same set. Outliers are noise images (label "-outliers"):
they resemble each other and no class, and must not be forced into a cluster.

Recipes (sizes drawn per class with numpy's default_rng(1000 + seed)):
  mixfl    3 clothing classes of 300-600 (from t-shirt, longsleeve, pants, shirt) + the 12
           flower classes at 10-40 photos each
  mix      mixfl + the 7 other clothing classes at 10-40
  flmulti  flowers only: 3 classes of 80 + 9 of 10-40
  clmulti  clothing only: 3 classes of 300-600 + 7 of 10-40
"""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import numpy as np

from photoclust_app.core.ingest.scan import is_image_name

RECIPES = ("mixfl", "mix", "flmulti", "clmulti")
OUTLIER_CLASS = "-outliers"
N_OUTLIERS = 6
_BIG_CANDIDATES = ("t-shirt", "longsleeve", "pants", "shirt")


def _classes(folder: Path) -> dict[str, list[Path]]:
    return {d.name: sorted(p for p in d.iterdir() if is_image_name(p.name))
            for d in sorted(folder.iterdir()) if d.is_dir()}


def _take(rng, files: list[Path], k: int) -> list[Path]:
    idx = np.sort(rng.choice(len(files), size=min(k, len(files)), replace=False))
    return [files[i] for i in idx]


def recipe_files(root: str | os.PathLike, recipe: str, seed: int = 0) -> dict[str, list[Path]]:
    """class name -> source files for RECIPE (class names prefixed by their set)."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown composite {recipe!r}; choose from {', '.join(RECIPES)}")
    root = Path(root)
    rng = np.random.default_rng(1000 + seed)
    out: dict[str, list[Path]] = {}
    if recipe in ("mixfl", "mix", "clmulti"):
        clothing = _classes(root / "clothing10")
        names = list(clothing)
        cand = [n for n in _BIG_CANDIDATES if n in clothing]
        big = set(rng.choice(cand, 3, replace=False).tolist())
        for name in names:
            files = clothing[name]
            k = int(rng.integers(300, min(600, len(files)) + 1)) if name in big else int(rng.integers(10, 41))
            chosen = _take(rng, files, k)
            if recipe != "mixfl" or name in big:
                out[f"clothing-{name}"] = chosen
    if recipe in ("mixfl", "mix", "flmulti"):
        flowers = _classes(root / "oxford_flowers12")
        big = set(rng.choice(len(flowers), 3, replace=False).tolist()) if recipe == "flmulti" else set()
        for i, (name, files) in enumerate(flowers.items()):
            k = 80 if i in big else int(rng.integers(10, 41))
            out[f"flower-{name}"] = _take(rng, files, k)
    return out


def build_composite(root: str | os.PathLike, recipe: str, dest: str | os.PathLike, seed: int = 0) -> dict[str, int]:
    """Lay RECIPE out under DEST as class/file (hard links where the filesystem allows, else
    copies) plus the outlier images; returns class -> count."""
    from PIL import Image

    dest = Path(dest)
    counts = {}
    for name, files in recipe_files(root, recipe, seed).items():
        (dest / name).mkdir(parents=True, exist_ok=True)
        for f in files:
            target = dest / name / f.name
            try:
                os.link(f, target)
            except OSError:
                shutil.copyfile(f, target)
        counts[name] = len(files)
    rng = np.random.default_rng(seed)
    (dest / OUTLIER_CLASS).mkdir(parents=True, exist_ok=True)
    for i in range(N_OUTLIERS):  # smooth noise textures: like each other, like no class
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((256, 256), Image.BICUBIC).save(dest / OUTLIER_CLASS / f"noise{i}.jpg",
                                                                       quality=85)
    counts[OUTLIER_CLASS] = N_OUTLIERS
    return counts


@contextlib.contextmanager
def indexed_library(dataset, *, composite: str | None = None, composite_seed: int = 0, model: str = "clip",
                    device: str = "auto", prefix: str = "photoclust-bench-", progress=None):
    """A labelled set (one subfolder per class; with COMPOSITE, built from the shared sets under
    DATASET) indexed into a temporary library, the dataset folder never written to; yields
    (library, index report). The benches of quality and learning both start here."""
    import tempfile

    from photoclust_app.core.ingest.index import index_folder
    from photoclust_app.core.store.library import Library

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        folder = Path(dataset)
        if composite:
            folder = Path(tmp) / composite
            build_composite(dataset, composite, folder, seed=composite_seed)
        lib = Library.open(folder, location=Path(tmp) / "library.sqlite")
        try:
            yield lib, index_folder(folder, model=model, device=device, library=lib, progress=progress)
        finally:
            lib.close()

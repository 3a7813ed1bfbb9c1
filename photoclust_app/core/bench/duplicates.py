"""`bench duplicates`: plant copies of real photos, find them, score photoclust and a peer.

For N originals drawn from the labelled sets in ../shared/data (one subfolder per class),
each transformation in TRANSFORMS writes one copy into copies/<transformation>/; N more
photos of the same classes are added untouched as hard negatives (same class, different
photo). Truth: an original and its copies are one group. Scores are over pairs: recall of a
transformation = share of (original, copy) pairs put in one group; its precision = share
of predicted pairs holding such a copy that are true; overall = all pairs of the set.
photoclust: `index` (lite, CPU) into a temporary library, then find_duplicates (identical +
near). The peer: imagededup's PHash (max distance 10, its default), run in the Python named
by --peer-python / $PHOTOCLUST_PEER_PYTHON (a separate environment: imagededup is not a
dependency of photoclust), or in this process when importable; otherwise our own pHash of
the file's pixels, and the result says so. Also times find_duplicates over SCALE_N stored
synthetic embeddings (clustered, with planted near pairs) in a real library file.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from photoclust_app.core.errors import PhotoclustError
from photoclust_app.core.progress import ProgressFn, no_progress

IMAGE_EXT = {".jpg", ".jpeg", ".png"}


def _save_jpeg(im, path: Path, quality: int = 92, **kw) -> None:
    im.convert("RGB").save(path, "JPEG", quality=quality, **kw)


def _resize(f):
    def run(im, path):
        from PIL import Image
        w, h = im.size
        _save_jpeg(im.resize((max(8, round(w * f)), max(8, round(h * f))), Image.Resampling.LANCZOS), path)
    return run


def _crop(im, path):
    w, h = im.size
    dx, dy = round(w * 0.025), round(h * 0.025)
    _save_jpeg(im.crop((dx, dy, w - dx, h - dy)), path)


def _bright(im, path):
    from PIL import ImageEnhance
    _save_jpeg(ImageEnhance.Brightness(im).enhance(1.10), path)


def _rotate_exif(im, path):
    from PIL import Image
    exif = Image.Exif()
    exif[0x0112] = 6     # displays rotated 90 degrees clockwise: store the pixels the other way
    _save_jpeg(im.transpose(Image.Transpose.ROTATE_90), path, exif=exif.tobytes())


def _watermark(im, path):
    from PIL import ImageDraw, ImageFont
    im = im.convert("RGB").copy()
    d = ImageDraw.Draw(im)
    size = max(10, im.height // 12)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:
        font = ImageFont.load_default()
    text = "(c) photoclust 2026"
    x0, y0, x1, y1 = d.textbbox((0, 0), text, font=font)
    x, y = im.width - (x1 - x0) - size // 2, im.height - (y1 - y0) - size // 2
    d.text((x + 1, y + 1), text, fill=(0, 0, 0), font=font)
    d.text((x, y), text, fill=(255, 255, 255), font=font)
    _save_jpeg(im, path)


def _heic(im, path):
    from pillow_heif import register_heif_opener
    register_heif_opener()
    im.convert("RGB").save(path, "HEIF", quality=80)


def _heic_available() -> bool:
    try:
        import pillow_heif  # noqa: F401
        return True
    except ImportError:
        return False


# name -> (file extension, writer(PIL image, path)); "byte_copy" copies the file itself.
TRANSFORMS = {
    "byte_copy": (None, None),
    "resize_50": (".jpg", _resize(0.5)),
    "resize_25": (".jpg", _resize(0.25)),
    "jpeg_q60": (".jpg", lambda im, p: _save_jpeg(im, p, quality=60)),
    "crop_5pct": (".jpg", _crop),
    "brightness_10": (".jpg", _bright),
    "png_resave": (".png", lambda im, p: im.convert("RGB").save(p, "PNG")),
    "heic_resave": (".heic", _heic),
    "rotate90_exif": (".jpg", _rotate_exif),
    "watermark": (".jpg", _watermark),
}


def default_datasets() -> list[Path]:
    root = Path(__file__).resolve().parents[3].parent / "shared" / "data"
    return [p for p in (root / "oxford_flowers12", root / "clothing10") if p.is_dir()]


def _photos_by_class(datasets: list[Path]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for ds in datasets:
        for cls in sorted(p for p in ds.iterdir() if p.is_dir()):
            files = sorted(p for p in cls.iterdir() if p.suffix.lower() in IMAGE_EXT)
            if files:
                out[f"{ds.name}/{cls.name}"] = files
    return out


def plant(datasets: list[Path], out: Path, n: int, seed: int = 0, transforms: list[str] | None = None
          ) -> tuple[dict[str, tuple[int, str]], list[str]]:
    """Write the labelled set under OUT. Returns (relpath -> (true group, transformation or
    'original' / 'negative'), the transformations planted)."""
    from PIL import Image

    names = [t for t in (transforms or TRANSFORMS) if t != "heic_resave" or _heic_available()]
    classes = _photos_by_class(datasets)
    if not classes:
        raise PhotoclustError("No labelled photos found (expected ../shared/data/oxford_flowers12 or clothing10).")
    rng = random.Random(seed)
    keys = sorted(classes)
    pool = {k: rng.sample(v, len(v)) for k, v in classes.items()}
    truth: dict[str, tuple[int, str]] = {}
    picks = []
    for i in range(2 * n):        # originals and negatives drawn round-robin over the classes
        k = keys[i % len(keys)]
        if pool[k]:
            picks.append((k, pool[k].pop()))
    originals, negatives = picks[0::2][:n], picks[1::2][:n]
    base = 1_000_000
    for g, (k, src) in enumerate(originals):
        stem = f"{k.replace('/', '_')}_{src.stem}"
        rel = f"originals/{k}/{src.name}"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out / rel)
        os.utime(out / rel, ns=(1_600_000_000 * 10**9, 1_600_000_000 * 10**9))
        truth[rel] = (g, "original")
        with Image.open(src) as im:
            im.load()
            for t in names:
                ext, fn = TRANSFORMS[t]
                crel = f"copies/{t}/{stem}{ext or src.suffix}"
                (out / crel).parent.mkdir(parents=True, exist_ok=True)
                if fn is None:
                    shutil.copyfile(src, out / crel)
                else:
                    fn(im, out / crel)
                truth[crel] = (g, t)
    for g, (k, src) in enumerate(negatives):
        rel = f"negatives/{k}/{src.name}"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out / rel)
        truth[rel] = (base + g, "negative")
    return truth, names


def _pairs(groups: list[set[str]]) -> set[tuple[str, str]]:
    out = set()
    for g in groups:
        m = sorted(g)
        out.update((a, b) for i, a in enumerate(m) for b in m[i + 1:])
    return out


def score(truth: dict[str, tuple[int, str]], groups: list[set[str]], names: list[str]) -> dict:
    """Pairwise precision / recall overall and per transformation (see the module doc)."""
    groups = [{p for p in g if p in truth} for g in groups]
    pred = _pairs([g for g in groups if len(g) > 1])
    by_group: dict[int, list[str]] = {}
    for p, (g, _) in truth.items():
        by_group.setdefault(g, []).append(p)
    true = _pairs([set(v) for v in by_group.values()])
    tp = len(pred & true)
    out = {"precision": round(tp / len(pred), 4) if pred else 1.0, "recall": round(tp / len(true), 4) if true else 1.0,
           "true_pairs": len(true), "predicted_pairs": len(pred), "by_transform": {}}
    for t in names:
        copies = {p for p, (_, tt) in truth.items() if tt == t}
        orig = {truth[p][0]: p for p, (_, tt) in truth.items() if tt == "original"}
        want = {tuple(sorted((orig[truth[c][0]], c))) for c in copies}
        got = {pr for pr in pred if pr[0] in copies or pr[1] in copies}
        out["by_transform"][t] = {
            "recall": round(len(want & pred) / len(want), 4) if want else 1.0,
            "precision": round(len(got & true) / len(got), 4) if got else 1.0}
    neg = {p for p, (_, tt) in truth.items() if tt == "negative"}
    out["negatives_wrongly_grouped"] = len({p for pr in pred - true for p in pr if p in neg})
    return out


def photoclust_groups(folder: Path, model: str = "lite", progress: ProgressFn = no_progress) -> tuple[list[set[str]], dict]:
    from photoclust_app.core.dedupe import Settings, find_duplicates
    from photoclust_app.core.embed import create_embedder
    from photoclust_app.core.ingest.index import index_folder
    from photoclust_app.core.store.library import Library

    lib_dir = Path(tempfile.mkdtemp(prefix="photoclust-dupes-lib-"))
    try:
        t0 = time.perf_counter()
        embedder = create_embedder(model, "cpu")
        with Library.open(folder, location=lib_dir / "library.sqlite") as lib:
            index_folder(folder, embedder=embedder, library=lib, progress=progress)
            t1 = time.perf_counter()
            groups = find_duplicates(lib, Settings(kinds=("identical", "near")))
            keepers = {g.members[0].relpath for g in groups}
        t2 = time.perf_counter()
    finally:
        shutil.rmtree(lib_dir, ignore_errors=True)
    return [{m.relpath for m in g.members} for g in groups], {
        "index_seconds": round(t1 - t0, 2), "find_seconds": round(t2 - t1, 2), "keepers": sorted(keepers)}


_PEER_SCRIPT = r"""
import json, sys
try:
    from pillow_heif import register_heif_opener
    register_heif_opener()
except Exception:
    pass
from imagededup.methods import PHash
import imagededup
d = PHash(verbose=False).find_duplicates(image_dir=sys.argv[1], max_distance_threshold=10, recursive=True)
print(json.dumps({"version": imagededup.__version__, "dups": d}))
"""


def peer_groups(folder: Path, peer_python: str | None = None) -> tuple[list[set[str]], str]:
    """(groups, what ran) for imagededup PHash, or our own pHash when it is not there."""
    peer_python = peer_python or os.environ.get("PHOTOCLUST_PEER_PYTHON")
    exe = None
    if peer_python:
        exe = peer_python
    else:
        try:
            import imagededup  # noqa: F401
            exe = sys.executable
        except ImportError:
            exe = None
    if exe:
        r = subprocess.run([exe, "-c", _PEER_SCRIPT, str(folder)], capture_output=True, text=True, timeout=1800)
        if r.returncode == 0:
            data = json.loads(r.stdout.strip().splitlines()[-1])
            u = _UF()
            for a, bs in data["dups"].items():
                for b in bs:
                    u.join(a, b)
            return u.sets(), f"imagededup {data['version']} PHash (max distance 10)"
        note = f"imagededup failed ({r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode})"
    else:
        note = "imagededup is not installed"
    return _own_phash_groups(folder), f"own pHash (hamming <= 10); {note}"


class _UF:
    def __init__(self):
        self.p: dict[str, str] = {}

    def find(self, a):
        self.p.setdefault(a, a)
        while self.p[a] != a:
            self.p[a] = self.p[self.p[a]]
            a = self.p[a]
        return a

    def join(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[ra] = rb

    def sets(self):
        out: dict[str, set] = {}
        for a in list(self.p):
            out.setdefault(self.find(a), set()).add(a)
        return [s for s in out.values() if len(s) > 1]


def _own_phash_groups(folder: Path) -> list[set[str]]:
    from PIL import Image

    from photoclust_app.core.dedupe.hashes import phash_of

    hashes = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            try:
                with Image.open(p) as im:
                    hashes[p.relative_to(folder).as_posix()] = phash_of(np.asarray(im.convert("L"), dtype=np.float32))
            except Exception:
                continue
    names = list(hashes)
    u = _UF()
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if (hashes[a] ^ hashes[b]).bit_count() <= 10:
                u.join(a, b)
    return u.sets()


def bench_scale(n: int = 100_000, dim: int = 512, pairs: int = 1000, seed: int = 0) -> dict:
    """find_duplicates over N stored embeddings (a real library file): clustered synthetic
    vectors (1000 centres, spread like photos of one subject) with PAIRS planted near
    copies (cosine ~0.97); reports seconds and how many planted pairs were found."""
    from photoclust_app.core.dedupe import Settings, find_duplicates
    from photoclust_app.core.records import PhotoMeta, PhotoRecord
    from photoclust_app.core.store.library import IndexedPhoto, Library

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, dim)).astype(np.float32)
    lab = rng.integers(0, 1000, n)
    vecs = centres[lab] + 0.9 * rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    planted = rng.choice(n - 1, size=pairs, replace=False)
    planted = planted[np.argsort(planted)]
    planted = planted[np.concatenate([[True], np.diff(planted) > 1])]   # disjoint (i, i+1) pairs
    for i in planted:
        v = vecs[i] + 0.25 * rng.standard_normal(dim).astype(np.float32) / np.sqrt(dim)
        vecs[i + 1] = v / np.linalg.norm(v)
    tmp = Path(tempfile.mkdtemp(prefix="photoclust-dupes-scale-"))
    try:
        (tmp / "photos").mkdir()
        loc = tmp / "library.sqlite"
        with Library.open(tmp / "photos", location=loc) as lib:
            lib.set_meta("model", "clip")
            batch = []
            for i in range(n):
                batch.append(IndexedPhoto(PhotoRecord(f"p{i:06d}.jpg", 1000 + i, i), f"q{i}",
                                          PhotoMeta(4000, 3000), b"", vecs[i]))
                if len(batch) == 5000:
                    lib.add_photos(batch, "clip")
                    batch = []
            if batch:
                lib.add_photos(batch, "clip")
            # the thumbnails' pHashes as a first run leaves them cached: random, a planted copy's
            # within 2 bits of its original's
            codes = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64) * np.uint64(2)
            codes[planted + 1] = codes[planted] ^ np.uint64(0b11)
            from photoclust_app.core.store.duplicates import Facts
            lib.set_photo_facts((i + 1, 1000 + i, i, Facts(None, f"{int(codes[i]):016x}", 100.0)) for i in range(n))
        with Library.open(tmp / "photos", location=loc) as lib:
            sims = np.einsum("ij,ij->i", vecs[planted], vecs[planted + 1])
            runs = []
            for _ in range(2):     # the first run pays BLAS warm-up and page faults
                t0, c0 = time.perf_counter(), time.process_time()
                groups = find_duplicates(lib, Settings(kinds=("identical", "near")), cache=False)
                runs.append((time.perf_counter() - t0, time.process_time() - c0))
            seconds = runs[0][0]
        found = {tuple(sorted(m.id for m in g.members)) for g in groups}
        ids_planted = {(int(i) + 1, int(i) + 2) for i in planted}   # photo ids are 1-based
        return {"n": n, "dim": dim, "seconds": round(seconds, 2), "cpu_seconds": round(runs[0][1], 2),
                "seconds_second_run": round(runs[1][0], 2), "planted_pairs": len(ids_planted),
                "planted_cosine_min": round(float(sims.min()), 3), "planted_found": len(ids_planted & found),
                "groups": len(groups)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_duplicates(n: int = 60, *, seed: int = 0, peer_python: str | None = None, scale_n: int = 100_000,
                     scale_dim: int = 512, datasets: list[Path] | None = None, keep: Path | None = None,
                     progress: ProgressFn | None = None) -> dict:
    progress = progress or no_progress
    datasets = datasets or default_datasets()
    work = Path(tempfile.mkdtemp(prefix="photoclust-dupes-"))
    folder = keep or work / "set"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        truth, names = plant(datasets, folder, n, seed)
        ours, extra = photoclust_groups(folder, progress=progress)
        result = score(truth, ours, names)
        keepers = extra.pop("keepers")
        originals_kept = sum(1 for k in keepers if truth.get(k, (0, ""))[1] == "original")
        result.update(extra)
        result["keeper_is_original"] = f"{originals_kept}/{len(keepers)} groups"
        t0 = time.perf_counter()
        peer, peer_name = peer_groups(folder, peer_python)
        result["peer"] = {"name": peer_name, **score(truth, peer, names), "seconds": round(time.perf_counter() - t0, 2)}
        result["originals"], result["copies"] = n, sum(1 for _, t in truth.values() if t not in ("original", "negative"))
        result["hard_negatives"] = sum(1 for _, t in truth.values() if t == "negative")
        if "heic_resave" not in names:
            result["note"] = "pillow-heif is not installed: no HEIC copies planted"
        if scale_n:
            result["scale"] = bench_scale(scale_n, scale_dim)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def format_table(r: dict) -> str:
    """The result as the table the issue asks for: per transformation, photoclust vs the peer."""
    peer = r["peer"]
    lines = [f"{r['originals']} originals, {r['copies']} planted copies, {r['hard_negatives']} hard negatives; "
             f"peer: {peer['name']}",
             f"{'transformation':16s} {'photoclust P':>12s} {'R':>6s}   {'peer P':>7s} {'R':>6s}"]
    for t, v in r["by_transform"].items():
        p = peer["by_transform"].get(t, {})
        lines.append(f"{t:16s} {v['precision']:12.3f} {v['recall']:6.3f}   {p.get('precision', 0):7.3f} "
                     f"{p.get('recall', 0):6.3f}")
    lines.append(f"{'overall (pairs)':16s} {r['precision']:12.3f} {r['recall']:6.3f}   {peer['precision']:7.3f} "
                 f"{peer['recall']:6.3f}")
    lines.append(f"hard negatives wrongly grouped: photoclust {r['negatives_wrongly_grouped']}, "
                 f"peer {peer['negatives_wrongly_grouped']}; keeper is the original in {r['keeper_is_original']}")
    lines.append(f"photoclust index {r['index_seconds']} s + find {r['find_seconds']} s; peer {peer['seconds']} s")
    if "scale" in r:
        s = r["scale"]
        lines.append(f"find among {s['n']} stored {s['dim']}-d embeddings: {s['seconds']} s wall "
                     f"({s['cpu_seconds']} s CPU; second run {s['seconds_second_run']} s) "
                     f"({s['planted_found']}/{s['planted_pairs']} planted pairs found)")
    if r.get("note"):
        lines.append(r["note"])
    return "\n".join(lines)

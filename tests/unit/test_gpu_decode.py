"""The indexer's GPU JPEG path (core/ingest/gpu_decode.py) without a GPU: the real tensor code
on CPU tensors, torchvision's CPU JPEG decoder standing in for nvJPEG, and a stand-in that
fails for chosen files. Selection must never touch CUDA on a CPU-only machine, and every
file the GPU refuses must get exactly the CPU pool's answer."""
import importlib.util

import numpy as np
import pytest

from photoclust_app.core.ingest import gpu_decode
from photoclust_app.core.ingest.decode import decode_photo
from photoclust_app.core.ingest.decode_pool import DecodeJob, DecodePool

S, THUMB = 64, 96


def test_never_selected_for_a_cpu_or_mps_embedder(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda *a, **k: pytest.fail("looked for torchvision"))
    assert not gpu_decode.wanted("cpu") and not gpu_decode.wanted("mps") and not gpu_decode.wanted("")


def test_selected_for_cuda_unless_switched_off(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "torchvision" else None)
    monkeypatch.delenv("PHOTOCLUST_GPU_DECODE", raising=False)
    assert gpu_decode.wanted("cuda") and gpu_decode.wanted("cuda:1")
    monkeypatch.setenv("PHOTOCLUST_GPU_DECODE", "0")
    assert not gpu_decode.wanted("cuda")


def test_a_cpu_index_never_builds_the_gpu_decoder(photo_folder, monkeypatch):
    from photoclust_app.core.ingest.index import index_folder

    monkeypatch.setattr(gpu_decode.GpuJpegDecoder, "__init__", lambda *a, **k: pytest.fail("GPU decoder built"))
    report = index_folder(photo_folder, model="tiny-test", device="cpu", workers=0)
    assert report.embedded == 30


def test_the_gpu_orientation_matches_pillows_exif_transpose():
    import torch
    from PIL import Image, ImageOps

    a = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    for o in range(1, 9):
        im = Image.fromarray(a)
        exif = im.getexif()
        exif[0x0112] = o
        im.info["exif"] = exif.tobytes()
        want = np.asarray(ImageOps.exif_transpose(im))
        got = gpu_decode.orient(torch.from_numpy(a).permute(2, 0, 1), o).permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(got, want, err_msg=f"orientation {o}")


def cpu_decode_jpeg(fail_sizes=()):
    """torchvision's CPU decoder in nvJPEG's place; batches holding a file of a size in
    FAIL_SIZES raise, as nvJPEG does on a file it cannot take."""
    from torchvision.io import ImageReadMode, decode_jpeg

    calls = []

    def decode(datas, device):
        calls.append(len(datas))
        if any(len(d) in fail_sizes for d in datas):
            raise RuntimeError("nvjpeg: unsupported")
        return [decode_jpeg(d, mode=ImageReadMode.RGB) for d in datas]

    return decode, calls


@pytest.fixture
def mixed(tmp_path, make_photo):
    f = tmp_path / "mixed"
    make_photo(f / "a_upright.jpg", (320, 240), exif_datetime="2021:07:14 18:03:59", camera=("Canon", "Canon EOS 5D"))
    for o in (3, 5, 6, 8):
        make_photo(f / f"b_rot{o}.jpg", (320, 240), orientation=o)
    make_photo(f / "c_grey.jpg", (200, 300), mode="L")
    make_photo(f / "d_cmyk.jpg", (320, 240), mode="CMYK")
    make_photo(f / "e_photo.png", (320, 240))
    make_photo(f / "f_refused.jpg", (300, 300), seed=5)
    good = (f / "a_upright.jpg").read_bytes()
    (f / "g_truncated.jpg").write_bytes(good[: len(good) // 2])
    (f / "h_empty.jpg").write_bytes(b"")
    return f


def run(folder, decoder):
    files = sorted(p for p in folder.iterdir())
    jobs = [DecodeJob(str(p), p.name, S, THUMB) for p in files]
    with DecodePool(0) as pool, gpu_decode.decode_results(jobs, "cuda", pool, batch=4, decoder=decoder) as results:
        out = {r.relpath: r for r in results}
    return files, out


def test_each_file_gets_the_gpu_answer_or_exactly_the_cpu_pools(mixed):
    fail_size = (mixed / "f_refused.jpg").stat().st_size
    decode, calls = cpu_decode_jpeg(fail_sizes={fail_size})
    decoder = gpu_decode.GpuJpegDecoder("cpu", decode_jpeg=decode)
    files, out = run(mixed, decoder)
    assert sorted(out) == [p.name for p in files]
    on_cpu = {"d_cmyk.jpg", "e_photo.png", "f_refused.jpg", "g_truncated.jpg", "h_empty.jpg"}
    for p in files:
        r = out[p.name]
        if p.name in on_cpu:  # the CPU pool's own answer, to the byte
            try:
                want = decode_photo(p, S, THUMB)
            except Exception as err:
                assert r.decoded is None and r.reason == str(err)
            else:
                assert np.array_equal(r.decoded.pixels, want.pixels) and r.decoded.thumbnail == want.thumbnail
            continue
        want = decode_photo(p, S, THUMB)
        assert r.decoded.meta == want.meta, p.name
        assert r.decoded.pixels.shape == (S, S, 3) and r.decoded.pixels.dtype == np.uint8
        # a full decode + bicubic on tensors vs libjpeg's scaled decode + Pillow: close, not equal
        assert np.abs(r.decoded.pixels.astype(int) - want.pixels.astype(int)).mean() < 6, p.name
        assert r.decoded.thumbnail[:2] == b"\xff\xd8" and r.decoded.colour.shape == want.colour.shape
        assert r.record.size == p.stat().st_size and r.quick_hash
    assert out["a_upright.jpg"].decoded.meta.taken_at == "2021-07-14T18:03:59"
    assert out["g_truncated.jpg"].reason and out["h_empty.jpg"].reason == "empty file (0 bytes)"
    assert max(calls) > 1  # batched, and the failing batch was retried file by file
    assert calls.count(1) >= 1


def test_rotated_photos_come_out_upright(mixed):
    decode, _ = cpu_decode_jpeg()
    _, out = run(mixed, gpu_decode.GpuJpegDecoder("cpu", decode_jpeg=decode))
    for name in ("a_upright.jpg", "b_rot3.jpg", "b_rot5.jpg", "b_rot6.jpg", "b_rot8.jpg"):
        px = out[name].decoded.pixels.astype(int).sum(axis=2)
        assert out[name].decoded.meta.width == 320 and out[name].decoded.meta.height == 240
        # the centre crop of the upright photo keeps the white marker top-left, the black top-right
        assert px[:8, :8].mean() > 600 and px[:8, -8:].mean() < 150, name


@pytest.mark.parametrize("how", ["every file fails", "the decoder dies"])
def test_a_failing_gpu_decoder_hands_every_file_to_the_cpu(mixed, how, monkeypatch):
    def dead(datas, device):
        raise RuntimeError("CUDA error: an illegal memory access")

    decoder = gpu_decode.GpuJpegDecoder("cpu", decode_jpeg=dead)
    if how == "the decoder dies":
        monkeypatch.setattr(decoder, "decode", lambda items: dead(items, "cpu"))
    files, out = run(mixed, decoder)
    assert sorted(out) == [p.name for p in files]
    for p in files:
        if out[p.name].decoded is not None:
            assert np.array_equal(out[p.name].decoded.pixels, decode_photo(p, S, THUMB).pixels)
    assert sum(r.decoded is not None for r in out.values()) == len(files) - 2  # all but truncated and empty


def test_leaving_early_stops_the_decode_threads(mixed):
    import threading

    decode, _ = cpu_decode_jpeg()
    jobs = [DecodeJob(str(p), p.name, S, THUMB) for p in sorted(mixed.iterdir())] * 20
    with DecodePool(0) as pool:
        with gpu_decode.decode_results(jobs, "cuda", pool, batch=2,
                                       decoder=gpu_decode.GpuJpegDecoder("cpu", decode_jpeg=decode)) as results:
            next(results)
    assert not [t for t in threading.enumerate() if t.name.startswith("gpu-decode")]

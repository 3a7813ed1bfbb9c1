"""Fuzzing the decode path: random and mutated image bytes never crash it.

A seed corpus of valid JPEG/PNG/GIF/TIFF/WebP/BMP/PPM files is made in code, then mutated
by hypothesis (bit flips, overwrites, truncation, splices, inserted and repeated runs,
header fields declaring huge or zero sizes, PNG chunks with their CRCs recomputed so the
mutation reaches the decoder). Every input must either decode to a well-formed result or
raise UnreadableImage with a one-line reason, within a bounded time, both in memory
(decode_bytes) and through the worker's file path (decode_for_worker, which never raises).
Derandomized, so CI runs the same 200 + 60 examples every time.
"""
import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from hostile import (animated_gif, cmyk_jpeg, jpeg_with_orientation, multipage_tiff, noisy,
                     palette_png_with_transparency, png16)
from photoclust_app.core.ingest.decode import decode_bytes
from photoclust_app.core.ingest.decode_pool import DecodeJob, decode_for_worker
from photoclust_app.core.errors import UnreadableImage

S = 32  # model input and thumbnail size: small, so each example is cheap


def _enc(im, fmt, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _corpus() -> list[bytes]:
    small = noisy((48, 36), seed=1, sigma=30)
    return [
        _enc(small, "JPEG", quality=85),
        _enc(small, "JPEG", quality=85, progressive=True),
        _enc(small.convert("L"), "JPEG"),
        jpeg_with_orientation(6, size=(48, 36)),
        cmyk_jpeg(),
        _enc(small, "PNG"),
        _enc(small.convert("RGBA"), "PNG"),
        palette_png_with_transparency(),
        png16(),
        animated_gif(),
        multipage_tiff(),
        _enc(small, "TIFF", compression="tiff_lzw"),
        _enc(small, "WEBP", quality=80),
        _enc(small, "WEBP", lossless=True),
        _enc(small, "BMP"),
        _enc(small, "PPM"),
    ]


CORPUS = _corpus()


def fix_png_crcs(data: bytes) -> bytes:
    """Recompute every chunk CRC of a PNG, so mutated chunk data reaches the decoder."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    out, i = bytearray(data[:8]), 8
    while i + 8 <= len(data):
        (n,) = struct.unpack(">I", data[i:i + 4])
        kind, body = data[i + 4:i + 8], data[i + 8:i + 8 + n]
        if len(body) < n or i + 12 + n > len(data):
            out += data[i:]  # truncated chunk: keep as is
            break
        out += data[i:i + 8 + n] + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        i += 12 + n
    return bytes(out)


def declare_size(data: bytes, w: int, h: int) -> bytes:
    """Rewrite the size a file's header declares (PNG IHDR, JPEG SOF, GIF screen and frame,
    BMP header); other formats are returned unchanged."""
    b = bytearray(data)
    if b.startswith(b"\x89PNG") and len(b) >= 24:
        struct.pack_into(">II", b, 16, w & 0xFFFFFFFF, h & 0xFFFFFFFF)
        return fix_png_crcs(bytes(b))
    if b.startswith(b"\xff\xd8"):
        for marker in (b"\xff\xc0", b"\xff\xc2", b"\xff\xc1"):
            i = b.find(marker)
            if 0 <= i <= len(b) - 9:
                struct.pack_into(">HH", b, i + 5, h & 0xFFFF, w & 0xFFFF)
                return bytes(b)
    if b.startswith(b"GIF") and len(b) >= 10:
        struct.pack_into("<HH", b, 6, w & 0xFFFF, h & 0xFFFF)
        i = b.find(b"\x2c", 13)
        if i >= 0 and i + 9 <= len(b):
            struct.pack_into("<HH", b, i + 5, w & 0xFFFF, h & 0xFFFF)
        return bytes(b)
    if b.startswith(b"BM") and len(b) >= 26:
        struct.pack_into("<II", b, 18, w & 0xFFFFFFFF, h & 0xFFFFFFFF)
    return bytes(b)


SIZES = st.sampled_from([0, 1, 7, 255, 256, 4096, 16383, 30000, 65535, 65536, 100000, 2**31 - 1, 2**32 - 1])


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "overwrite", "truncate", "splice", "insert", "repeat", "size", "crc"]))
        n = len(data)
        if n == 0:
            break
        if op == "flip":
            for pos in draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=16)):
                data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "overwrite":
            pos = draw(st.integers(0, n - 1))
            chunk = draw(st.binary(min_size=1, max_size=16))
            data[pos:pos + len(chunk)] = chunk
        elif op == "truncate":
            del data[draw(st.integers(0, n - 1)):]
        elif op == "splice":
            other = draw(st.sampled_from(CORPUS))
            data = data[:draw(st.integers(0, n))] + other[draw(st.integers(0, len(other))):]
        elif op == "insert":
            pos = draw(st.integers(0, n))
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "repeat":
            a = draw(st.integers(0, n - 1))
            b = draw(st.integers(a, min(n, a + 256)))
            data[b:b] = data[a:b] * draw(st.integers(1, 8))
        elif op == "size":
            data = bytearray(declare_size(bytes(data), draw(SIZES), draw(SIZES)))
        elif op == "crc":
            data = bytearray(fix_png_crcs(bytes(data)))
    return bytes(data)


INPUTS = st.one_of(mutated(), mutated().map(fix_png_crcs), st.binary(max_size=2048))
SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


def _check_decoded(d) -> None:
    assert d.pixels.shape == (S, S, 3) and d.pixels.dtype == np.uint8
    assert d.meta.width > 0 and d.meta.height > 0 and 1 <= d.meta.orientation <= 8
    with Image.open(io.BytesIO(d.thumbnail)) as im:
        assert im.format == "JPEG" and max(im.size) <= S


def test_corpus_decodes():
    """The seeds themselves are good photos, so mutations start from deep inside the decoders."""
    for data in CORPUS:
        _check_decoded(decode_bytes(data, S, S))


@settings(max_examples=200, **SETTINGS)
@given(INPUTS)
def test_decode_bytes_never_crashes(data):
    try:
        d = decode_bytes(data, S, S)
    except UnreadableImage as err:
        reason = str(err)
        assert reason and "\n" not in reason and len(reason) <= 200, repr(reason)
    else:
        _check_decoded(d)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=60, **SETTINGS)
@given(data=INPUTS)
def test_worker_decode_from_file_never_raises(fuzz_dir, data):
    path = fuzz_dir / "input.jpg"
    path.write_bytes(data)
    res = decode_for_worker(DecodeJob(str(path), "input.jpg", S, S))
    assert (res.decoded is None) != (res.reason is None)
    if res.decoded is not None:
        _check_decoded(res.decoded)
        assert res.record is not None and res.record.size == len(data) and res.quick_hash
    else:
        assert "\n" not in res.reason and len(res.reason) <= 200

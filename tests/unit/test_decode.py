"""decode_photo: every format/mode, EXIF orientation, meta, thumbnails, typed errors, bombs."""
import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from photoclust_app.core.ingest import decode
from photoclust_app.core.ingest.decode import MAX_PIXELS, decode_bytes, decode_photo
from photoclust_app.core.errors import UnreadableImage


def layout(rgb: np.ndarray) -> tuple[float, float, float, float]:
    """Mean brightness near the four corners: (top-left, top-right, bottom-left, bottom-right)."""
    h, w = rgb.shape[:2]
    dy, dx = max(1, h // 12), max(1, w // 12)
    a = rgb.astype(float)
    return (a[dy:2 * dy, dx:2 * dx].mean(), a[dy:2 * dy, -2 * dx:-dx].mean(),
            a[-2 * dy:-dy, dx:2 * dx].mean(), a[-2 * dy:-dy, -2 * dx:-dx].mean())


def assert_upright(rgb: np.ndarray) -> None:
    """make_photo's marker layout: white top-left, black top-right, coloured bottom."""
    tl, tr, bl, br = layout(rgb)
    assert tl > 230, f"top-left should be white: {tl:.0f}"
    assert tr < 25, f"top-right should be black: {tr:.0f}"
    assert 40 < bl < 200 and 40 < br < 200, f"bottom should be the ground colour: {bl:.0f} {br:.0f}"


def thumb_array(dec) -> np.ndarray:
    with Image.open(io.BytesIO(dec.thumbnail)) as im:
        assert im.format == "JPEG"
        return np.asarray(im.convert("RGB"))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_upright_pixels_thumbnail_and_size(tmp_path, make_photo, orientation):
    p = make_photo(tmp_path / "o.jpg", size=(640, 480), orientation=orientation)
    with Image.open(p) as raw:  # stored rotated for 5-8: the tag really matters
        assert raw.size == ((480, 640) if orientation >= 5 else (640, 480))
    dec = decode_photo(p, input_size=224, thumb_size=256)
    assert dec.pixels.shape == (224, 224, 3) and dec.pixels.dtype == np.uint8
    assert_upright(dec.pixels)
    th = thumb_array(dec)
    assert th.shape == (192, 256, 3)
    assert_upright(th)
    assert (dec.meta.width, dec.meta.height, dec.meta.orientation) == (640, 480, orientation)


def test_portrait_photo_keeps_portrait_thumbnail(tmp_path, make_photo):
    dec = decode_photo(make_photo(tmp_path / "p.jpg", size=(480, 640), orientation=6), 64)
    assert (dec.meta.width, dec.meta.height) == (480, 640)
    assert thumb_array(dec).shape == (256, 192, 3)
    assert_upright(thumb_array(dec))
    assert dec.pixels.shape == (64, 64, 3)


@pytest.mark.parametrize("bad", [0, 9, 65535])
def test_out_of_range_orientation_is_treated_as_upright(tmp_path, make_photo, bad):
    p = make_photo(tmp_path / "x.jpg", size=(320, 240), orientation=bad)
    with Image.open(p) as im:
        assert im.getexif()[0x0112] == bad
    dec = decode_photo(p, 64)
    assert dec.meta.orientation == 1
    assert_upright(dec.pixels)


def test_corrupt_exif_block_is_ignored(tmp_path, make_photo):
    junk = b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + bytes(range(40))
    p = make_photo(tmp_path / "x.jpg", size=(320, 240), exif_raw=junk)
    dec = decode_photo(p, 64)
    assert dec.meta.orientation == 1 and dec.meta.taken_at is None
    assert_upright(dec.pixels)


def test_meta_date_and_camera(tmp_path, make_photo):
    p = make_photo(tmp_path / "m.jpg", exif_datetime="2021:07:14 18:03:59", camera=("Canon", "Canon EOS 5D"))
    meta = decode_photo(p, 64).meta
    assert meta.taken_at == "2021-07-14T18:03:59"
    assert meta.camera == "Canon EOS 5D"
    p2 = make_photo(tmp_path / "n.jpg", exif_datetime="0000:00:00 00:00:00", camera=("FUJIFILM", "X-T3"))
    meta2 = decode_photo(p2, 64).meta
    assert meta2.taken_at is None and meta2.camera == "FUJIFILM X-T3"
    assert decode_photo(make_photo(tmp_path / "plain.jpg"), 64).meta.camera is None


FORMATS = [
    ("png", "RGB", 6), ("png", "L", 6), ("png", "I;16", 6), ("png", "RGBA", 6), ("png", "P", 6), ("png", "LA", 3),
    ("gif", "P", None), ("bmp", "RGB", None), ("tif", "RGB", 6), ("tif", "I;16", 8), ("webp", "RGB", 6),
    ("jpg", "CMYK", 6), ("jpg", "L", 8), ("avif", "RGB", 6), ("heic", "RGB", 6),
]


@pytest.mark.parametrize("ext,mode,orientation", FORMATS, ids=[f"{e}-{m}" for e, m, _ in FORMATS])
def test_formats_and_modes_decode_upright(tmp_path, make_photo, ext, mode, orientation):
    if ext == "avif":
        from PIL import features

        if not features.check("avif"):
            pytest.skip("Pillow built without AVIF")
    p = make_photo(tmp_path / f"x.{ext}", size=(320, 240), mode=mode, orientation=orientation)
    dec = decode_photo(p, 64)
    assert dec.pixels.shape == (64, 64, 3) and dec.pixels.dtype == np.uint8
    assert_upright(dec.pixels)
    assert_upright(thumb_array(dec))
    assert (dec.meta.width, dec.meta.height) == (320, 240)


def test_png_named_jpg_is_detected_by_content(tmp_path, make_photo):
    p = make_photo(tmp_path / "really-a-png.jpg", size=(320, 240), fmt="PNG")
    assert p.read_bytes()[:4] == b"\x89PNG"
    assert_upright(decode_photo(p, 64).pixels)


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    p = tmp_path / "g16.png"
    Image.fromarray(np.full((40, 60), 128 * 257, dtype=np.uint16)).save(p)
    with Image.open(p) as im:
        assert im.mode.startswith("I")
    px = decode_photo(p, 32).pixels
    assert abs(float(px.mean()) - 128) < 2


def test_transparency_is_composited_on_white(tmp_path):
    a = np.zeros((60, 80, 4), dtype=np.uint8)
    a[..., 0] = 200  # red, but fully transparent everywhere ...
    a[20:40, 30:50, 3] = 255  # ... except an opaque red block in the middle
    p = tmp_path / "rgba.png"
    Image.fromarray(a, "RGBA").save(p)
    px = decode_photo(p, 60).pixels.astype(int)
    assert px[2, 2].tolist() == [255, 255, 255]
    assert px[30, 30, 0] > 180 and px[30, 30, 1] < 40

    pal = Image.new("P", (80, 60), 0)
    pal.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    pal.paste(1, (30, 20, 50, 40))
    gp = tmp_path / "t.gif"
    pal.save(gp, transparency=0)
    px = decode_photo(gp, 60).pixels.astype(int)
    assert px[2, 2].tolist() == [255, 255, 255]
    assert px[30, 30, 0] > 180 and px[30, 30, 1] < 40


def test_animated_gif_and_multipage_tiff_use_the_first_frame(tmp_path):
    red, blue = Image.new("RGB", (64, 48), (220, 0, 0)), Image.new("RGB", (64, 48), (0, 0, 220))
    red.save(tmp_path / "a.gif", save_all=True, append_images=[blue], duration=100, loop=0)
    red.save(tmp_path / "a.tif", save_all=True, append_images=[blue])
    with Image.open(tmp_path / "a.gif") as g, Image.open(tmp_path / "a.tif") as t:
        assert g.n_frames == 2 and t.n_frames == 2
    for name in ("a.gif", "a.tif"):
        px = decode_photo(tmp_path / name, 32).pixels.astype(int)
        assert px[..., 0].mean() > 180 and px[..., 2].mean() < 40, name


def test_jpeg_is_drafted_before_decoding(tmp_path, make_photo, monkeypatch):
    from PIL import JpegImagePlugin

    calls = []
    real = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        out = real(self, mode, size)
        calls.append((mode, size, self.size))
        return out

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    dec = decode_photo(make_photo(tmp_path / "big.jpg", size=(2400, 1800), pattern="plain"), 64)
    assert calls and calls[0][0] == "RGB"
    assert max(calls[0][2]) <= 2400 // 4  # decoded at reduced scale, not full size
    assert dec.meta.width == 2400 and dec.pixels.shape == (64, 64, 3)


def test_small_image_thumbnail_is_not_upscaled(tmp_path, make_photo):
    dec = decode_photo(make_photo(tmp_path / "s.png", size=(90, 60)), 64)
    assert thumb_array(dec).shape == (60, 90, 3)


# -- errors ----------------------------------------------------------------------------

def reason(path, **kw) -> str:
    with pytest.raises(UnreadableImage) as info:
        decode_photo(path, 64, **kw)
    return str(info.value)


def test_typed_errors_with_user_reasons(tmp_path, make_photo):
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert reason(tmp_path / "empty.jpg") == "empty file (0 bytes)"
    (tmp_path / "noise.jpg").write_bytes(np.random.default_rng(0).bytes(5000))
    assert reason(tmp_path / "noise.jpg") == "not an image (unrecognised format)"
    assert reason(tmp_path / "gone.jpg") == "file disappeared during indexing"
    data = make_photo(tmp_path / "ok.jpg", size=(640, 480), pattern="stripes").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    assert reason(tmp_path / "cut.jpg") == "truncated or corrupt JPEG data"
    png = make_photo(tmp_path / "ok.png", size=(320, 240)).read_bytes()
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    assert reason(tmp_path / "cut.png") == "truncated or corrupt PNG data"
    (tmp_path / "dir.jpg").mkdir()
    assert "folder" in reason(tmp_path / "dir.jpg")


def test_permission_denied_reason(tmp_path, make_photo, monkeypatch):
    p = make_photo(tmp_path / "locked.jpg")

    def deny(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(decode, "open", deny, raising=False)  # works even when tests run as root
    assert reason(p) == "permission denied"


def _png_header(w: int, h: int) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


def _jpeg_with_size(data: bytes, w: int, h: int) -> bytes:
    i = data.index(b"\xff\xc0")  # baseline SOF0: FFC0, length(2), precision(1), height(2), width(2)
    return data[: i + 5] + struct.pack(">HH", h, w) + data[i + 9:]


def test_decompression_bomb_is_refused_from_the_header(tmp_path, make_photo, monkeypatch):
    p = tmp_path / "bomb.png"
    p.write_bytes(_png_header(30000, 30000))
    from PIL import Image, ImageFile

    def no_decode(self, *a, **k):
        raise AssertionError("the bomb's pixels were decoded")

    for cls in (Image.Image, ImageFile.ImageFile):  # refused from the header alone
        monkeypatch.setattr(cls, "load", no_decode)
    msg = reason(p)
    monkeypatch.undo()
    assert msg.startswith("too large (") and f"limit {MAX_PIXELS // 1_000_000} MP" in msg
    jpg = make_photo(tmp_path / "small.jpg", size=(64, 48)).read_bytes()
    (tmp_path / "bomb.jpg").write_bytes(_jpeg_with_size(jpg, 30000, 30000))
    assert reason(tmp_path / "bomb.jpg").startswith("too large (")


def test_own_pixel_guard_holds_without_pillows(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # someone switched Pillow's guard off
    p = tmp_path / "bomb.png"
    p.write_bytes(_png_header(30000, 30000))
    assert reason(p) == f"too large (30000x30000 pixels, limit {MAX_PIXELS // 1_000_000} MP)"


def test_pixel_limit_applies_to_ordinary_files(tmp_path, make_photo, monkeypatch):
    monkeypatch.setattr(decode, "MAX_PIXELS", 200_000)
    assert reason(make_photo(tmp_path / "x.jpg", size=(640, 480))).startswith("too large (640x480 pixels")


def test_pillow_guard_matches_ours():
    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS


_SEED_JPEG = None


def _seed_jpeg() -> bytes:
    global _SEED_JPEG
    if _SEED_JPEG is None:
        buf = io.BytesIO()
        exif = Image.Exif()
        exif[0x0112] = 6
        stripes = np.zeros((64, 96, 3), np.uint8)
        stripes[::6] = (200, 80, 20)
        Image.fromarray(stripes).save(buf, "JPEG", quality=80, exif=exif.tobytes())
        _SEED_JPEG = buf.getvalue()
    return _SEED_JPEG


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(0, 10_000))
def test_mutated_files_never_raise_anything_but_unreadable(edits, cut):
    data = bytearray(_seed_jpeg())
    for pos, val in edits:
        data[pos % len(data)] = val
    data = bytes(data[: max(1, len(data) - cut % len(data))])
    try:
        dec = decode_bytes(data, 32)
    except UnreadableImage as err:
        assert str(err) and "\n" not in str(err)
    else:
        assert dec.pixels.shape == (32, 32, 3)


def test_large_files_are_streamed_with_the_same_result(tmp_path, make_photo, monkeypatch):
    p = make_photo(tmp_path / "s.jpg", size=(320, 240), orientation=6)
    whole = decode_photo(p, 64)
    monkeypatch.setattr(decode, "IN_MEMORY_LIMIT", 10)  # every file counts as "large" now
    streamed = decode_photo(p, 64)
    np.testing.assert_array_equal(whole.pixels, streamed.pixels)
    assert whole.meta == streamed.meta

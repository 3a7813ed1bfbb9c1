"""Embedded previews (ingest/preview.py): found in camera-shaped files, never trusted blindly."""
import io
import struct

import numpy as np
import pytest
from PIL import Image

from camera_files import camera_jpeg, fit, jpeg_bytes, raw_like_tiff
from photoclust_app.core.errors import UnreadableImage
from photoclust_app.core.ingest.decode import decode_bytes
from photoclust_app.core.ingest.preview import decode_preview, find_preview, read_preview

_STORE = {  # how a camera stores an upright picture for each EXIF orientation
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def upright(size=(900, 600), seed=0) -> Image.Image:
    """Noise (so JPEGs are not trivially small) with a white top-left and a black top-right block."""
    w, h = size
    a = np.random.default_rng(seed).integers(60, 190, (h, w, 3), dtype=np.uint8)
    a[: h // 3, : w // 3] = 255
    a[: h // 3, -w // 3:] = 0
    return Image.fromarray(a)


def stored(im: Image.Image, orientation: int) -> Image.Image:
    return im.transpose(_STORE[orientation]) if orientation in _STORE else im


def corners(pixels: np.ndarray) -> tuple[float, float]:
    h, w = pixels.shape[:2]
    return float(pixels[h // 10: h // 5, w // 10: w // 5].mean()), float(pixels[h // 10: h // 5, -w // 5: -w // 10].mean())


def test_exif_thumbnail_is_found_with_its_size_and_bytes():
    main = upright()
    data = camera_jpeg(main, orientation=1)
    p = find_preview(data)
    assert p is not None and p.source == "exif-thumbnail"
    assert (p.width, p.height) == (160, 107) and p.main_size == (900, 600)
    with Image.open(io.BytesIO(p.jpeg)) as im:
        assert im.format == "JPEG" and im.size == (160, 107)
    assert not p.covers(224)  # smaller than the model input: the full decode is needed


def test_the_largest_preview_wins_and_covers_the_model_input():
    data = camera_jpeg(upright((1200, 800)), preview=(600, 400))
    p = find_preview(data)
    assert p.source == "mpf" and (p.width, p.height) == (600, 400)
    assert p.covers(224) and not p.covers(512)
    with Image.open(io.BytesIO(p.jpeg)) as im:
        im.load()
        assert im.size == (600, 400)


def test_a_letterboxed_thumbnail_does_not_stand_in_for_the_photo():
    main = upright((1200, 800))
    boxed = Image.new("RGB", (400, 300))
    boxed.paste(fit(main, (400, 300)), (0, 17))
    p = find_preview(camera_jpeg(main, preview=boxed))
    assert (p.width, p.height) == (400, 300) and not p.covers(224)


@pytest.mark.parametrize("mp_type", [0x020002, 0x020001])  # stereo pair, panorama frame: other pictures
def test_mpf_images_that_are_other_views_are_not_previews(mp_type):
    p = find_preview(camera_jpeg(upright(), preview=(450, 300), mp_type=mp_type))
    assert p.source == "exif-thumbnail"


def test_a_grey_gain_map_is_not_a_preview():
    gain = fit(upright(), (450, 300)).convert("L")
    p = find_preview(camera_jpeg(upright(), preview=gain))
    assert p.source == "exif-thumbnail"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_preview_decodes_upright_with_the_main_images_orientation(orientation):
    pic = upright((900, 600))
    data = camera_jpeg(stored(pic, orientation), orientation=orientation, preview=(600, 600))
    got = decode_preview(data, 224, 256)
    assert got is not None
    dec, p = got
    assert p.orientation == orientation and p.source == "mpf"
    assert (dec.meta.width, dec.meta.height, dec.meta.orientation) == (900, 600, orientation)
    white, black = corners(np.asarray(Image.open(io.BytesIO(dec.thumbnail))))
    assert white > 230 and black < 25
    with Image.open(io.BytesIO(dec.thumbnail)) as th:
        assert th.size == (256, 171)
    full = decode_bytes(data, 224, 256)
    assert full.meta == dec.meta
    cos = np.corrcoef(full.pixels.astype(float).ravel(), dec.pixels.astype(float).ravel())[0, 1]
    assert cos > 0.9  # the same picture, the same way up


def test_preview_meta_is_the_main_images():
    exif = Image.Exif()
    exif[0x0112] = 8
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS R6"
    exif.get_ifd(0x8769)[0x9003] = "2023:05:01 10:20:30"
    data = camera_jpeg(upright((800, 600)), preview=(640, 480), exif=exif.tobytes())
    dec, p = decode_preview(data)
    assert p.orientation == 8
    assert (dec.meta.width, dec.meta.height, dec.meta.orientation) == (600, 800, 8)
    assert (dec.meta.camera, dec.meta.taken_at) == ("Canon EOS R6", "2023-05-01T10:20:30")
    assert dec.meta == decode_bytes(data).meta


def test_only_a_preview_well_above_the_model_input_stands_in_for_the_photo():
    assert decode_preview(camera_jpeg(upright())) is None  # a 160x107 thumbnail
    assert decode_preview(jpeg_bytes(upright())) is None  # no preview at all
    assert decode_preview(camera_jpeg(upright(), preview=(450, 300)), 224) is None  # 300 < 1.5 x 224
    assert decode_preview(camera_jpeg(upright(), preview=(450, 300)), 200) is not None


@pytest.mark.parametrize("big_endian", [False, True])
def test_raw_like_tiff_gives_its_large_jpeg_preview(big_endian):
    pic = upright((900, 600))
    small, large = jpeg_bytes(fit(pic, (160, 120))), jpeg_bytes(pic, 90)
    p = find_preview(raw_like_tiff(small, large, orientation=6, big_endian=big_endian))
    assert p is not None and p.source == "raw"
    assert (p.width, p.height, p.orientation) == (900, 600, 6)
    assert p.jpeg == large


def test_read_preview_reads_the_file(tmp_path):
    f = tmp_path / "cam.jpg"
    f.write_bytes(camera_jpeg(upright(), preview=(450, 300)))
    assert read_preview(f).width == 450
    assert read_preview(tmp_path / "gone.jpg") is None
    assert read_preview(f, limit=100) is None


def _mpf_file():
    return camera_jpeg(upright((600, 400)), preview=(300, 200))


def test_every_truncation_gives_a_complete_preview_or_none():
    data = _mpf_file()
    full = find_preview(data)
    for n in range(0, len(data), 37):
        p = find_preview(data[:n])
        if p is not None:  # the thumbnail sits in the header; the MPF preview at the end
            with Image.open(io.BytesIO(p.jpeg)) as im:
                im.load()
            assert p.jpeg in data[:n]
            assert p.source == "exif-thumbnail" or n >= len(data) - 2
    assert full.source == "mpf"


def test_hostile_offsets_and_lengths_give_no_preview_and_no_exception():
    data = bytearray(_mpf_file())
    base = data.index(b"MPF\x00") + 4
    entries = base + 8 + 2 + 36 + 4
    for size, offset in [(0xFFFFFFFF, 0), (100, 0xFFFFFFF0), (2**31, 2**31), (len(data), 0)]:
        bad = bytearray(data)
        struct.pack_into("<II", bad, entries + 16 + 4, size, offset)
        p = find_preview(bytes(bad))
        assert p is None or p.source == "exif-thumbnail"
    exif = data.index(b"Exif\x00\x00") + 6
    for at in range(exif, exif + 70, 2):  # the EXIF TIFF header, IFD0, IFD1 pointers
        for value in (b"\xff\xff", b"\x00\x00", b"\x08\x00"):
            bad = bytearray(data)
            bad[at:at + 2] = value
            find_preview(bytes(bad))  # anything but an exception


def test_random_corruption_never_raises():
    rng = np.random.default_rng(1)
    sources = [_mpf_file(), raw_like_tiff(jpeg_bytes(upright((160, 107))), jpeg_bytes(upright((300, 200))))]
    for data in sources:
        head = min(len(data), 2048)
        for _ in range(400):
            bad = bytearray(data)
            for i in rng.integers(0, head, 6):
                bad[i] = int(rng.integers(0, 256))
            p = find_preview(bytes(bad))
            if p is not None:
                assert p.jpeg[:2] == b"\xff\xd8" and p.width > 0 and p.height > 0


@pytest.mark.parametrize("data", [b"", b"\xff", b"\xff\xd8", b"\xff\xd8\xff\xe1\x00", b"II*\x00", b"MM\x00*\xff\xff\xff\xff",
                                  b"II*\x00\x08\x00\x00\x00\xff\xff" + b"\x00" * 20, b"not an image at all"])
def test_garbage_has_no_preview(data):
    assert find_preview(data) is None


def test_an_ifd_loop_ends():
    # IFD0 at 8 whose next-IFD pointer is itself, with a SubIFD pointing back at it too.
    ifd = struct.pack("<H", 1) + struct.pack("<HHII", 0x014A, 4, 1, 8) + struct.pack("<I", 8)
    assert find_preview(b"II*\x00" + struct.pack("<I", 8) + ifd) is None


def test_a_preview_over_a_too_large_photo_is_refused_like_the_photo():
    data = bytearray(camera_jpeg(upright((900, 600)), preview=(600, 400)))
    assert decode_preview(bytes(data)) is not None
    sof = data.index(b"\xff\xc0", data.index(b"MPF\x00"))  # the main image's, not the thumbnail's
    struct.pack_into(">HH", data, sof + 5, 20000, 30000)  # the main image claims 600 MP
    with pytest.raises(UnreadableImage, match="too large"):
        decode_preview(bytes(data))


def test_the_worker_decodes_corrupt_camera_files_from_a_preview_or_in_full_or_says_why(tmp_path):
    from photoclust_app.core.ingest.decode_pool import DecodeJob, decode_for_worker

    rng = np.random.default_rng(2)
    data = camera_jpeg(upright((900, 600)), preview=(600, 400))
    path = tmp_path / "cam.jpg"
    outcomes = set()
    for i in range(120):
        bad = bytearray(data)
        if i % 3 == 0:
            bad = bad[: int(rng.integers(0, len(bad)))]
        else:
            for at in rng.integers(0, len(bad), 8):
                bad[at] = int(rng.integers(0, 256))
        path.write_bytes(bytes(bad))
        res = decode_for_worker(DecodeJob(str(path), "cam.jpg", 224, 256, preview=True))
        assert (res.decoded is None) == (res.reason is not None)
        if res.decoded is not None:
            assert res.decoded.pixels.shape == (224, 224, 3) and 1 <= res.decoded.meta.orientation <= 8
        outcomes.add((res.decoded is not None, res.from_preview))
    assert (True, True) in outcomes and (False, False) in outcomes

"""Hostile photo folders made in code, with what photoclust should do about each file.

``write_hostile_folder(folder)`` writes every hostile *file* case of the robustness issue
(bad bytes, odd formats, bombs, bad EXIF, symlinks, odd names, ...) next to a few good
photos and returns ``{relpath: Expect}``. Cases that need a moment rather than bytes
(deleted between scan and decode, rewritten while decoding, unreadable for a non-root user)
are set up by the tests themselves; the helpers for them live here too.

Nothing here is copied from elsewhere: every byte is generated, so the folder is the same
on every machine. Sizes stay small (a few KB per file) except the sparse non-image.
"""
from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

INDEXED, SKIPPED, IGNORED = "indexed", "skipped", "ignored"
SYMLINK_REASON = "symbolic link (not followed)"


@dataclass(frozen=True)
class Expect:
    """What should happen to one path. ``reason`` is a substring of the one-line skip
    reason; ``color`` the approximate RGB at the thumbnail's centre; ``size`` (w, h) as
    stored in the library (after EXIF rotation)."""

    case: str
    outcome: str
    reason: str = ""
    color: tuple[int, int, int] | None = None
    size: tuple[int, int] | None = None
    orientation: int | None = None


RED, GREEN, BLUE, GREY = (200, 40, 40), (40, 170, 60), (40, 70, 200), (128, 128, 128)


# -- byte makers ------------------------------------------------------------------------
def noisy(size=(160, 120), color=RED, seed=0, sigma=6.0) -> Image.Image:
    """A flat colour with a little noise (so JPEG has real entropy-coded data)."""
    w, h = size
    rng = np.random.default_rng(seed)
    a = np.asarray(color, np.float32) + rng.normal(0, sigma, (h, w, 3))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def jpeg(size=(160, 120), color=RED, seed=0, **kw) -> bytes:
    return encode(noisy(size, color, seed), "JPEG", quality=90, **kw)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int, rows: int = 2) -> bytes:
    """A valid-looking greyscale PNG whose header declares WIDTH x HEIGHT but which holds
    only ROWS rows of (all-zero) data: a decompression bomb's header without its payload."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = (b"\x00" + b"\x00" * width) * rows
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw, 9))
            + png_chunk(b"IEND", b""))


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG with its SOF header patched to claim WIDTH x HEIGHT."""
    data = bytearray(jpeg((64, 48)))
    for marker in (b"\xff\xc0", b"\xff\xc2", b"\xff\xc1"):
        i = data.find(marker)
        if i >= 0:
            struct.pack_into(">HH", data, i + 5, height, width)
            return bytes(data)
    raise AssertionError("no SOF marker in a Pillow JPEG")


def exif_app1(payload: bytes) -> bytes:
    body = b"Exif\x00\x00" + payload
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def jpeg_with_app1(app1: bytes, **kw) -> bytes:
    """Insert a raw APP1 segment right after SOI (Pillow would refuse to write a corrupt one)."""
    data = jpeg(**kw)
    assert data[:2] == b"\xff\xd8"
    return data[:2] + app1 + data[2:]


def jpeg_with_orientation(value: int, size=(160, 120), color=GREEN) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return encode(noisy(size, color), "JPEG", quality=90, exif=exif.tobytes())


def cmyk_jpeg(color=RED) -> bytes:
    return encode(noisy((160, 120), color).convert("CMYK"), "JPEG", quality=92)


def png16() -> bytes:
    """16-bit greyscale: a horizontal ramp over the whole 0..65535 range."""
    ramp = np.tile(np.linspace(0, 65535, 160, dtype=np.float64), (120, 1)).astype(np.uint16)
    return encode(Image.fromarray(ramp), "PNG")


def palette_png_with_transparency() -> bytes:
    """A palette PNG: index 0 transparent (the left half), index 1 blue (the right half)."""
    a = np.zeros((120, 160), np.uint8)
    a[:, 80:] = 1
    im = Image.fromarray(a, "P")
    im.putpalette([0, 0, 0, *BLUE] + [0] * (254 * 3))
    return encode(im, "PNG", transparency=0)


def animated_gif() -> bytes:
    """Two frames, red then blue: the first frame is the photo."""
    frames = [noisy((120, 90), c, sigma=0).convert("P", palette=Image.Palette.ADAPTIVE) for c in (RED, BLUE)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def multipage_tiff() -> bytes:
    pages = [noisy((120, 90), c, sigma=0) for c in (GREEN, RED)]
    return encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])


def truncated_jpeg() -> bytes:
    data = jpeg((320, 240), seed=3, sigma=40)
    return data[: len(data) // 2]


# -- the folder ---------------------------------------------------------------------------
def write_hostile_folder(folder: str | os.PathLike, *, outside: str | os.PathLike | None = None) -> dict[str, Expect]:
    """Write every hostile file case into FOLDER; return {relpath: Expect}.

    OUTSIDE (a folder next to FOLDER) receives the targets of the symlinks that point out."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    exp: dict[str, Expect] = {}

    def put(rel: str, data: bytes, expect: Expect) -> None:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        exp[rel] = expect

    put("good/red.jpg", jpeg(color=RED), Expect("plain JPEG (control)", INDEXED, color=RED, size=(160, 120)))
    put("good/blue.png", encode(noisy(color=BLUE), "PNG"), Expect("plain PNG (control)", INDEXED, color=BLUE))
    put("good/green.webp", encode(noisy(color=GREEN), "WEBP", quality=90),
        Expect("WebP", INDEXED, color=GREEN))
    put("empty.jpg", b"", Expect("zero-byte file", SKIPPED, "empty file"))
    put("truncated.jpg", truncated_jpeg(), Expect("truncated JPEG", SKIPPED, "truncated or corrupt"))
    put("random.jpg", np.random.default_rng(5).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        Expect("random bytes named .jpg", SKIPPED, "not an image"))
    put("text.png", b"Hello, I am not a picture at all.\n" * 20, Expect("text named .png", SKIPPED, "not an image"))
    put("png_named.jpg", encode(noisy(color=BLUE), "PNG"), Expect("PNG named .jpg", INDEXED, color=BLUE))
    put("jpeg_named.png", jpeg(color=GREEN), Expect("JPEG named .png", INDEXED, color=GREEN))
    put("cmyk.jpg", cmyk_jpeg(RED), Expect("CMYK JPEG", INDEXED, color=RED))
    put("gray16.png", png16(), Expect("16-bit PNG", INDEXED, color=GREY, size=(160, 120)))
    put("palette_alpha.png", palette_png_with_transparency(),
        Expect("palette PNG with transparency", INDEXED, size=(160, 120)))
    put("gray.jpg", encode(noisy(color=GREY).convert("L"), "JPEG"), Expect("greyscale JPEG", INDEXED, color=GREY))
    put("animated.gif", animated_gif(), Expect("animated GIF (first frame)", INDEXED, color=RED, size=(120, 90)))
    put("multipage.tif", multipage_tiff(), Expect("multi-page TIFF (first page)", INDEXED, color=GREEN,
                                                  size=(120, 90)))
    put("bomb.png", png_declaring(30000, 30000), Expect("decompression bomb PNG (30000x30000 declared)", SKIPPED,
                                                        "too large"))
    put("bomb300mp.png", png_declaring(20000, 15000),
        Expect("PNG declaring 300 MP (between the warning and the hard limit)", SKIPPED, "too large"))
    put("bomb.jpg", jpeg_declaring(30000, 30000), Expect("JPEG declaring 30000x30000", SKIPPED, "too large"))
    put("bad_exif.jpg", jpeg_with_app1(exif_app1(b"MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\xde\xad" * 40),
                                       color=BLUE),
        Expect("corrupt EXIF block", INDEXED, color=BLUE, size=(160, 120), orientation=1))
    put("orientation9.jpg", jpeg_with_orientation(9), Expect("EXIF orientation 9 (out of range)", INDEXED,
                                                              color=GREEN, size=(160, 120), orientation=1))
    put("orientation65535.jpg", jpeg_with_orientation(65535),
        Expect("EXIF orientation 65535", INDEXED, color=GREEN, size=(160, 120), orientation=1))
    put("orientation6.jpg", jpeg_with_orientation(6), Expect("EXIF orientation 6 (control)", INDEXED,
                                                              size=(120, 160), orientation=6))
    # Names: spaces, emoji, a newline, SQL and shell metacharacters, a leading dash.
    for rel, case in (("with space.jpg", "file name with spaces"), ("emoji 🌸.jpg", "file name with emoji"),
                      ("new\nline.jpg", "file name with a newline"),
                      ("x'); DROP TABLE photos;--.jpg", "file name with SQL"),
                      ("$(touch PWNED) `touch PWNED2`.jpg", "file name with shell syntax"),
                      ("-rf.jpg", "file name starting with a dash")):
        put(rel, jpeg(color=RED, seed=len(rel)), Expect(case, INDEXED, color=RED))
    bad = os.fsdecode(b"bad\xff\xfe.jpg")  # invalid UTF-8: a surrogate-escaped str
    put(bad, jpeg(color=BLUE, seed=9), Expect("file name with invalid UTF-8 bytes", INDEXED, color=BLUE))
    # Odd names on files that are skipped: the reason must still print as one line.
    put("broken\nname.jpg", b"GIF89a garbage", Expect("skipped file with a newline in its name", SKIPPED,
                                                      "not an image"))
    put(os.fsdecode(b"broken\xff.png"), b"\x89PNG\r\n\x1a\n" + b"\x00" * 30,
        Expect("skipped file with invalid UTF-8 in its name", SKIPPED, "not an image"))
    # Near-identical photos: same scene, a few grey levels of noise apart.
    for i in range(3):
        put(f"near/near_{i}.jpg", jpeg(color=GREEN, seed=100 + i, sigma=2), Expect("3 near-identical photos",
                                                                                  INDEXED, color=GREEN))
    # A sparse 96 MB file of zeros named .jpg: larger than the in-memory limit, streamed.
    sparse = root / "sparse_zeros.jpg"
    with open(sparse, "wb") as f:
        f.truncate(96 * 1024 * 1024)
    exp["sparse_zeros.jpg"] = Expect("96 MB of zeros named .jpg", SKIPPED, "not an image")
    # Not regular files: passed over without reading (a FIFO would block a reader forever).
    os.mkfifo(root / "fifo.jpg")
    exp["fifo.jpg"] = Expect("FIFO named .jpg", IGNORED)
    (root / "notes.txt").write_text("not a photo")
    exp["notes.txt"] = Expect("non-image extension", IGNORED)
    # Symlinks: a loop, a folder outside, a file outside.
    os.symlink(".", root / "loop")
    exp["loop"] = Expect("symlink loop", SKIPPED, SYMLINK_REASON)
    out = Path(outside) if outside is not None else root.parent / (root.name + "-outside")
    out.mkdir(parents=True, exist_ok=True)
    (out / "secret.jpg").write_bytes(jpeg(color=BLUE, seed=77))
    os.symlink(out, root / "outside_dir")
    exp["outside_dir"] = Expect("symlink to a folder outside", SKIPPED, SYMLINK_REASON)
    os.symlink(out / "secret.jpg", root / "outside.jpg")
    exp["outside.jpg"] = Expect("symlink to a photo outside", SKIPPED, SYMLINK_REASON)
    os.symlink(root / "nowhere.jpg", root / "dangling.jpg")
    exp["dangling.jpg"] = Expect("dangling symlink", SKIPPED, SYMLINK_REASON)
    return exp


def indexed(expect: dict[str, Expect]) -> set[str]:
    return {p for p, e in expect.items() if e.outcome == INDEXED}


def skipped(expect: dict[str, Expect]) -> dict[str, Expect]:
    return {p: e for p, e in expect.items() if e.outcome == SKIPPED}


def centre_color(jpeg_bytes: bytes) -> tuple[int, int, int]:
    """Mean RGB of the central quarter of an image (thumbnail check)."""
    with Image.open(io.BytesIO(jpeg_bytes)) as im:
        a = np.asarray(im.convert("RGB"), np.float32)
    h, w = a.shape[:2]
    c = a[h // 4: h - h // 4, w // 4: w - w // 4].reshape(-1, 3).mean(axis=0)
    return tuple(int(round(v)) for v in c)


def close_color(got, want, tol: int = 40) -> bool:
    return all(abs(int(g) - int(w)) <= tol for g, w in zip(got, want))


def rewrite_in_place(path: str | os.PathLike, data: bytes) -> None:
    """Rewrite PATH with DATA and give it a new mtime (a camera app saving an edit)."""
    p = Path(path)
    st = p.stat()
    p.write_bytes(data)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


# -- running the real command line in a child process -------------------------------------
REPO = Path(__file__).resolve().parents[1]


def cli_env(home: str | os.PathLike | None = None) -> dict[str, str]:
    """Environment for a child photoclust: this checkout importable, logs and user dirs
    kept out of the real home (HOME, XDG_*), one torch thread per child."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    if home is not None:
        home = str(home)
        env["HOME"] = home
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            env[var] = os.path.join(home, var.lower())
        env["PHOTOCLUST_LOG_DIR"] = os.path.join(home, "log")
        # The JIT cache is shared with in-process tests (and kept between runs): a fresh
        # cache per child would make every clustering child pay ~1 min of numba compiling.
        if "NUMBA_CACHE_DIR" not in env:
            from photoclust_app.core.clustering.numba_cache import default_numba_cache_dir

            env["NUMBA_CACHE_DIR"] = str(default_numba_cache_dir())
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONFAULTHANDLER"] = "1"
    return env


def cli_argv(*args: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "photoclust_app", *map(str, args)]


def run_cli(*args, home=None, timeout: float = 180, **kw):
    """Run ``photoclust ARGS`` to completion; returns the CompletedProcess (text)."""
    import subprocess

    return subprocess.run(cli_argv(*args), capture_output=True, text=True, errors="replace", timeout=timeout,
                          env=cli_env(home), cwd=REPO, **kw)


def integrity_problems(db: str | os.PathLike) -> list[str]:
    """What is wrong with the library file at DB, read-only (never checkpoints, so a crashed
    writer's WAL is left for photoclust itself to recover). Empty when sound."""
    import sqlite3

    conn = sqlite3.connect(f"{Path(db).as_uri()}?mode=ro", uri=True)
    try:
        problems = []
        check = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        if check != ["ok"]:
            problems.append(f"integrity_check: {check[:5]}")
        fk = conn.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            problems.append(f"foreign_key_check: {fk[:5]}")
        q = lambda sql, *args: conn.execute(sql, args).fetchall()  # noqa: E731
        if q("SELECT relpath FROM photos GROUP BY relpath HAVING COUNT(*) > 1"):
            problems.append("duplicate photo paths")
        if q("SELECT relpath FROM photos WHERE relpath IN (SELECT relpath FROM skipped)"):
            problems.append("a path is both a photo and skipped")
        if q("SELECT id FROM photos WHERE id NOT IN (SELECT photo_id FROM thumbnails)"):
            problems.append("a photo without its thumbnail")
        model = q("SELECT value FROM meta WHERE key='model'")
        if model and q("SELECT id FROM photos WHERE id NOT IN (SELECT photo_id FROM embeddings WHERE model=?)",
                       model[0][0]):
            problems.append("a photo without its embedding")
        return problems
    finally:
        conn.close()

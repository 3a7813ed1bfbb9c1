"""GUI test fixtures: offscreen Qt, isolated settings, small synthetic photo libraries.

Two kinds of library:
- ``photo_folder`` (tests/conftest.py): 30 JPEGs in 3 groups, never indexed; the window
  indexes it itself with the tiny random CLIP ("tiny-test") and clusters it.
- ``built_folder`` (here): 42 photos with a library written directly through the Library
  API and a hand-made clustering of exactly three clusters plus Unsorted, so edit tests are
  deterministic and need neither torch nor UMAP.
"""
import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt
_ISOLATED = tempfile.mkdtemp(prefix="photoclust-gui-tests-")
for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
    os.environ[var] = os.path.join(_ISOLATED, var.lower())
os.environ["PHOTOCLUST_LOG_DIR"] = os.path.join(_ISOLATED, "log")
# No network for model weights, whatever the machine has: the engine process that indexes
# for the window inherits the environment of the multiprocessing fork server, which starts
# with the first engine, so this is set here, before any test runs (a fixture's monkeypatch
# would not reach it). The Hugging Face cache is empty too: it lives under XDG_CACHE_HOME.
os.environ["HF_HUB_OFFLINE"] = "1"
for var in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
    os.environ.pop(var, None)

import io  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

GROUPS = ("reds", "greens", "blues")
PER_GROUP = 14


def _photo(group: int, i: int, rng: np.random.Generator) -> Image.Image:
    base = np.zeros((72, 96, 3), dtype=np.float32)
    base[..., group] = 200
    base += rng.normal(0, 18, base.shape)
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    for _ in range(3):
        x, y = rng.integers(0, 80), rng.integers(0, 56)
        r = int(rng.integers(6, 16))
        shade = tuple(int(v) for v in rng.integers(0, 90, 3))
        if group == 0:
            d.ellipse([x, y, x + r, y + r], fill=shade)
        elif group == 1:
            d.rectangle([x, 0, x + r // 2, 71], fill=shade)
        else:
            d.rectangle([x, y, x + r, y + r], outline=shade, width=3)
    return im


def make_photos(folder: Path, per_group: int = PER_GROUP, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    out = []
    for g, name in enumerate(GROUPS):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_group):
            p = folder / name / f"{name[0]}{i:02d}.jpg"
            _photo(g, i, rng).save(p, quality=85)
            out.append(p)
    return out


class InlineThreadPool:
    """Stands in for the thumbnail loader's QThreadPool: runs each decode at once, in the
    calling thread, so thumbnails are deterministic in tests (after Picard)."""

    def start(self, runnable) -> None:
        runnable.run()

    def waitForDone(self, msecs: int = -1) -> bool:  # noqa: N802 (Qt name)
        return True


class HeldThreadPool:
    """Stands in for the QThreadPool and keeps each decode in ``tasks`` until the test runs
    it, so what is queued, and when results arrive, can be watched."""

    def __init__(self):
        self.tasks = []

    def start(self, runnable) -> None:
        self.tasks.append(runnable)

    def waitForDone(self, msecs: int = -1) -> bool:  # noqa: N802 (Qt name)
        return True


def build_library(folder: Path) -> None:
    """A library for FOLDER written through the Library API, clustered by hand: one cluster
    per group (the last two photos of each group left in Unsorted)."""
    from photoclust_app.core.store.library import IndexedPhoto, Library
    from photoclust_app.core.clustering.plan import ClusteringPlan, apply_clustering
    from photoclust_app.core.records import PhotoMeta, PhotoRecord

    items, labels = [], []
    rng = np.random.default_rng(2)
    for g, name in enumerate(GROUPS):
        for p in sorted((folder / name).glob("*.jpg")):
            st = p.stat()
            buf = io.BytesIO()
            with Image.open(p) as im:
                im.save(buf, "JPEG", quality=80)
                w, h = im.size
            vec = rng.normal(0, 0.02, 8).astype(np.float32)  # two tight blobs per group
            vec[g] += 1.0
            vec[3 + len(labels) % 2] += 0.6
            rel = p.relative_to(folder).as_posix()
            items.append(IndexedPhoto(PhotoRecord(rel, st.st_size, st.st_mtime_ns), rel, PhotoMeta(w, h),
                                      buf.getvalue(), vec))
            labels.append(g)
    with Library.open(folder) as lib:
        lib.set_meta("model", "hand")
        ids = np.array(lib.add_photos(items, "hand"), dtype=np.int64)
        labels = np.array(labels, dtype=np.int64)
        for g in range(len(GROUPS)):  # two of each group stay Unsorted
            labels[np.flatnonzero(labels == g)[-2:]] = -1
        rng = np.random.default_rng(1)
        xy = np.stack([labels * 5.0 + rng.normal(0, 0.5, len(ids)), rng.normal(0, 0.5, len(ids))], axis=1)
        present = [0, 1, 2]
        plan = ClusteringPlan(
            model="hand", photo_ids=ids, labels=labels, probabilities=np.ones(len(ids), np.float32),
            representatives={g: ids[labels == g][:4].tolist() for g in present},
            names={0: "red things", 1: "green things", 2: "blue things"}, params={"min_cluster_size": 5},
            metrics={}, xy=xy.astype(np.float32))
        apply_clustering(lib, plan)


@pytest.fixture(scope="session")
def _photo_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos-template")
    make_photos(folder)
    return folder


@pytest.fixture(scope="session")
def _built_template(tmp_path_factory, _photo_template) -> Path:
    folder = tmp_path_factory.mktemp("built-template") / "photos"
    shutil.copytree(_photo_template, folder)
    build_library(folder)
    return folder


@pytest.fixture
def built_folder(tmp_path, _built_template) -> Path:
    """A fresh copy of the photos with a hand-clustered library (3 clusters + 6 Unsorted)."""
    dest = tmp_path / "photos"
    shutil.copytree(_built_template, dest)
    return dest


@pytest.fixture
def no_network():
    """For a test that needs model weights to be unobtainable: checks that the environment set
    at the top of this file, which the engine process inherits, is still in force."""
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert os.environ["XDG_CACHE_HOME"].startswith(_ISOLATED)
    assert not any(os.environ.get(v) for v in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"))


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, settings):
    """make_window(**kw) -> a shown MainWindow using the tiny model; closed after the test."""
    from photoclust_app.gui.main_window import MainWindow

    windows = []

    def make(**kw):
        kw.setdefault("model", "tiny-test")
        kw.setdefault("device", "cpu")
        kw.setdefault("index_options", {"workers": 0, "batch_size": 8})
        win = MainWindow(settings=kw.pop("settings", settings), **kw)
        qtbot.addWidget(win)
        win.show()
        windows.append(win)
        return win

    yield make
    for win in windows:
        if win.runner.is_running():
            win.runner.cancel()
            win.runner.wait(60000)
        win.close()


def wait_idle(qtbot, win, timeout=120000):
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=timeout)


@pytest.fixture
def opened(make_window, built_folder, qtbot):
    """A window on the hand-clustered library (no indexing), first cluster selected."""
    win = make_window()
    assert win.open_folder(built_folder, index=False)
    wait_idle(qtbot, win)
    qtbot.waitUntil(lambda: len(win.map_view.photo_ids()) == 42)  # the map updates on a short timer
    return win


@pytest.fixture(scope="module")
def _indexed_template(tmp_path_factory):
    """30 photos (3 groups) indexed with tiny-test and clustered, through the core API."""
    from conftest import make_photos

    from photoclust_app.core import pipeline
    from photoclust_app.core.ingest.index import index_folder
    from photoclust_app.core.store.library import Library

    folder = tmp_path_factory.mktemp("indexed") / "photos"
    make_photos(folder, per_group=10)
    index_folder(folder, model="tiny-test", device="cpu", workers=0)
    with Library.open(folder) as lib:
        pipeline.cluster(lib)
    return folder

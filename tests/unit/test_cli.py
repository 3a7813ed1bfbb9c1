"""The command line end to end on a small folder with the tiny model."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from photoclust_app.cli import main


def _photo(path, rgb, seed):
    rng = np.random.default_rng(seed)
    arr = np.clip(np.asarray(rgb, np.float32) + rng.normal(0, 12, (96, 128, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, quality=90)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    colours = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}
    for g, rgb in colours.items():
        for i in range(12):
            _photo(root / g / f"{g}{i:02d}.jpg", rgb, seed=hash((g, i)) % 1000)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "empty.png").write_bytes(b"")
    return root


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_index_cluster_info_export_undo(folder, tmp_path, capsys):
    code, out, _ = run(capsys, "index", str(folder), "--model", "tiny-test", "--workers", "1")
    assert code == 0, out
    assert "36 embedded" in out or "embedded" in out
    assert "2 skipped" in out

    code, out, _ = run(capsys, "index", str(folder), "--model", "tiny-test", "--workers", "1")
    assert code == 0 and "36 unchanged" in out and "0 embedded" in out

    code, out, _ = run(capsys, "cluster", str(folder), "--min-cluster-size", "5")
    assert code == 0, out
    assert "clusters" in out

    code, out, _ = run(capsys, "info", str(folder), "--json")
    info = json.loads(out)
    assert info["model"] == "tiny-test"
    assert info["indexed"] == 36 and info["photos"] == 38
    assert {s["path"] for s in info["skipped"]} == {"broken.jpg", "empty.png"}
    assert all(s["reason"] for s in info["skipped"])
    assert info["library_path"].endswith("library.sqlite")
    assert sum(c["size"] for c in info["clusters"]) + info["unsorted"] == 36
    assert {"id", "name", "size"} <= set(info["clusters"][0])

    dest = tmp_path / "out"
    code, out, _ = run(capsys, "export", str(folder), str(dest), "--dry-run", "--include-unsorted")
    assert code == 0 and not dest.exists()

    code, out, _ = run(capsys, "export", str(folder), str(dest), "--include-unsorted")
    assert code == 0
    manifest = out.strip().splitlines()[-1]
    assert os.path.exists(manifest)
    exported = [p for p in dest.rglob("*.jpg")]
    assert len(exported) == 36
    assert all((folder / g).is_dir() for g in ("red", "green", "blue"))  # copy leaves sources

    code, out, _ = run(capsys, "undo-export", manifest)
    assert code == 0
    assert list(dest.rglob("*.jpg")) == []
    assert len(list(folder.rglob("*.jpg"))) == 37  # 36 photos + broken.jpg, all still there


def test_info_on_unindexed_folder_is_a_sentence(tmp_path, capsys):
    code, _, err = run(capsys, "info", str(tmp_path))
    assert code == 1 and "not been indexed" in err


def test_console_script_help_runs_without_heavy_imports():
    code = ("import sys; from photoclust_app.cli import build_parser; build_parser();"
            "heavy = [m for m in ('torch', 'umap', 'hdbscan', 'PySide6') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

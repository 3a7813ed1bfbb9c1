"""render_screenshot: the window on an indexed library, a cluster selected, thumbnails in."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from photoclust_app.core.errors import LibraryError
from photoclust_app.gui.screenshot import render_screenshot


def _reddish_pixels(img: QImage, x0: int, x1: int) -> int:
    n = 0
    for y in range(0, img.height(), 6):
        for x in range(x0, x1, 6):
            c = img.pixelColor(x, y)
            n += c.red() > 150 and c.green() < 80 and c.blue() < 80
    return n


def test_screenshot_shows_the_selected_cluster_with_thumbnails(built_folder, tmp_path, qapp):
    out = tmp_path / "shot.png"
    render_screenshot(built_folder, out, size=(1000, 700))
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1000, 700)
    # the first cluster (red photos) is selected: its thumbnails fill the grid in the middle
    assert _reddish_pixels(img, 300, 700) > 200


def test_screenshot_of_a_folder_never_indexed_says_so(tmp_path, qapp):
    with pytest.raises(LibraryError):
        render_screenshot(tmp_path, tmp_path / "x.png")


def test_screenshot_in_a_fresh_process_goes_offscreen_by_itself(built_folder, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.pop("DISPLAY", None)
    out = tmp_path / "cli.png"
    code = f"from photoclust_app.gui.screenshot import render_screenshot; render_screenshot({str(built_folder)!r}, {str(out)!r})"
    r = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert QImage(str(out)).size().width() == 1400

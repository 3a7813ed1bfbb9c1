"""Start-up: the window module pulls in no heavy library, and the window shows without torch
(how fast: photoclust_app/gui/bench_gui.py, startup_window_shown_s)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "open_clip", "umap", "hdbscan", "numba", "sklearn", "timm")


def _run(code: str, **env) -> subprocess.CompletedProcess:
    full = dict(os.environ, QT_QPA_PLATFORM="offscreen", **env)
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=full, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("module", ["photoclust_app.gui.main_window", "photoclust_app.gui.app",
                                    "photoclust_app.gui.screenshot"])
def test_importing_the_gui_imports_no_heavy_library(module):
    out = _run(f"import sys, {module}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_window_shows_and_gets_ready_without_torch(tmp_path):
    out = _run("from photoclust_app.gui.app import run_app; raise SystemExit(run_app(None))",
               PHOTOCLUST_STARTUP_PROBE="1", XDG_CONFIG_HOME=str(tmp_path), PHOTOCLUST_LOG_DIR=str(tmp_path))
    assert out.returncode == 0, out.stderr
    lines = {ln.split()[0]: ln.split()[1:] for ln in out.stdout.splitlines() if ln.startswith("photoclust-")}
    assert lines["photoclust-window-shown"][1] == "torch=False"
    assert lines["photoclust-ready"][1] == "torch=False"     # the pre-load task ran and reported
    assert float(lines["photoclust-ready"][0]) >= float(lines["photoclust-window-shown"][0])

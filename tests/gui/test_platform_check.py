"""Where Qt cannot open a window (no display, Qt's X11 libraries missing, a display that does
not answer), `photoclust` prints one sentence and exits 1 instead of Qt's abort (exit 134)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from photoclust_app.gui import app as gui_app
from photoclust_app.gui import platform_check as pc

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_qt_app(monkeypatch):
    """run_app must say its sentence before it makes a QApplication."""
    def refuse(*a, **k):
        raise AssertionError("a QApplication was made although Qt cannot start")
    monkeypatch.setattr(gui_app, "make_application", refuse)


def _sentence(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_no_display_says_so_and_points_at_the_command_line(monkeypatch, capsys, no_qt_app):
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(pc.sys, "platform", "linux")
    assert gui_app.run_app(None) == 1
    text = _sentence(capsys)
    assert "no display" in text and "photoclust index FOLDER" in text and text.endswith(".")


def test_missing_xcb_libraries_name_the_packages(monkeypatch, capsys, no_qt_app):
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(pc.sys, "platform", "linux")
    asked = []
    monkeypatch.setattr(pc, "missing_libraries", lambda lib: asked.append(lib) or
                        ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert gui_app.run_app(None) == 1
    text = _sentence(capsys)
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in text
    assert "sudo dnf install xcb-util-wm xcb-util-keysyms" in text
    assert asked and asked[0].name == "libqxcb.so"


def test_ldd_output_is_read_for_not_found(monkeypatch, tmp_path):
    out = ("\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x1)\n"
           "\tlibxcb-icccm.so.4 => not found\n\tlibxcb-keysyms.so.1 => not found\n\tlibxcb-icccm.so.4 => not found\n")
    monkeypatch.setattr(pc.shutil, "which", lambda name: "/usr/bin/ldd")
    monkeypatch.setattr(pc.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, out, ""))
    assert pc.missing_libraries(tmp_path / "libqxcb.so") == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]


def test_the_real_plugin_is_found_and_checked():
    plugin = pc.qt_plugin("xcb")
    assert plugin is not None and plugin.name == "libqxcb.so"
    assert isinstance(pc.missing_libraries(plugin), list)


@pytest.mark.parametrize("env", [{"QT_QPA_PLATFORM": "offscreen"}, {"QT_QPA_PLATFORM": "minimal"},
                                 {"WAYLAND_DISPLAY": "wayland-0"},                  # Qt tries Wayland first
                                 {"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland"}])
def test_nothing_is_said_where_qt_can_try(env, monkeypatch):
    monkeypatch.setattr(pc, "missing_libraries", lambda lib: ["libxcb-icccm.so.4"])
    assert pc.start_problem(env, platform="linux") is None


def test_every_library_maps_to_a_debian_and_a_fedora_package():
    assert "libxcb-icccm4" in pc.DEBIAN_PACKAGES and "libxcb-keysyms1" in pc.DEBIAN_PACKAGES
    assert "xcb-util-wm" in pc.FEDORA_PACKAGES and "xcb-util-keysyms" in pc.FEDORA_PACKAGES
    readme = (REPO / "README.md").read_text()
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    deb_line = next(ln for ln in setup.splitlines() if "apt-get install" in ln).split()
    rpm_line = next(ln for ln in setup.splitlines() if "dnf install" in ln).split()
    assert sorted(deb_line[3:]) == pc.DEBIAN_PACKAGES                             # the README lists them
    assert sorted(rpm_line[3:]) == pc.FEDORA_PACKAGES
    ci = (REPO / ".ci" / "run").read_text()
    ci_list = ci.split('QT_PACKAGES="', 1)[1].split('"', 1)[0].split()
    assert sorted(ci_list) == pc.DEBIAN_PACKAGES                                  # and what CI installs


def test_a_display_that_does_not_answer(monkeypatch):
    text = pc.fatal_sentence(["qt.qpa.xcb: could not connect to display :42", "Could not load the Qt platform"],
                             {"DISPLAY": ":42"})
    assert "display :42 does not answer" in text and "photoclust --help" in text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 only")
@pytest.mark.parametrize("code", [
    "from photoclust_app.gui.app import run_app; raise SystemExit(run_app(None))",
    # past the first check (as when ldd cannot see a problem): Qt's own fatal error is caught
    "from photoclust_app.gui.app import make_application; make_application(); print('started')",
])
def test_a_real_qt_start_without_a_display_server_exits_1_with_one_sentence(code, tmp_path):
    n = next(n for n in range(4321, 4400) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", DISPLAY=f":{n}", XDG_CONFIG_HOME=str(tmp_path),
               PHOTOCLUST_LOG_DIR=str(tmp_path))
    env.pop("WAYLAND_DISPLAY", None)
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("photoclust cannot open its window"), r.stderr
    assert "photoclust --help" in lines[0]

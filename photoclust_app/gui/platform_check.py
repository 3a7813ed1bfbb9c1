"""Can Qt open a window here? Asked before the QApplication exists, so that a machine without
a display or without Qt's X11 libraries gets one sentence instead of Qt's abort (exit 134,
"xcb-cursor0 or libxcb-cursor0 is needed", which names the wrong library on Debian 12).

Two checks, both cheap (no Qt platform is loaded): is there a display to talk to (DISPLAY or
WAYLAND_DISPLAY), and does ``ldd`` find every library the xcb platform plugin needs. What they
cannot see (a display that does not answer, a library ldd cannot judge) is caught by
``fatal_guard``: Qt's fatal message becomes the sentence and the process exits with 1.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

# The shared libraries PySide6's xcb platform plugin (libqxcb.so, libQt6XcbQpa.so.6, its GL
# integrations) and QtGui load, with the package that ships each: Debian 12 / Ubuntu, Fedora.
# Measured with readelf/ldd on PySide6 6.11 and dpkg -S on Debian 12; the README's Set up
# section lists the same packages, and .ci/run installs exactly them and starts the window.
LIBRARY_PACKAGES: dict[str, tuple[str, str]] = {
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
}
DEBIAN_PACKAGES = sorted({deb for deb, _ in LIBRARY_PACKAGES.values()})
FEDORA_PACKAGES = sorted({rpm for _, rpm in LIBRARY_PACKAGES.values()})

CLI_HINT = "the command line, which needs no window (photoclust index FOLDER; photoclust --help lists the rest)"
# Platforms that need no display server: nothing to check.
_HEADLESS = ("offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs", "vkkhrdisplay")


def qt_plugin(name: str) -> Path | None:
    """PySide6's platform plugin NAME (e.g. 'xcb'), without loading Qt's GUI."""
    try:
        import PySide6
    except ImportError:
        return None
    path = Path(PySide6.__file__).resolve().parent / "Qt" / "plugins" / "platforms" / f"libq{name}.so"
    return path if path.exists() else None


def missing_libraries(library: Path | None) -> list[str]:
    """The sonames ldd reports as 'not found' for LIBRARY (with what they need in turn);
    empty when all are there or ldd cannot tell (no ldd: Qt's own check then speaks)."""
    if library is None or shutil.which("ldd") is None:
        return []
    try:
        out = subprocess.run(["ldd", str(library)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError) as err:
        log.info("ldd %s failed: %s", library, err)
        return []
    missing = [line.split("=>")[0].strip() for line in out.splitlines() if "=> not found" in line]
    return list(dict.fromkeys(missing))


def install_hint(sonames: list[str]) -> str:
    """'sudo apt-get install A B (Fedora: sudo dnf install C D)' for the packages shipping SONAMES."""
    deb = list(dict.fromkeys(LIBRARY_PACKAGES.get(s, (s, s))[0] for s in sonames))
    rpm = list(dict.fromkeys(LIBRARY_PACKAGES.get(s, (s, s))[1] for s in sonames))
    return f"sudo apt-get install {' '.join(deb)} (Fedora: sudo dnf install {' '.join(rpm)})"


def start_problem(env: dict | None = None, *, platform: str | None = None) -> str | None:
    """One sentence saying why Qt cannot open a window here, or None when it should."""
    env = os.environ if env is None else env
    if not (platform or sys.platform).startswith("linux"):
        return None
    qpa = (env.get("QT_QPA_PLATFORM") or "").split(":")[0].strip().lower()
    wanted = [p.strip() for p in qpa.split(";") if p.strip()]
    if any(p in _HEADLESS for p in wanted):
        return None
    display, wayland = bool(env.get("DISPLAY")), bool(env.get("WAYLAND_DISPLAY"))
    if not display and not wayland:
        return ("photoclust cannot open its window because there is no display here (neither DISPLAY nor "
                f"WAYLAND_DISPLAY is set): start it from a desktop session, or use {CLI_HINT}.")
    xcb_only = wanted == ["xcb"] or (not wanted and not wayland)
    if display and xcb_only:
        missing = missing_libraries(qt_plugin("xcb"))
        if missing:
            return (f"photoclust cannot open its window because Qt's X11 support lacks {', '.join(missing)}: "
                    f"run {install_hint(missing)}, or use {CLI_HINT}.")
    return None


def fatal_sentence(messages: list[str], env: dict | None = None) -> str:
    """The sentence for a Qt start-up that failed anyway (a display that does not answer, a
    library the first check could not see), from the messages Qt gave before it gave up."""
    env = os.environ if env is None else env
    if any("could not connect to display" in m.lower() for m in messages):
        return (f"photoclust cannot open its window because the display {env.get('DISPLAY', '')!s} does not "
                f"answer: start it from a running desktop session, or use {CLI_HINT}.")
    missing = missing_libraries(qt_plugin("xcb"))
    if missing:
        return (f"photoclust cannot open its window because Qt's X11 support lacks {', '.join(missing)}: "
                f"run {install_hint(missing)}, or use {CLI_HINT}.")
    reason = next((m for m in messages if "Could not load" in m or "needed" in m), messages[0] if messages else "")
    return (f"photoclust cannot open its window: Qt could not start ({reason.strip().rstrip('.')}); the README's "
            f"Set up section lists the system packages Qt needs, or use {CLI_HINT}.")


@contextlib.contextmanager
def fatal_guard(exit_code: int = 1):
    """While the QApplication is made: Qt's messages go to the log, not the terminal, and a
    fatal one (Qt would abort) prints one sentence and exits with EXIT_CODE instead."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    messages: list[str] = []

    def handler(mode, context, message):
        messages.append(message)
        log.info("Qt at start-up: %s", message)
        if mode == QtMsgType.QtFatalMsg:
            print(fatal_sentence(messages), file=sys.stderr, flush=True)
            os._exit(exit_code)

    qInstallMessageHandler(handler)
    try:
        yield messages
    finally:
        qInstallMessageHandler(None)

"""Hand files to the desktop: open a photo in the system viewer, show it in the file manager."""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

log = logging.getLogger(__name__)


def open_file(path: Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def show_in_folder(path: Path) -> bool:
    """Open the file manager on PATH's folder, with PATH selected where the platform allows."""
    path = Path(path)
    try:
        if sys.platform == "darwin":
            subprocess.Popen(["open", "-R", str(path)])
            return True
        if sys.platform.startswith("win"):
            subprocess.Popen(["explorer", "/select,", str(path)])
            return True
        if shutil.which("dbus-send"):  # the freedesktop way to select a file (Nautilus, Dolphin, ...)
            rc = subprocess.run(
                ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.FileManager1",
                 "/org/freedesktop/FileManager1", "org.freedesktop.FileManager1.ShowItems",
                 f"array:string:{QUrl.fromLocalFile(str(path)).toString()}", "string:"],
                capture_output=True, timeout=2).returncode
            if rc == 0:
                return True
    except (OSError, subprocess.SubprocessError) as err:
        log.info("Could not select %s in the file manager: %s", path, err)
    target = path if path.is_dir() else path.parent
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(target)))

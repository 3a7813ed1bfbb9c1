"""One logging configuration at start-up: warnings to stderr, everything to a log file."""
from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path


def log_file_path() -> Path:
    from platformdirs import user_log_dir

    return Path(os.environ.get("PHOTOCLUST_LOG_DIR") or user_log_dir("photoclust")) / "photoclust.log"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now, so a caller that swaps it (tests, embedding
    apps) never leaves the handler holding a closed stream."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def configure_logging(verbose: bool = False) -> Path | None:
    """Idempotent. Returns the log file, or None when it cannot be written (logging to stderr only)."""
    root = logging.getLogger()
    if getattr(root, "_photoclust_configured", False):
        return getattr(root, "_photoclust_log_file", None)
    root.setLevel(logging.DEBUG)
    console = _StderrHandler()
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root.addHandler(console)
    path: Path | None = log_file_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=2, encoding="utf-8",
                                                       errors="backslashreplace")
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s: %(message)s"))
        root.addHandler(handler)
    except OSError:
        path = None
    for noisy in ("numba", "PIL", "matplotlib", "urllib3", "httpx", "filelock", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root._photoclust_configured = True  # type: ignore[attr-defined]
    root._photoclust_log_file = path  # type: ignore[attr-defined]
    return path

"""A progress line for the terminal: stage, n/N, photos/s, time left; throttled to 10 Hz."""
from __future__ import annotations

import sys
import time
from typing import TextIO


def _fmt_eta(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TerminalProgress:
    """Callable as progress(done, total, stage). On a terminal it redraws one line; elsewhere
    (logs, CI) it prints a line per stage and at most one every few seconds."""

    def __init__(self, stream: TextIO | None = None, unit: str = "photos"):
        self.stream = stream or sys.stderr
        self.unit = unit
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._stage = None
        self._stage_t0 = 0.0
        self._stage_done0 = 0
        self._last = 0.0
        self._width = 0

    def __call__(self, done: int, total: int, stage: str) -> None:
        now = time.monotonic()
        if stage != self._stage:
            self.finish()
            self._stage, self._stage_t0, self._stage_done0, self._last = stage, now, done, 0.0
        final = total > 0 and done >= total
        if not final and now - self._last < (0.1 if self.tty else 5.0):
            return
        self._last = now
        self._write(self.line(done, total, stage, now - self._stage_t0, done - self._stage_done0), final)

    def line(self, done: int, total: int, stage: str, elapsed: float, done_in_stage: int) -> str:
        parts = [f"{stage:<8}"]
        if total:
            parts.append(f"{done}/{total} ({100 * done / total:.0f}%)")
        rate = done_in_stage / elapsed if elapsed > 0.5 and done_in_stage > 0 else None
        if rate:
            parts.append(f"{rate:.1f} {self.unit}/s")
            if total and done < total:
                parts.append(f"ETA {_fmt_eta((total - done) / rate)}")
        return "  ".join(parts)

    def _write(self, text: str, final: bool) -> None:
        if self.tty:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
        self._width = 0

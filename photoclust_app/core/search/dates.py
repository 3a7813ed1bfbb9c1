"""When a photo was taken, as the library knows it: the EXIF capture time, else the file's
modification time; sorting, date ranges and events (runs of photos without a long gap)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

DEFAULT_EVENT_GAP_H = 4.0


def parse_taken(taken_at: str | None) -> datetime | None:
    """The stored ISO capture time ('2021-07-14T18:03:59', maybe with '+02:00') or None."""
    if not taken_at:
        return None
    try:
        return datetime.fromisoformat(str(taken_at))
    except ValueError:
        return None


def photo_time(taken_at: str | None, mtime_ns: int) -> tuple[float, str]:
    """(sortable seconds, 'YYYY-MM-DD') of a photo. A capture time with an offset is exact; one
    without is the camera's wall clock, taken as UTC so that photos of one camera order
    correctly; the file time is shown in the computer's local time zone."""
    dt = parse_taken(taken_at)
    if dt is not None:
        day = dt.date().isoformat()
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp(), day
    seconds = mtime_ns / 1e9
    try:
        day = datetime.fromtimestamp(seconds).date().isoformat()
    except (OverflowError, OSError, ValueError):
        day = "1970-01-01"
    return seconds, day


@dataclass(frozen=True)
class Event:
    """A run of photos, each within the gap of the one before; ids in time order."""

    photo_ids: list[int]
    start: float
    end: float

    @property
    def label(self) -> str:
        a = datetime.fromtimestamp(self.start, timezone.utc)
        b = datetime.fromtimestamp(self.end, timezone.utc)
        if a.date() == b.date():
            return f"{a:%Y-%m-%d %H:%M}\u2013{b:%H:%M}"
        return f"{a:%Y-%m-%d}\u2013{b:%Y-%m-%d}"


def events(times: dict[int, float], gap_hours: float = DEFAULT_EVENT_GAP_H) -> list[Event]:
    """Photos (id -> seconds) split wherever consecutive photos are more than GAP_HOURS apart."""
    if gap_hours <= 0:
        raise ValueError("The gap between events must be positive.")
    order = sorted(times, key=lambda pid: (times[pid], pid))
    out: list[Event] = []
    gap = timedelta(hours=gap_hours).total_seconds()
    for pid in order:
        t = times[pid]
        if out and t - out[-1].end <= gap:
            out[-1].photo_ids.append(pid)
            out[-1] = Event(out[-1].photo_ids, out[-1].start, t)
        else:
            out.append(Event([pid], t, t))
    return out


def date_range(days: list[str]) -> str:
    """'2021-07-14' or '2021-07-14 – 2021-08-02' for a cluster's photos' days; '' when none."""
    if not days:
        return ""
    a, b = min(days), max(days)
    return a if a == b else f"{a} \u2013 {b}"

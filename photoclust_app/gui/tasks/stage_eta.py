"""Time left for clustering, and a bar that moves between the stages' reports (Qt-free).

The clustering stages report little more than their start and end ((0, 1) ... (1, 1)), so
a bar driven by the reports alone sits still for most of a run. Here each stage expects
OVERHEAD_S plus its seconds-per-photo times the photo count: the speed measured by earlier
runs of at least LEARN_MIN_PHOTOS on this machine (``StageSpeeds``; a smaller run is mostly
start-up and would overstate the time per photo), DEFAULT_SPP before the first. Within a stage the
bar moves with the time spent against that expectation, slows as it nears the stage's end
and never reaches it before the stage reports done; the whole never goes backwards. Stages
finished in this run correct the expectation of those still to come (a loaded machine is
slow for all of them). A stage not in STAGES still counts, with UNKNOWN_SPP.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Mapping

STAGES = ("neighbours", "reduce", "cluster", "layout")
# Seconds per photo before any run was measured (about 50 s at 100k photos in all).
DEFAULT_SPP = {"neighbours": 1.5e-4, "reduce": 1.5e-4, "cluster": 0.5e-4, "layout": 1.5e-4}
UNKNOWN_SPP = 0.2e-4
OVERHEAD_S = 0.5          # per stage, whatever the count (start-up, imports)
LEARN_MIN_PHOTOS = 5000   # smaller runs are mostly start-up: they teach nothing about the speed
LEARN_WEIGHT = 0.5        # a new measurement's share in the stored speed
WITHIN_CAP = 0.97         # the most of a stage the clock alone may show


def within(elapsed: float, expected: float) -> float:
    """How far into a stage to show after ELAPSED of an EXPECTED seconds: linear to 90% at
    the expected end, then ever slower towards WITHIN_CAP (a stage may run over)."""
    t = elapsed / max(expected, 1e-9)
    if t <= 1.0:
        return 0.9 * t
    return 0.9 + (WITHIN_CAP - 0.9) * (1.0 - math.exp(-(t - 1.0)))


def left_text(seconds: float) -> str:
    """"about 40 s left", rounded as a person would say it."""
    if seconds < 8:
        return "a few seconds left"
    if seconds < 90:
        return f"about {int(round(seconds / 5.0)) * 5} s left"
    minutes = int(round(seconds / 60.0))
    if minutes < 60:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60:02d} min left"


class StageEstimate:
    """One clustering run over N photos: feed it every ``report(done, total, stage)``; read
    ``fraction()`` (0..1, never backwards) and ``seconds_left()`` whenever the clock ticks."""

    def __init__(self, n: int, spp: Mapping[str, float] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.n = max(1, int(n))
        self.clock = clock
        self.spp = {**DEFAULT_SPP, **{k: float(v) for k, v in (spp or {}).items() if v is not None and v >= 0}}
        self.ahead: list[str] = list(STAGES)          # stages still expected, in order
        self.finished: list[tuple[str, float, bool]] = []  # (stage, seconds, really ran)
        self.stage: str | None = None                 # the one running now
        self._t0 = 0.0
        self._reported = 0.0                          # the stage's own done/total
        self._ran = False                             # it reported a start before its end
        self._shown = 0.0

    def expected(self, stage: str) -> float:
        return OVERHEAD_S + self.spp.get(stage, UNKNOWN_SPP) * self.n

    def report(self, done: int, total: int, stage: str) -> None:
        now = self.clock()
        if stage != self.stage:
            self._end(now)
            if stage in self.ahead:     # stages before it did not run (another pipeline)
                del self.ahead[:self.ahead.index(stage) + 1]
            self.stage, self._t0, self._reported, self._ran = stage, now, 0.0, False
        if total > 0:
            self._reported = max(self._reported, min(1.0, done / total))
            if done < total:
                self._ran = True
            else:
                self._end(now)

    def abandon(self) -> None:
        """The task ended mid-stage (cancelled, failed): that stage is not measured."""
        self.stage = None

    def _end(self, now: float) -> None:
        if self.stage is not None:
            self.finished.append((self.stage, now - self._t0, self._ran))
            self.stage = None

    def _ratio(self) -> float:
        """This run's speed against the expectation, from the stages it finished (1/3..3)."""
        ran = [(s, secs) for s, secs, really in self.finished if really]
        if not ran:
            return 1.0
        want = sum(self.expected(s) for s, _ in ran)
        return min(3.0, max(1 / 3, sum(secs for _, secs in ran) / want))

    def _parts(self) -> tuple[float, float, float, float]:
        """(seconds finished, current stage's expected, its elapsed, seconds of stages ahead)."""
        ratio = self._ratio()
        done_s = sum(secs for _, secs, _ in self.finished)
        ahead_s = sum(self.expected(s) for s in self.ahead) * ratio
        if self.stage is None:
            return done_s, 0.0, 0.0, ahead_s
        return done_s, self.expected(self.stage) * ratio, self.clock() - self._t0, ahead_s

    def fraction(self) -> float:
        done_s, cur, elapsed, ahead_s = self._parts()
        f = min(WITHIN_CAP, max(within(elapsed, cur) if cur else 0.0, self._reported if self.stage else 0.0))
        total = done_s + cur + ahead_s
        value = 1.0 if total <= 0 else (done_s + f * cur) / total
        if self.ahead or self.stage is not None:
            value = min(value, 0.99)   # 100% only once every stage has ended
        self._shown = max(self._shown, value)
        return self._shown

    def seconds_left(self) -> float:
        _, cur, elapsed, ahead_s = self._parts()
        if not cur:
            return ahead_s
        if 0.0 < self._reported < 1.0 and elapsed > 1.0:   # a stage that counts: trust its pace
            now = elapsed * (1.0 - self._reported) / self._reported
        else:
            now = max(cur - elapsed, 0.1 * cur)
        return now + ahead_s

    def text(self) -> str:
        return left_text(self.seconds_left())

    def measured(self) -> dict[str, float]:
        """Seconds per photo of each stage that really ran to its end in this run (stored by
        StageSpeeds for the next estimate); nothing from a run too small to tell."""
        if self.n < LEARN_MIN_PHOTOS:
            return {}
        return {s: max(0.0, secs - OVERHEAD_S) / self.n for s, secs, really in self.finished if really}


class StageSpeeds:
    """The measured seconds-per-photo of each stage, kept in a settings store with
    ``value(key)`` and ``setValue(key, value)`` (a QSettings, or a dict-backed stand-in)."""

    PREFIX = "clustering_speed/"

    def __init__(self, store):
        self.store = store

    def load(self) -> dict[str, float]:
        out = {}
        for stage in (*STAGES, *self._others()):
            try:
                v = float(self.store.value(self.PREFIX + stage))
            except (TypeError, ValueError):
                continue
            if math.isfinite(v) and v >= 0:
                out[stage] = v
        return out

    def _others(self) -> list[str]:
        keys = getattr(self.store, "allKeys", None)
        if keys is None:
            return []
        return [k[len(self.PREFIX):] for k in keys() if k.startswith(self.PREFIX) and k[len(self.PREFIX):] not in STAGES]

    def learn(self, measured: Mapping[str, float]) -> None:
        """Blend MEASURED into what is stored (LEARN_WEIGHT), so one odd run moves it halfway."""
        old = self.load()
        for stage, spp in measured.items():
            new = spp if stage not in old else (1 - LEARN_WEIGHT) * old[stage] + LEARN_WEIGHT * spp
            self.store.setValue(self.PREFIX + stage, float(new))

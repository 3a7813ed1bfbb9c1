"""The clustering time-left estimate, as pure code on a fake clock: stage weights from the
photo count and stored speeds, a bar that the clock moves between reports but never
backwards and never to 100% before the last stage ends, and speeds learnt from whole stages."""
import pytest

from photoclust_app.gui.tasks.stage_eta import (DEFAULT_SPP, OVERHEAD_S, StageEstimate, StageSpeeds, left_text,
                                                within)


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


SPP = {"neighbours": 1e-4, "reduce": 3e-4, "cluster": 1e-4, "layout": 1e-4}   # 10, 30, 10, 10 s (+0.5 each) at 100k


def run_stage(est, clock, stage, seconds, steps=10, fractions=None):
    """Report STAGE's start, tick the clock SECONDS in STEPS, then its end; the fractions seen."""
    seen = []
    est.report(0, 1, stage)
    for _ in range(steps):
        clock.t += seconds / steps
        seen.append(est.fraction())
    est.report(1, 1, stage)
    seen.append(est.fraction())
    return seen


def test_the_first_estimate_comes_from_the_photo_count_and_the_stored_speeds():
    clock = Clock()
    est = StageEstimate(100_000, SPP, clock)
    est.report(0, 1, "neighbours")
    assert est.seconds_left() == pytest.approx(60 + 4 * OVERHEAD_S)
    assert est.text() == "about 60 s left"
    big = StageEstimate(1_000_000, SPP, clock)
    big.report(0, 1, "neighbours")
    assert big.seconds_left() > 9 * est.seconds_left()   # ten times the photos: about ten times the time


def test_the_bar_moves_with_the_clock_within_a_stage_but_stops_short_of_its_end():
    clock = Clock()
    est = StageEstimate(100_000, SPP, clock)
    est.report(0, 1, "neighbours")
    start = est.fraction()
    clock.t += 5.0   # half the stage
    mid = est.fraction()
    assert mid > start
    clock.t += 1000.0   # the stage runs far over: the bar creeps, never past the stage's share
    late = est.fraction()
    share = (10 + OVERHEAD_S) / (60 + 4 * OVERHEAD_S)
    assert mid < late < share
    est.report(1, 1, "neighbours")
    assert est.fraction() >= late


def test_the_bar_never_goes_backwards_and_reaches_100_only_at_the_end():
    clock = Clock()
    est = StageEstimate(100_000, SPP, clock)
    seen = []
    seen += run_stage(est, clock, "neighbours", 40)   # four times slower than expected
    seen += run_stage(est, clock, "reduce", 5)        # much faster
    seen += run_stage(est, clock, "cluster", 10)
    seen += run_stage(est, clock, "layout", 30)[:-1]
    assert seen == sorted(seen)
    assert max(seen) < 1.0
    assert est.fraction() == 1.0 or est.stage is None   # the last report ended every stage
    assert est.fraction() == pytest.approx(1.0)


def test_a_slow_stage_makes_the_stages_ahead_slower_too():
    clock = Clock()
    est = StageEstimate(100_000, SPP, clock)
    run_stage(est, clock, "neighbours", 2 * (10 + OVERHEAD_S))   # twice as slow as expected
    est.report(0, 1, "reduce")
    assert est.seconds_left() == pytest.approx(2 * (30 + 10 + 10 + 3 * OVERHEAD_S))


def test_stages_that_do_not_come_are_not_waited_for():
    clock = Clock()
    est = StageEstimate(100_000, SPP, clock)
    est.report(0, 1, "reduce")   # a pipeline without the neighbours stage
    assert est.seconds_left() == pytest.approx(50 + 3 * OVERHEAD_S)
    clock.t += 30 + OVERHEAD_S   # as expected
    est.report(1, 1, "reduce")
    est.report(0, 1, "layout")   # and without the cluster stage
    assert est.seconds_left() == pytest.approx(10 + OVERHEAD_S)


def test_an_unknown_stage_counts_and_shows_sensibly():
    clock = Clock()
    est = StageEstimate(100_000, SPP, clock)
    run_stage(est, clock, "neighbours", 10)
    before = est.fraction()
    est.report(0, 1, "sharpening")
    assert est.stage == "sharpening"
    assert est.seconds_left() > 50   # its own time plus every known stage still ahead
    clock.t += 2
    assert est.fraction() >= before
    from photoclust_app.gui.progress_panel import stage_name

    assert stage_name("sharpening_edges") == "Sharpening edges"
    assert stage_name("reduce") == "Reducing"


def test_a_stage_that_counts_its_work_is_trusted_for_its_pace():
    clock = Clock()
    est = StageEstimate(100_000, SPP, clock)
    est.report(0, 100, "neighbours")
    clock.t += 4.0
    est.report(80, 100, "neighbours")   # 80% in 4 s: 1 s more, not the 6.5 s the default expects
    assert est.seconds_left() == pytest.approx(1.0 + 50 + 3 * OVERHEAD_S)
    assert est.fraction() > within(4.0, 10.5) * 10.5 / (60 + 4 * OVERHEAD_S)


def test_measured_speeds_are_learnt_and_blended():
    clock = Clock()
    est = StageEstimate(10_000, None, clock)
    run_stage(est, clock, "neighbours", OVERHEAD_S + 2.0)
    est.report(1, 1, "reduce")          # skipped (no start): teaches nothing
    est.report(0, 1, "cluster")
    clock.t += 5
    est.abandon()                       # cancelled mid-stage: teaches nothing
    assert est.measured() == {"neighbours": pytest.approx(2.0 / 10_000)}
    store = {}

    class Store:
        def value(self, key):
            return store.get(key)

        def setValue(self, key, value):  # noqa: N802 (QSettings name)
            store[key] = str(value)

    speeds = StageSpeeds(Store())
    assert speeds.load() == {}
    speeds.learn(est.measured())
    assert speeds.load() == {"neighbours": pytest.approx(2e-4)}
    speeds.learn({"neighbours": 4e-4})
    assert speeds.load()["neighbours"] == pytest.approx(3e-4)
    again = StageEstimate(10_000, speeds.load(), clock)
    assert again.expected("neighbours") == pytest.approx(OVERHEAD_S + 3.0)
    assert again.expected("reduce") == pytest.approx(OVERHEAD_S + DEFAULT_SPP["reduce"] * 10_000)
    small = StageEstimate(1_000, None, clock)
    run_stage(small, clock, "reduce", 7.0)
    assert small.measured() == {}   # a small run is mostly start-up


def test_time_left_reads_like_a_person_says_it():
    assert left_text(3) == "a few seconds left"
    assert left_text(41) == "about 40 s left"
    assert left_text(150) == "about 2 min left"
    assert left_text(2 * 3600 + 5 * 60) == "about 2 h 05 min left"

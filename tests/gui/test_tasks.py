"""The one task runner: throttled progress, partial results in order on the GUI thread, cancel,
failures as sentences, several runners at once."""
import threading
import time

import pytest

from photoclust_app.core.errors import LibraryError
from photoclust_app.gui.tasks import RateMeter, TaskRunner, Throttle


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_throttle_lets_through_first_last_and_every_interval():
    clock = Clock()
    th = Throttle(0.1, clock)
    passed = []
    for i in range(101):
        clock.t = i * 0.01
        if th.ready(i, 100, "index"):
            passed.append(i)
    assert passed[0] == 0 and passed[-1] == 100
    assert 10 <= len(passed) <= 12
    assert th.ready(0, 5, "cluster")  # a new stage always shows


def test_rate_meter_photos_per_second_and_time_left():
    clock = Clock()
    m = RateMeter(clock)
    assert m.update(0, 100, "index") == (None, None)
    clock.t = 2.0
    rate, left = m.update(40, 100, "index")
    assert rate == pytest.approx(20.0) and left == pytest.approx(3.0)
    assert m.update(0, 10, "cluster") == (None, None)  # a new stage starts over


@pytest.fixture
def runner(qtbot):
    r = TaskRunner()
    yield r
    r.cancel()
    r.wait(10000)


def test_progress_is_throttled_and_results_arrive_in_order(runner, qtbot):
    got = []
    delivered_on = set()
    runner.progress.connect(lambda d, t, s: (got.append(("progress", d)), delivered_on.add(threading.get_ident())))
    runner.partial.connect(lambda k, p: (got.append((k, p)), delivered_on.add(threading.get_ident())))
    main = threading.get_ident()
    seen = {}

    def job(ctx):
        seen["thread"] = threading.get_ident()
        for i in range(2001):
            ctx.progress(i, 2000, "index")
            time.sleep(0.0002)
        ctx.partial("state", 1)
        ctx.partial("state", 2)
        return "done"

    with qtbot.waitSignal(runner.finished, timeout=20000) as sig:
        assert runner.start("t", job)
    assert sig.args == ["t", "done"]
    assert seen["thread"] != main
    assert delivered_on == {main}   # the worker never emits: everything arrives on the GUI thread
    progress = [v for k, v in got if k == "progress"]
    assert progress[0] == 0 and progress[-1] == 2000
    assert len(progress) < 60  # ~10 Hz, not 2001 signals
    assert [p for k, p in got if k == "state"] == [1, 2]
    assert not runner.is_running()


def test_one_task_at_a_time(runner, qtbot):
    release = threading.Event()
    runner.start("a", lambda ctx: release.wait(5))
    assert not runner.start("b", lambda ctx: None)
    release.set()
    qtbot.waitUntil(lambda: not runner.is_running())
    assert runner.start("b", lambda ctx: None)


def test_cancel_is_seen_by_the_job(runner, qtbot):
    def job(ctx):
        while True:
            ctx.check_cancel()
            time.sleep(0.01)

    runner.start("loop", job)
    with qtbot.waitSignal(runner.cancelled, timeout=5000) as sig:
        runner.cancel()
    assert sig.args == ["loop", "Cancelled; the work done so far is kept."]


def test_a_result_that_lands_after_cancel_is_discarded(runner, qtbot):
    def job(ctx):  # like a UMAP fit: cannot look at cancel while it runs
        time.sleep(0.3)
        return "late"

    results = []
    runner.finished.connect(lambda n, r: results.append(r))
    runner.start("fit", job)
    with qtbot.waitSignal(runner.cancelled, timeout=5000):
        runner.cancel()
    assert results == []


def test_a_task_may_keep_a_result_that_lands_after_cancel(runner, qtbot):
    """An export that finished its last file as Cancel was pressed: the files are there."""
    release = threading.Event()
    runner.start("export", lambda ctx: release.wait(5) and "manifest", discard_if_cancelled=False)
    runner.cancel()
    assert runner.cancel_requested
    with qtbot.waitSignal(runner.finished, timeout=5000) as sig:
        release.set()
    assert sig.args == ["export", "manifest"]


def test_a_cancelled_error_says_what_was_kept(runner, qtbot):
    from photoclust_app.core.errors import Cancelled

    def job(ctx):
        raise Cancelled("Export cancelled after 3 of 8 photos.")

    with qtbot.waitSignal(runner.cancelled, timeout=5000) as sig:
        runner.start("export", job)
    assert sig.args == ["export", "Export cancelled after 3 of 8 photos."]


def test_several_runners_run_at_once(qtbot):
    a, b = TaskRunner(), TaskRunner()
    a_in, b_in, release = threading.Event(), threading.Event(), threading.Event()
    a.start("window", lambda ctx: a_in.set() or release.wait(5) and "a")
    b.start("dialog", lambda ctx: b_in.set() or release.wait(5) and "b")
    assert a_in.wait(5) and b_in.wait(5)          # both are running together
    assert a.is_running() and b.is_running()
    got = []
    a.finished.connect(lambda n, r: got.append((n, r)))
    b.finished.connect(lambda n, r: got.append((n, r)))
    release.set()
    qtbot.waitUntil(lambda: len(got) == 2, timeout=5000)
    assert sorted(got) == [("dialog", "b"), ("window", "a")]


def test_a_custom_describe_words_the_errors(qtbot):
    import errno

    from photoclust_app.gui.tasks import error_sentence

    r = TaskRunner(describe=lambda err: error_sentence(err, "The export"))

    def job(ctx):
        raise OSError(errno.ENOSPC, "No space left on device", "/out")

    with qtbot.waitSignal(r.failed, timeout=5000) as sig:
        r.start("x", job)
    assert sig.args == ["x", "The export could not go on: No space left on device (/out)."]


def test_errors_become_sentences(runner, qtbot):
    with qtbot.waitSignal(runner.failed, timeout=5000) as sig:
        runner.start("x", lambda ctx: (_ for _ in ()).throw(LibraryError("The library is broken.")))
    assert sig.args == ["x", "The library is broken."]
    with qtbot.waitSignal(runner.failed, timeout=5000) as sig:
        runner.start("y", lambda ctx: 1 / 0)
    assert "ZeroDivisionError" in sig.args[1] and "log" in sig.args[1]


def test_wait_delivers_the_last_signals(runner, qtbot):
    got = []
    runner.partial.connect(lambda k, p: got.append(k))
    runner.start("w", lambda ctx: ctx.partial("last"))
    assert runner.wait(5000)
    assert got == ["last"] and not runner.is_running()



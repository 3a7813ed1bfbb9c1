"""The engine process: requests, errors, progress, cancel (graceful or by kill), restarts."""
import time

import pytest

from photoclust_app.core.errors import Cancelled, LibraryError
from photoclust_app.engine.engine import Engine


@pytest.fixture
def engine():
    e = Engine(ops="engine_test_ops")
    yield e
    e.close()


def test_runs_in_another_process_and_restarts_after_a_kill(engine):
    import os

    pid = engine.call("ping")
    assert pid != os.getpid() and engine.pid == pid
    flag = {"n": 0}

    def cancel():
        flag["n"] += 1
        return flag["n"] > 3

    with pytest.raises(Cancelled):  # a finished 30 s sleep would return instead of raising
        engine.call("sleep", 30.0, cancel=cancel)  # ignores cancel, like a UMAP fit: killed
    assert engine.pid is None
    assert engine.call("ping") not in (None, pid)


def test_a_task_that_checks_cancel_stops_by_itself(engine):
    engine.call("ping")
    pid = engine.pid
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        engine.call("sleep", 30.0, True, cancel=lambda: time.monotonic() - t0 > 0.2)
    assert engine.pid == pid  # still alive: no kill was needed


def test_progress_is_relayed_and_errors_keep_their_type(engine, tmp_path):
    seen = []
    assert engine.call("sleep", 0.2, progress=lambda d, t, s: seen.append(s)) == 0.2
    assert seen and set(seen) == {"sleep"}
    with pytest.raises(LibraryError):
        engine.call("cluster", str(tmp_path / "missing"), "cpu")

"""Engine ops for tests only: the production handlers plus a ping and a sleep that does
(or does not) check for cancel, like an index batch loop or a UMAP fit."""
import os
import time

from photoclust_app.core.errors import Cancelled
from photoclust_app.engine import ops


def ping(progress, cancel):
    return os.getpid()


def sleep(progress, cancel, seconds: float, interruptible: bool = False):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if interruptible and cancel():
            raise Cancelled("Cancelled; the work done so far is kept.")
        progress(0, 0, "sleep")
        time.sleep(0.02)
    return seconds


HANDLERS = {**ops.HANDLERS, "ping": ping, "sleep": sleep}
GRACE = {**ops.GRACE, "sleep": ops.INDEX_CANCEL_GRACE_S}

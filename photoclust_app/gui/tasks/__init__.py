"""Background work in the GUI, one way: ``TaskRunner.start(name, job)``.

A job is a plain function ``job(ctx) -> result`` run in a worker thread (see runner.py for
what ``ctx`` offers). Everything a worker hands back (progress, partial results, the result,
an error as a sentence) reaches the GUI thread through ``call_in_gui`` (gui_thread.py), never
as a signal emitted in the worker. One runner runs one task at a time; a window and a dialog
that need to work at the same time each own a runner. The thumbnail loader keeps its own pool
of decode workers but hands its results over through the same ``call_in_gui``.
"""
from photoclust_app.gui.tasks.gui_thread import call_in_gui, deliver_pending, prepare
from photoclust_app.gui.tasks.rates import RateMeter, Throttle
from photoclust_app.gui.tasks.runner import TaskContext, TaskRunner, error_sentence

__all__ = ["TaskRunner", "TaskContext", "Throttle", "RateMeter", "error_sentence", "call_in_gui",
           "deliver_pending", "prepare"]

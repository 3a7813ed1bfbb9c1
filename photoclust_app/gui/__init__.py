"""The PySide6 desktop app: thin Qt adapters over the Qt-free core (photoclust_app.core).

Nothing here imports torch, open_clip, umap or hdbscan: heavy work runs in the engine
process (engine.py), so the window shows before any of it loads.
"""
import sys


def _immortalize_none_and_bools() -> None:
    """Work around a reference-counting bug in PySide6 6.12.0 on CPython < 3.12.

    Measured here: every ``SignalInstance.emit()`` drops a reference to ``True`` it never
    took, and every call of a C++ method returning void (``setText``, ``beginResetModel``,
    ``disconnect``...) does the same to ``None``. After a few hundred signals the process
    aborts with "Fatal Python error: bool_dealloc" (seen in the thumbnail loader). CPython
    3.12 made these objects immortal; here we do the same by adding 2**40 to their counts,
    which no run can use up. Checked with sys.getrefcount, so a build with another object
    layout is left alone.
    """
    if sys.version_info >= (3, 12) or getattr(sys, "_photoclust_immortal", False):
        return
    try:
        import ctypes

        for obj in (None, True, False):
            before = sys.getrefcount(obj)
            cell = ctypes.c_ssize_t.from_address(id(obj))
            if abs(cell.value - (before - 1)) > 1000:  # not the refcount field: unknown layout
                continue
            cell.value += 1 << 40
        sys._photoclust_immortal = True
    except Exception:  # only a safety net
        pass


_immortalize_none_and_bools()

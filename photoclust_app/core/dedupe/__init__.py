"""Duplicates and bursts: find them (find), choose the copy to keep (keeper), move the others
to the desktop trash or a folder with a journal (remove, trash), and undo that (undo).
Qt-free; the CLI (cli_dedupe.py) and the review view call the same functions."""
from __future__ import annotations

from photoclust_app.core.dedupe.find import (KINDS, DuplicatesError, Group, Member, Settings, default_threshold,
                                             find_duplicates)

__all__ = ["KINDS", "DuplicatesError", "Group", "Member", "Settings", "default_threshold", "find_duplicates"]

from photoclust_app.core.dedupe.remove import (RemovalPlan, RemovalRefused, RemovalReport, forget_removed,  # noqa: E402
                                               plan_removal, run_removal)
from photoclust_app.core.dedupe.undo import RestoreReport, undo_removal  # noqa: E402

__all__ += ["RemovalPlan", "RemovalRefused", "RemovalReport", "forget_removed", "plan_removal", "run_removal",
            "RestoreReport", "undo_removal"]

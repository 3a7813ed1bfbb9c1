"""The clusters' corrections in the window: forgetting them.

Each cluster row shows what the user taught it ("12 placed by hand · 3 kept out", painted by
the cluster list, counted by its model); this module adds the commands that forget them:
"Clear Corrections" on a cluster's context menu and Clusters › "Clear All Corrections…"
(after a question). Both are one undoable entry (Session.clear_corrections); the photos stay
where they are, only the constraints go.
"""
from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from photoclust_app.gui.models.cluster_list_model import corrections_text


def window_menu(win, title: str):
    """The window's menu titled TITLE (as actions.py built it), or None."""
    for a in win.menuBar().actions():
        if a.menu() is not None and a.text().replace("&", "") == title:
            return a.menu()
    return None


class CorrectionsCommands:
    def __init__(self, win):
        self.win = win
        self.clear_all = QAction("Clear All C&orrections\u2026", win)
        self.clear_all.setStatusTip("Forget every hand placement and every \u201cnot this one\u201d "
                                    "(the photos stay where they are); Ctrl+Z undoes it")
        self.clear_all.triggered.connect(lambda checked=False: self.clear_everything())
        menu = window_menu(win, "Clusters")
        if menu is not None:
            menu.insertAction(menu.actions()[2] if len(menu.actions()) > 2 else None, self.clear_all)
            menu.aboutToShow.connect(self._update)
        win.actions.cluster_menu_hooks.append(self._menu_hook)

    def _editable(self) -> bool:
        s = self.win.session
        return s is not None and not s.readonly

    def _update(self) -> None:
        self.clear_all.setEnabled(self._editable() and bool(self.win.library.constraint_counts()))

    def _menu_hook(self, menu, cluster_id, kind) -> None:
        if kind != "cluster" or cluster_id is None:
            return
        placed, kept = self.win.cluster_model.corrections(cluster_id)
        text = corrections_text(placed, kept)
        menu.addSeparator()
        a = menu.addAction("Clear Corrections" + (f" ({text})" if text else ""),
                           lambda: self.clear(cluster_id))
        a.setEnabled(self._editable() and bool(text))

    def clear(self, cluster_id: int) -> int:
        """Forget CLUSTER_ID's corrections; says what went."""
        s = self.win.session
        if not self._editable() or cluster_id not in s.cluster_ids():
            return 0
        name = s.cluster(cluster_id).display_name
        n = s.clear_corrections(cluster_id)
        self.win.tell(f"Forgot {n} correction{'s' if n != 1 else ''} of \u201c{name}\u201d; the photos stay, "
                      "and the next re-cluster may move them. Ctrl+Z undoes it." if n else
                      f"\u201c{name}\u201d has no corrections to forget.")
        return n

    def ask_clear_all(self, placed: int, kept: int) -> bool:
        """Whether to forget every correction (tests replace this)."""
        answer = QMessageBox.question(
            self.win, "Clear all corrections",
            f"Forget every correction: {corrections_text(placed, kept) or 'none'}?\n\n"
            "The photos stay where they are, but the next re-cluster may move them and photos "
            "kept out of a cluster may go back into it. Edit \u203a Undo puts the corrections back.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def clear_everything(self) -> int:
        if not self._editable():
            return 0
        counts = self.win.library.constraint_counts().values()
        placed, kept = sum(c[0] for c in counts), sum(c[1] for c in counts)
        if not placed and not kept:
            self.win.tell("No corrections to forget.")
            return 0
        if not self.ask_clear_all(placed, kept):
            return 0
        n = self.win.session.clear_corrections(None)
        self.win.tell(f"Forgot {n} correction{'s' if n != 1 else ''}; Ctrl+Z puts them back.")
        return n

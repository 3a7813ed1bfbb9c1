"""The "Filter clusters" box: a line edit that does not swallow the window's undo and that
Escape clears."""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QLineEdit


class FilterEdit(QLineEdit):
    """Ctrl+Z / Ctrl+Shift+Z undo and redo the typing in the box while it has some to undo or
    redo; otherwise they reach the window (the box takes focus easily, at start-up or when a
    task disables the widget that had it, and then swallowed every Ctrl+Z). Escape clears."""

    def event(self, ev) -> bool:
        if ev.type() == QEvent.Type.ShortcutOverride and self._leaves_to_window(ev):
            ev.ignore()   # not ours: let the window's shortcut have it
            return True
        return super().event(ev)

    def _leaves_to_window(self, ev) -> bool:
        if ev.matches(QKeySequence.StandardKey.Undo):
            return not self.isUndoAvailable()
        if ev.matches(QKeySequence.StandardKey.Redo):
            return not self.isRedoAvailable()
        return False

    def keyPressEvent(self, ev) -> None:  # noqa: N802 (Qt name)
        if ev.key() == Qt.Key.Key_Escape and self.text():
            self.setText("")   # unlike clear(), forgets the box's undo: Ctrl+Z is the window's again
            ev.accept()
            return
        super().keyPressEvent(ev)

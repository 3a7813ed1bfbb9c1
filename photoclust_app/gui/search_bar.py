"""The search box above the grid: text, file name, folder and date filters; colour
swatches; a line for what the search could not do (offline limits, no match)."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from photoclust_app.core.search.colour import GREY, SWATCHES
from photoclust_app.gui.views import FilterEdit

DEBOUNCE_MS = 300
PLACEHOLDER = "Search photos: words, IMG_, holiday/, 2023 (Ctrl+K)"
PLACEHOLDER_LITE = "Search photos (offline: ImageNet subjects), IMG_, holiday/, 2023 (Ctrl+K)"


class SearchBar(QWidget):
    searchRequested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.edit = FilterEdit()   # Escape clears it; Ctrl+Z reaches the window when it has nothing to undo
        self.edit.setPlaceholderText(PLACEHOLDER)
        self.edit.setClearButtonEnabled(True)
        self.swatches: dict[str, QToolButton] = {}
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        for name, rgb in [*SWATCHES.items(), (GREY, None)]:
            b = QToolButton()
            b.setFixedSize(18, 18)
            b.setToolTip(f"Mostly {name}" if rgb else "Black and white")
            if rgb:
                b.setStyleSheet(f"QToolButton {{ background: {QColor(*rgb).name()}; border: 1px solid #888; }}")
            else:
                b.setStyleSheet("QToolButton { background: qlineargradient(x1:0, y1:0, x2:1, y2:0, stop:0 black,"
                                " stop:0.5 black, stop:0.51 white, stop:1 white); border: 1px solid #888; }")
            b.clicked.connect(lambda checked=False, n=name: self.edit.setText(f"colour:{n.replace(' ', '-')}"))
            self.swatches[name] = b
            row.addWidget(b)
        self.results_button = QToolButton()
        self.results_button.setText("New Cluster from Results")
        self.results_button.setVisible(False)
        row.addWidget(self.results_button)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: palette(mid);")
        self.notice.setVisible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(row)
        lay.addWidget(self.notice)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._fire)
        self._quiet = False
        self.edit.textChanged.connect(self._typed)
        self.edit.returnPressed.connect(self._fire)

    def set_offline_limited(self, limited: bool) -> None:
        self.edit.setPlaceholderText(PLACEHOLDER_LITE if limited else PLACEHOLDER)

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def set_results_shown(self, shown: bool) -> None:
        self.results_button.setVisible(shown)

    def clear_quietly(self) -> None:
        """Empty the box without a search (a cluster was picked instead)."""
        self._quiet = True
        try:
            self.edit.setText("")
        finally:
            self._quiet = False
        self._timer.stop()

    def _typed(self, text: str) -> None:
        if self._quiet:
            return
        if not text.strip():
            self._timer.stop()
            self.searchRequested.emit("")   # cleared (Escape, the clear button): at once
        else:
            self._timer.start()

    def _fire(self) -> None:
        self._timer.stop()
        self.searchRequested.emit(self.edit.text())

    def focus(self) -> None:
        self.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.edit.selectAll()

"""The toolbar's granularity control: "Groups: Automatic / Exactly", a slider over the stored
cluster tree's stops, and the count it stands at ("12 groups").

The control only shows and asks. ``show_library`` puts it in line with what the library
stores (after opening, a re-cluster, undo and redo); moving the slider, or typing a count,
asks for exactly that many groups once it rests (``requested(N)``), and choosing Automatic
asks for the tree's own level (``requested(None)``). The window computes the plan: a cut of
the stored tree (no refit) when one covers the library, else a re-cluster.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPolygonF
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QSizePolicy, QSlider, QSpinBox, QStyle,
                               QStyleOptionSlider, QWidget)

AUTO, EXACT = 0, 1
REST_MS = 600  # a move applies once the slider has rested this long (dragging applies nothing)

TIP_AUTO = ("Automatic: photoclust picks the level of its cluster tree where groups stop getting "
            "clearer. The mark on the slider shows it.")
TIP_SLIDER = ("How many groups: every stop is a level of one cluster tree, so moving it only "
              "re-cuts that tree (instant; the map stays). Your names and hand-placed photos stay; "
              "Ctrl+Z goes back.")
TIP_NO_TREE = ("New photos since the last clustering: moving this re-clusters the whole library "
               "(it takes a while; progress shows at the bottom).")
TIP_BUSY = "Busy with another task; this works again when it is done (or cancelled)."


class StopSlider(QSlider):
    """A horizontal slider that marks one value (the automatic stop) with a small triangle."""

    def __init__(self, parent=None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.mark: int | None = None

    def set_mark(self, value: int | None) -> None:
        self.mark = value
        self.update()

    def mark_x(self) -> float | None:
        """Where the mark is drawn (widget x), or None when there is none in range."""
        if self.mark is None or not self.minimum() <= self.mark <= self.maximum():
            return None
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        style = self.style()
        groove = style.subControlRect(QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderGroove, self)
        handle = style.subControlRect(QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderHandle, self)
        span = max(1, groove.width() - handle.width())
        pos = QStyle.sliderPositionFromValue(self.minimum(), self.maximum(), self.mark, span, opt.upsideDown)
        return groove.x() + handle.width() / 2 + pos

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        x = self.mark_x()
        if x is None:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = QColor(self.palette().highlight().color()) if self.isEnabled() else self.palette().mid().color()
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        h = self.height()
        p.drawPolygon(QPolygonF([QPointF(x - 4, h), QPointF(x + 4, h), QPointF(x, h - 5)]))
        p.end()


class GranularityControl(QWidget):
    """Groups: [Automatic (11) | Exactly] [----slider----] [12 groups]."""

    requested = Signal(object)   # None: automatic; int N: exactly N groups

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rest_ms = REST_MS
        self._shown: tuple[int, int] | None = None   # (mode, value) the library stores now
        self._has_tree = False
        self._busy = False
        self._auto: int | None = None
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.setSpacing(4)
        self.caption = QLabel("Groups:")
        self.mode = QComboBox()
        self.mode.addItems(["Automatic", "Exactly"])
        # Wide enough for "Automatic (1234)", always: the toolbar must not shift under the mouse.
        self.mode.setMinimumContentsLength(len("Automatic (1234)"))
        self.mode.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mode.setToolTip(TIP_AUTO)
        self.slider = StopSlider()
        self.slider.setFixedWidth(170)
        self.slider.setPageStep(1)
        self.count = QSpinBox()
        self.count.setSuffix(" groups")
        self.count.setKeyboardTracking(False)   # typing "12" asks once, for 12, not for 1 first
        self.count.setFixedWidth(self.count.fontMetrics().horizontalAdvance("0000 groups") + 36)
        self.count.setToolTip("Exactly this many groups (type a number, or use the slider).")
        for w in (self.caption, self.mode, self.slider, self.count):
            w.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)   # never stretched by the toolbar
            lay.addWidget(w)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._rested)
        self.mode.activated.connect(self._mode_chosen)
        self.slider.valueChanged.connect(self._slider_moved)
        self.count.valueChanged.connect(self._count_typed)
        self.show_library(None, None, None, 0)

    # -- what the library stores ---------------------------------------------------------
    def show_library(self, stops: list[tuple[int, int]] | None, auto_count: int | None, groups: int | None,
                     current: int) -> None:
        """Show the library's choice: STOPS (clusters, level) of the tree covering it (None: none
        does), the automatic level's count, the stored exact count (None: automatic) and how
        many clusters it has now. Emits nothing."""
        self._timer.stop()
        self._has_tree = bool(stops)
        self._auto = auto_count
        if stops:
            lo, hi = stops[0][0], stops[-1][0]
        else:   # no tree: any count the library could have; the re-cluster says if it cannot
            lo, hi = 1, max(2, 2 * current, current + 10)
        mode = EXACT if groups is not None else AUTO
        value = groups if groups is not None else (auto_count if auto_count is not None else current)
        value = max(lo, min(hi, value or lo))
        for w in (self.slider, self.count, self.mode):
            w.blockSignals(True)
        self.slider.setRange(lo, hi)
        self.count.setRange(lo, hi)
        self.slider.setValue(value)
        self.count.setValue(value)
        self.slider.set_mark(auto_count if stops else None)
        self.mode.setItemText(AUTO, f"Automatic ({auto_count})" if auto_count is not None else "Automatic")
        self.mode.setCurrentIndex(mode)
        for w in (self.slider, self.count, self.mode):
            w.blockSignals(False)
        self._shown = (mode, value)
        self._update_tips()

    def stops_range(self) -> tuple[int, int]:
        return self.slider.minimum(), self.slider.maximum()

    def value(self) -> int:
        return self.slider.value()

    def is_automatic(self) -> bool:
        return self.mode.currentIndex() == AUTO

    def pending(self) -> bool:
        """A move is waiting for the slider to rest."""
        return self._timer.isActive()

    def set_busy(self, busy: bool, editable: bool = True) -> None:
        self._busy = busy
        on = editable and not busy
        for w in (self.mode, self.slider, self.count):
            w.setEnabled(on)
        self._update_tips()

    def _update_tips(self) -> None:
        if self._busy:
            tip = TIP_BUSY
        else:
            tip = TIP_SLIDER if self._has_tree else TIP_NO_TREE
            if self._auto is not None:
                tip += f"\nAutomatic is {self._auto} groups (the mark)."
        self.slider.setToolTip(tip)
        self.setToolTip(tip)

    # -- the user ------------------------------------------------------------------------
    def _slider_moved(self, value: int) -> None:
        self.count.blockSignals(True)
        self.count.setValue(value)
        self.count.blockSignals(False)
        self._moved()

    def _count_typed(self, value: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(value)
        self.slider.blockSignals(False)
        self._moved()

    def _moved(self) -> None:
        self.mode.setCurrentIndex(EXACT)  # a chosen count is "exactly N"
        self._timer.start(self.rest_ms)

    def _rested(self) -> None:
        if self.slider.isSliderDown():   # still held: wait for the release
            self._timer.start(self.rest_ms)
            return
        wanted = (EXACT, self.slider.value())
        if wanted != self._shown:
            self.requested.emit(self.slider.value())

    def _mode_chosen(self, index: int) -> None:
        self._timer.stop()
        if index == AUTO:
            if self._auto is not None:
                for w in (self.slider, self.count):
                    w.blockSignals(True)
                    w.setValue(self._auto)
                    w.blockSignals(False)
            if self._shown is None or self._shown[0] != AUTO:
                self.requested.emit(None)
        elif self._shown is None or self._shown != (EXACT, self.slider.value()):
            self.requested.emit(self.slider.value())

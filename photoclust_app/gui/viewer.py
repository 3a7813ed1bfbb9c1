"""The in-app viewer: one photo large, in the grid's order.

Space, Return or a double-click in the grid opens it on the current photo. The stored
thumbnail shows at once; the file itself is decoded off the GUI thread by the viewer's own
TaskRunner (Pillow, EXIF-rotated with ``ImageOps.exif_transpose``), and only the photo still
wanted is shown when it arrives, so holding an arrow key never queues up decodes.

Keys: Left/Right (and Up/Down, Page Up/Down) previous/next, Home/End first/last, Z or a
double-click toggles fit / 100%, 1 is 100%, 0 or F fits, Space or Escape closes. At 100% the
photo pans with the mouse. Below it: the date taken, the camera, the size and the path.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QPoint, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeySequence, QPainter, QPixmap, QShortcut
from PySide6.QtWidgets import (QDialog, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolButton, QVBoxLayout,
                               QWidget)

from photoclust_app.core.errors import UnreadableImage
from photoclust_app.gui.tasks import TaskRunner

log = logging.getLogger(__name__)

MAX_VIEW_PIXELS = 200_000_000   # the indexer's own limit (core/ingest/decode.py MAX_PIXELS)
_heif_ready = False


@dataclass
class LoadedPhoto:
    photo_id: int
    image: QImage          # upright (EXIF orientation applied)
    width: int
    height: int
    taken_at: str | None
    camera: str | None
    file_size: int


def _register_heif() -> None:
    global _heif_ready
    if not _heif_ready:
        _heif_ready = True
        try:
            from pillow_heif import register_heif_opener

            register_heif_opener()
        except Exception as err:  # optional: HEIC photos then say they cannot be shown
            log.info("HEIC support unavailable: %s", err)


def load_photo(path: Path, photo_id: int) -> LoadedPhoto:
    """Decode PATH upright into a QImage with its EXIF facts (worker thread). Raises
    UnreadableImage with a sentence when it cannot."""
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    from photoclust_app.core.ingest.decode import read_exif

    _register_heif()
    try:
        file_size = os.stat(path).st_size
    except FileNotFoundError as err:
        raise UnreadableImage(f"{path.name} is not there any more (moved or deleted since the last scan).") from err
    except OSError as err:
        raise UnreadableImage(f"{path.name} cannot be read ({err.strerror or err}).") from err
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)   # our own limit below
            with Image.open(path) as im:
                w, h = im.size
                if w * h > MAX_VIEW_PIXELS:
                    raise UnreadableImage(f"{path.name} is too large to show ({w}x{h} pixels).")
                im.load()
                _, taken_at, camera = read_exif(im)
                upright = ImageOps.exif_transpose(im)
                if upright.mode not in ("RGB", "RGBA"):
                    upright = upright.convert("RGBA" if "transparency" in upright.info or "A" in upright.mode
                                              else "RGB")
                data = upright.tobytes()
                fmt = QImage.Format.Format_RGBA8888 if upright.mode == "RGBA" else QImage.Format.Format_RGB888
                bpl = upright.width * (4 if upright.mode == "RGBA" else 3)
                image = QImage(data, upright.width, upright.height, bpl, fmt).copy()  # owns its pixels
    except UnreadableImage:
        raise
    except UnidentifiedImageError as err:
        raise UnreadableImage(f"{path.name} is not an image photoclust can show.") from err
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as err:
        raise UnreadableImage(f"{path.name} cannot be shown ({type(err).__name__}: {err}).") from err
    return LoadedPhoto(photo_id, image, image.width(), image.height(), taken_at, camera, file_size)


class ImageCanvas(QWidget):
    """Paints one image, fitted to the widget or at 100% (1 image pixel = 1 pixel), panned
    with the mouse; a sentence instead when there is nothing to show."""

    zoomToggled = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self._pixmap: QPixmap | None = None
        self._scaled: QPixmap | None = None   # the fitted copy for the current size
        self.full = False        # the image shown is the photo itself, not its thumbnail
        self.mode = "fit"        # "fit" | "actual"
        self.message = ""
        self._pan = QPointF(0, 0)
        self._drag: QPoint | None = None

    def set_pixmap(self, pm: QPixmap | None, *, full: bool) -> None:
        self._pixmap, self._scaled, self.full, self.message = pm, None, full, ""
        self._pan = QPointF(0, 0)
        self.update()

    def set_message(self, text: str) -> None:
        self.message = text
        self.update()

    def pixmap(self) -> QPixmap | None:
        return self._pixmap

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self._pan = QPointF(0, 0)
        self.setCursor(Qt.CursorShape.OpenHandCursor if mode == "actual" else Qt.CursorShape.ArrowCursor)
        self.update()

    def image_rect(self) -> QRect:
        """Where the image is drawn, in widget coordinates."""
        pm = self._pixmap
        if pm is None or pm.isNull():
            return QRect()
        if self.mode == "fit":
            size = pm.size()
            if size.width() > self.width() or size.height() > self.height() or not self.full:
                size = size.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        else:
            size = pm.size()
        self._clamp_pan(size)
        x = (self.width() - size.width()) / 2 + self._pan.x()
        y = (self.height() - size.height()) / 2 + self._pan.y()
        return QRect(int(x), int(y), size.width(), size.height())

    def _clamp_pan(self, size: QSize) -> None:
        mx = max(0.0, (size.width() - self.width()) / 2)
        my = max(0.0, (size.height() - self.height()) / 2)
        self._pan = QPointF(max(-mx, min(mx, self._pan.x())), max(-my, min(my, self._pan.y())))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._scaled = None
        super().resizeEvent(event)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 24, 24))
        target = self.image_rect()
        if not target.isNull():
            pm = self._pixmap
            if target.size() != pm.size():   # scale once per size, not once per paint
                if self._scaled is None or self._scaled.size() != target.size():
                    self._scaled = pm.scaled(target.size(), Qt.AspectRatioMode.IgnoreAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation)
                pm = self._scaled
            p.drawPixmap(target.topLeft(), pm)
        if self.message:
            p.setPen(QColor(235, 235, 235))
            box = self.rect().adjusted(40, 0, -40, 0)
            p.fillRect(QRect(0, self.height() // 2 - 30, self.width(), 60), QColor(0, 0, 0, 170))
            p.drawText(box, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
        p.end()

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.zoomToggled.emit()

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if self.mode == "actual" and event.button() == Qt.MouseButton.LeftButton:
            self._drag = event.position().toPoint()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if self._drag is not None:
            pos = event.position().toPoint()
            self._pan += QPointF(pos - self._drag)
            self._drag = pos
            self.update()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt name)
        if self._drag is not None:
            self._drag = None
            self.setCursor(Qt.CursorShape.OpenHandCursor)


class PhotoViewer(QDialog):
    """Shows SESSION's photos PHOTO_IDS (the grid's order) one at a time, from START."""

    currentChanged = Signal(int)    # the photo id now shown
    openExternally = Signal(int)    # "Open in External Viewer" for this photo id

    def __init__(self, session, photo_ids: list[int], start: int, thumbnails=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("photoclust")
        self.setModal(False)
        self.session = session
        self.thumbnails = thumbnails
        self.photo_ids: list[int] = []
        self.index = 0
        self.loaded: LoadedPhoto | None = None
        self._wanted: int | None = None
        self.runner = TaskRunner(self)
        self.runner.finished.connect(self._on_loaded)
        self.runner.failed.connect(self._on_failed)
        self.runner.idle.connect(self._load_wanted)
        self._build_ui()
        if parent is not None:
            self.resize(parent.size() * 0.9)
        else:
            self.resize(1100, 800)
        self.set_photos(photo_ids, start)

    def _build_ui(self) -> None:
        self.canvas = ImageCanvas(self)
        self.canvas.zoomToggled.connect(self.toggle_zoom)
        self.prev_button = QToolButton(text="\u25c0", toolTip="Previous photo (Left)")
        self.next_button = QToolButton(text="\u25b6", toolTip="Next photo (Right)")
        self.zoom_button = QPushButton("100%", toolTip="Fit the window or show at 100% (Z, double-click)")
        self.external_button = QPushButton("Open in External Viewer")
        self.close_button = QPushButton("Close", toolTip="Space or Escape")
        for b in (self.prev_button, self.next_button, self.zoom_button, self.external_button, self.close_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)   # the keys stay the viewer's
        self.prev_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.zoom_button.clicked.connect(self.toggle_zoom)
        self.external_button.clicked.connect(lambda: self.openExternally.emit(self.current_id()))
        self.close_button.clicked.connect(self.close)
        self.position_label = QLabel()
        self.info_label = QLabel()
        self.info_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info_label.setWordWrap(True)
        self.path_label = QLabel()
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path_label.setStyleSheet("color: palette(mid);")
        bar = QHBoxLayout()
        for w in (self.prev_button, self.position_label, self.next_button):
            bar.addWidget(w)
        bar.addSpacing(12)
        bar.addWidget(self.info_label, 1)
        for w in (self.zoom_button, self.external_button, self.close_button):
            bar.addWidget(w)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 6)
        lay.addWidget(self.canvas, 1)
        inner = QVBoxLayout()
        inner.setContentsMargins(8, 0, 8, 0)
        inner.addLayout(bar)
        inner.addWidget(self.path_label)
        lay.addLayout(inner)
        keys = {self.close: ("Space",), self.toggle_zoom: ("Z",), self.zoom_actual: ("1",),
                self.zoom_fit: ("0", "F"), (lambda: self.step(-1)): ("Left", "Up", "PgUp", "Backspace"),
                (lambda: self.step(1)): ("Right", "Down", "PgDown"), (lambda: self.go(0)): ("Home",),
                (lambda: self.go(len(self.photo_ids) - 1)): ("End",)}
        self._shortcuts = []
        for slot, seqs in keys.items():
            for seq in seqs:
                sc = QShortcut(QKeySequence(seq), self)
                sc.activated.connect(slot)
                self._shortcuts.append(sc)

    # -- what is shown ---------------------------------------------------------------------
    def set_photos(self, photo_ids: list[int], start: int) -> None:
        self.photo_ids = list(photo_ids) or [start]
        self.go(self.photo_ids.index(start) if start in self.photo_ids else 0)

    def current_id(self) -> int:
        return self.photo_ids[self.index]

    def step(self, delta: int) -> None:
        self.go(max(0, min(len(self.photo_ids) - 1, self.index + delta)))

    def go(self, index: int) -> None:
        if not self.photo_ids:
            return
        index = max(0, min(len(self.photo_ids) - 1, index))
        changed = index != self.index or self.loaded is None or self.loaded.photo_id != self.photo_ids[index]
        self.index = index
        pid = self.current_id()
        if not changed and self.canvas.full:
            return
        self.loaded = None
        thumb = self.thumbnails.pixmap(pid) if self.thumbnails is not None else None
        self.canvas.set_pixmap(thumb, full=False)   # at once; the photo itself follows
        n = len(self.photo_ids)
        self.position_label.setText(f"{index + 1:,} / {n:,}")
        self.prev_button.setEnabled(index > 0)
        self.next_button.setEnabled(index < n - 1)
        rel = self.session.relpath(pid)
        self.setWindowTitle(f"{os.path.basename(rel)} \u2014 photoclust")
        self.path_label.setText(str(self.session.photo_path(pid)))
        self.info_label.setText(os.path.basename(rel))
        self._wanted = pid
        self._load_wanted()
        self.currentChanged.emit(pid)

    def _load_wanted(self) -> None:
        pid = self._wanted
        if pid is None or self.runner.is_running():
            return   # when the decode under way ends, the photo wanted then is loaded
        self._wanted = None
        path = self.session.photo_path(pid)
        self.runner.start("view", lambda ctx: load_photo(path, pid))

    def _on_loaded(self, name: str, result: LoadedPhoto) -> None:
        if result is None or not self.photo_ids or result.photo_id != self.current_id():
            return   # the user has moved on
        self.loaded = result
        self.canvas.set_pixmap(QPixmap.fromImage(result.image), full=True)
        self.canvas.set_mode(self.canvas.mode)
        self.info_label.setText(describe(result, self.session.relpath(result.photo_id)))

    def _on_failed(self, name: str, message: str) -> None:
        if self._wanted is None:   # about the photo on show (else the next one is on its way)
            self.canvas.set_message(message)

    # -- zoom ------------------------------------------------------------------------------
    def toggle_zoom(self) -> None:
        self.zoom_actual() if self.canvas.mode == "fit" else self.zoom_fit()

    def zoom_actual(self) -> None:
        self.canvas.set_mode("actual")
        self.zoom_button.setText("Fit")

    def zoom_fit(self) -> None:
        self.canvas.set_mode("fit")
        self.zoom_button.setText("100%")

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.runner.cancel()
        super().closeEvent(event)


def describe(photo: LoadedPhoto, relpath: str) -> str:
    """'name · 14 Jul 2021 18:03 · Canon EOS 5D · 4000 × 3000 · 3.2 MB'."""
    parts = [os.path.basename(relpath)]
    if photo.taken_at:
        parts.append(format_taken(photo.taken_at))
    if photo.camera:
        parts.append(photo.camera)
    parts.append(f"{photo.width:,} \u00d7 {photo.height:,}")
    parts.append(format_bytes(photo.file_size))
    return " \u00b7 ".join(parts)


def format_taken(iso: str) -> str:
    from datetime import datetime

    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return dt.strftime("%-d %b %Y %H:%M")


def format_bytes(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1000:
        return f"{n / 1000:.0f} kB"
    return f"{n} bytes"

"""Settings: which embedding model indexes the library and on which device.

Stored in QSettings under "model" ("clip", "lite" or "clip:/path/to/weights") and "device"
("auto", "cpu", "cuda", "mps"). This dialog never imports torch (that would cost seconds
at the first open): device availability is only checked when torch is already loaded.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6 import QtCore, QtWidgets

log = logging.getLogger(__name__)

DEFAULT_MODEL = "clip"
DEFAULT_DEVICE = "auto"
MODELS = [
    ("clip", "CLIP (best grouping and names; downloads its weights on first use)"),
    ("lite", "EfficientNet-Lite0 (offline, fast; ImageNet labels as names)"),
    ("clip-file", "CLIP from a weights file on this computer…"),
]
DEVICES = [
    ("auto", "Automatic (GPU when there is one)"),
    ("cpu", "CPU"),
    ("cuda", "NVIDIA GPU (CUDA)"),
    ("mps", "Apple GPU (Metal)"),
]
def describe_model(name: str | None) -> str:
    """The model id stored in a library (meta "model"), for people."""
    if not name:
        return "none yet (the folder is not indexed)"
    if name == "lite":
        return "EfficientNet-Lite0 (lite, the offline model)"
    if name.startswith("clip:"):
        return f"CLIP ({name[len('clip:'):]})"
    return name


REEMBED_WARNING = ("Changing the model re-embeds every photo in the library at the next indexing, "
                   "which takes about as long as the first indexing did; clusters are then recomputed.")


def device_availability() -> dict[str, bool | None]:
    """True/False per device when torch is already imported; None (unknown) otherwise."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {"cuda": None, "mps": None}
    out: dict[str, bool | None] = {}
    try:
        out["cuda"] = bool(torch.cuda.is_available())
    except Exception:  # a broken CUDA install must not break the dialog
        out["cuda"] = False
    try:
        out["mps"] = bool(torch.backends.mps.is_available())
    except Exception:
        out["mps"] = False
    return out


def app_settings() -> QtCore.QSettings:
    return QtCore.QSettings("photoclust", "photoclust")


class SettingsDialog(QtWidgets.QDialog):
    """Model and device choice, saved to QSettings when accepted."""

    def __init__(self, settings: QtCore.QSettings | None = None, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings = settings if settings is not None else app_settings()
        self._stored_model = str(self._settings.value("model", DEFAULT_MODEL) or DEFAULT_MODEL)
        self._stored_device = str(self._settings.value("device", DEFAULT_DEVICE) or DEFAULT_DEVICE)
        self._build_ui()
        self.set_model(self._stored_model)
        self.set_device(self._stored_device)

    def _build_ui(self) -> None:
        form = QtWidgets.QFormLayout()
        self._model = QtWidgets.QComboBox()
        for key, text in MODELS:
            self._model.addItem(text, key)
        form.addRow("Model:", self._model)
        self._weights = QtWidgets.QLineEdit()
        self._weights.setPlaceholderText("open_clip weights file (.pt, .bin or .safetensors)")
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QtWidgets.QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self._weights, 1)
        row.addWidget(browse)
        self._weights_row = QtWidgets.QWidget()
        self._weights_row.setLayout(row)
        form.addRow("", self._weights_row)

        self._device = QtWidgets.QComboBox()
        avail = device_availability()
        for key, text in DEVICES:
            self._device.addItem(text, key)
            if avail.get(key) is False:   # known missing; unknown (torch not loaded) stays offered
                item = self._device.model().item(self._device.count() - 1)
                item.setEnabled(False)
                item.setToolTip("Not available on this computer.")
        form.addRow("Device:", self._device)
        self._library_model = QtWidgets.QLabel(wordWrap=True)
        self._library_model.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self._library_model_row = QtWidgets.QLabel("This library uses:")
        form.addRow(self._library_model_row, self._library_model)
        self._library_model_row.hide()
        self._library_model.hide()

        self._note = QtWidgets.QLabel(wordWrap=True)
        self._note.setStyleSheet("color: #b35900;")
        self._warning = QtWidgets.QLabel(REEMBED_WARNING, wordWrap=True)
        self._problem = QtWidgets.QLabel(wordWrap=True)
        self._problem.setStyleSheet("color: #c00000;")
        self._buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self._buttons.accepted.connect(self.accept)
        self._buttons.rejected.connect(self.reject)

        lay = QtWidgets.QVBoxLayout(self)
        lay.addLayout(form)
        for w in (self._note, self._warning, self._problem):
            lay.addWidget(w)
            w.hide()
        lay.addStretch(1)
        lay.addWidget(self._buttons)
        self._model.currentIndexChanged.connect(self._update)
        self._weights.textChanged.connect(self._update)
        self.resize(520, 260)

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "CLIP weights file", self._weights.text() or str(Path.home()),
            "Model weights (*.pt *.pth *.bin *.safetensors);;All files (*)")
        if path:
            self._weights.setText(path)

    def _update(self) -> None:
        file_mode = self._model.currentData() == "clip-file"
        self._weights_row.setVisible(file_mode)
        self._warning.setVisible(self.model_changed())
        problem = ""
        if file_mode:
            path = self._weights.text().strip()
            if not path:
                problem = "Choose the weights file."
            elif not Path(path).expanduser().is_file():
                problem = f"There is no file at {path}."
        self._problem.setText(problem)
        self._problem.setVisible(bool(problem))
        self._buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).setEnabled(not problem)

    # -- values -------------------------------------------------------------------------------
    def model(self) -> str:
        """'clip', 'lite' or 'clip:/path/to/weights'."""
        key = self._model.currentData()
        if key == "clip-file":
            return "clip:" + str(Path(self._weights.text().strip()).expanduser())
        return key

    def set_model(self, value: str) -> None:
        if value.startswith("clip:"):
            self._weights.setText(value[len("clip:"):])
            self._model.setCurrentIndex(self._model.findData("clip-file"))
        else:
            i = self._model.findData(value)
            if i < 0:
                log.warning("unknown model setting %r; showing the default", value)
                i = self._model.findData(DEFAULT_MODEL)
            self._model.setCurrentIndex(i)
        self._update()

    def device(self) -> str:
        return self._device.currentData()

    def set_device(self, value: str) -> None:
        i = self._device.findData(value)
        self._device.setCurrentIndex(i if i >= 0 else self._device.findData(DEFAULT_DEVICE))

    def model_changed(self) -> bool:
        """Whether the chosen model differs from the saved one (the library will be re-embedded)."""
        return self.model() != self._stored_model

    def set_library_model(self, name: str | None, notice: str = "") -> None:
        """Show the model the open library's index was really built with (library meta
        "model"), and, when that is the offline fallback although another model is chosen,
        why (NOTICE: the sentence the last fallback gave)."""
        self._library_model.setText(describe_model(name))
        for w in (self._library_model_row, self._library_model):
            w.setVisible(True)
        fell_back = name == "lite" and self._stored_model != "lite"
        if fell_back:
            why = notice or "The chosen model could not be loaded when this library was indexed."
            self.set_fallback_note(f"{why} photoclust tries the chosen model again at each indexing; "
                                   "choose “EfficientNet-Lite0” to stop trying.")
        else:
            self.set_fallback_note("")

    def library_model(self) -> str:
        return self._library_model.text() if not self._library_model.isHidden() else ""

    def set_fallback_note(self, text: str) -> None:
        """Say that the last indexing fell back to the offline model (empty text hides it)."""
        self._note.setText(text)
        self._note.setVisible(bool(text))

    def fallback_note(self) -> str:
        return self._note.text() if not self._note.isHidden() else ""

    def save(self) -> None:
        self._settings.setValue("model", self.model())
        self._settings.setValue("device", self.device())
        self._settings.sync()

    def accept(self) -> None:
        if not self._buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).isEnabled():
            return
        self.save()
        super().accept()

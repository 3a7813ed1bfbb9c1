"""SettingsDialog: values persist to QSettings, the fallback note and re-embed warning show."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import subprocess
import sys
import types
from pathlib import Path

import pytest
from PySide6 import QtCore
from PySide6.QtWidgets import QDialogButtonBox

from photoclust_app.gui.settings_dialog import SettingsDialog


@pytest.fixture
def ini(tmp_path):
    return str(tmp_path / "photoclust.ini")


def _settings(ini):
    return QtCore.QSettings(ini, QtCore.QSettings.Format.IniFormat)


def _dialog(qtbot, ini):
    d = SettingsDialog(_settings(ini))
    qtbot.addWidget(d)
    return d


def _ok(d):
    return d._buttons.button(QDialogButtonBox.StandardButton.Ok)


def test_defaults_then_values_persist(qtbot, ini):
    d = _dialog(qtbot, ini)
    assert (d.model(), d.device()) == ("clip", "auto")
    d.set_model("lite")
    d.set_device("cpu")
    d.accept()
    s = _settings(ini)
    assert (s.value("model"), s.value("device")) == ("lite", "cpu")
    again = _dialog(qtbot, ini)
    assert (again.model(), again.device()) == ("lite", "cpu")
    assert not again.model_changed()


def test_cancel_does_not_persist(qtbot, ini):
    d = _dialog(qtbot, ini)
    d.set_model("lite")
    d.reject()
    assert _settings(ini).value("model") is None


def test_weights_file_choice(qtbot, ini, tmp_path):
    d = _dialog(qtbot, ini)
    d.set_model("clip:" + str(tmp_path / "missing.pt"))
    assert d._weights_row.isVisibleTo(d)
    assert not _ok(d).isEnabled() and "There is no file" in d._problem.text()
    d.accept()                                                   # refused: nothing saved
    assert _settings(ini).value("model") is None
    weights = tmp_path / "ViT-B-32.pt"
    weights.write_bytes(b"w")
    d._weights.setText(str(weights))
    assert _ok(d).isEnabled()
    assert d.model() == f"clip:{weights}"
    d.accept()
    assert _settings(ini).value("model") == f"clip:{weights}"
    assert _dialog(qtbot, ini).model() == f"clip:{weights}"


def test_fallback_note_shows_and_hides(qtbot, ini):
    d = _dialog(qtbot, ini)
    assert d.fallback_note() == "" and not d._note.isVisibleTo(d)
    text = "CLIP weights could not be downloaded, so the offline model indexed this library."
    d.set_fallback_note(text)
    assert d.fallback_note() == text and d._note.isVisibleTo(d)
    d.set_fallback_note("")
    assert not d._note.isVisibleTo(d)


def test_changing_model_warns_about_reembedding(qtbot, ini):
    d = _dialog(qtbot, ini)
    assert not d._warning.isVisibleTo(d)
    d.set_model("lite")
    assert d.model_changed() and d._warning.isVisibleTo(d)
    assert "re-embeds" in d._warning.text()
    d.set_model("clip")
    assert not d.model_changed() and not d._warning.isVisibleTo(d)


def test_known_missing_devices_are_disabled(qtbot, ini, monkeypatch):
    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: False),
                                 backends=types.SimpleNamespace(mps=types.SimpleNamespace(is_available=lambda: True)))
    monkeypatch.setitem(sys.modules, "torch", fake)
    d = _dialog(qtbot, ini)
    model = d._device.model()
    enabled = {d._device.itemData(i): model.item(i).isEnabled() for i in range(d._device.count())}
    assert enabled == {"auto": True, "cpu": True, "cuda": False, "mps": True}


def test_dialog_does_not_import_torch(tmp_path):
    code = ("import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
            "from PySide6.QtWidgets import QApplication; from PySide6.QtCore import QSettings\n"
            "app = QApplication([])\n"
            "from photoclust_app.gui.settings_dialog import SettingsDialog\n"
            f"d = SettingsDialog(QSettings({str(tmp_path / 's.ini')!r}, QSettings.Format.IniFormat))\n"
            "n = d._device.count(); print('torch' in sys.modules, n)\n")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "4"]

"""PySide6 6.12.0 on CPython 3.11 drops references to True (every signal emit) and None
(every void C++ call) that it never took; photoclust_app.gui makes them immortal."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = """
import sys
{guard}
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
class B(QObject):
    s = Signal(int)
b, label = B(), QLabel()
t0, n0 = sys.getrefcount(True), sys.getrefcount(None)
for i in range(50):
    b.s.emit(i)
    label.setText("x")
print("leaks", t0 - sys.getrefcount(True), n0 - sys.getrefcount(None), flush=True)
for i in range(20000):
    b.s.emit(i)
    label.setText("x")
print("survived")
"""


def _run(guard: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-c", SCRIPT.format(guard=guard)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_twenty_thousand_emits_and_void_calls_survive_with_the_guard():
    out = _run("import photoclust_app.gui")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "survived" in out.stdout


def test_the_bug_is_still_there_without_the_guard():
    """Tells when PySide6 is fixed (then the guard in photoclust_app/gui/__init__.py can go)."""
    out = _run("")
    leaks = out.stdout.split("leaks")[1].split()[:2] if "leaks" in out.stdout else ["0", "0"]
    if leaks == ["0", "0"]:
        import pytest

        pytest.skip("this PySide6 no longer leaks references: the guard is not needed")
    assert leaks == ["50", "50"]        # one reference per call, each
    assert out.returncode != 0 and "survived" not in out.stdout  # Fatal Python error: ..._dealloc
    print(f"\nwithout the guard: True lost {leaks[0]}, None lost {leaks[1]} references per 50 calls; "
          f"exit code {out.returncode}")

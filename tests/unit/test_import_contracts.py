"""The layering in pyproject.toml's import-linter contracts holds, and the contracts bite:
the same check on a copy of the package with one Qt import planted in the core fails."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_core_and_the_engine_never_import_qt():
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_a_qt_import_hidden_in_the_core_breaks_the_contract(tmp_path):
    shutil.copytree(REPO / "photoclust_app", tmp_path / "photoclust_app",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    # indirect, as a real slip would be: a core helper importing a GUI module
    (tmp_path / "photoclust_app" / "core" / "planted.py").write_text(
        "from photoclust_app.gui import thumbnails  # noqa: F401\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "photoclust_app.core.planted" in result.stdout


def test_only_the_store_speaks_sql():
    """No module outside core/store runs SQL: schema knowledge stays in one package."""
    import ast

    offenders = []
    for path in sorted((REPO / "photoclust_app").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith("photoclust_app/core/store/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("execute", "executemany", "executescript"):
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


def test_every_package_is_installed():
    """A package missing from pyproject's list works in an editable install and is absent
    from a wheel (gui/tasks was, once)."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "photoclust_app").rglob("__init__.py")}
    assert found - listed == set()

"""Two photoclust processes on one folder, and what a hostile folder cannot make us do.

Concurrency: a second writer is refused at once with a sentence (non-zero exit), readers
work beside the writer, and the library is never corrupted.
Security: weights only through weights_only=True or safetensors (a booby-trapped pickle
runs nothing), no pickle/eval/shell anywhere, SQL only with parameters, and nothing a
photo's name or metadata says is executed or becomes a path outside DEST.
"""
import ast
import io
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

from hostile import REPO, cli_argv, cli_env, integrity_problems, jpeg, noisy, run_cli
from photoclust_app.core.errors import LibraryLocked, ModelUnavailable
from photoclust_app.core.store.library import Library
from sqlpeek import sql  # noqa: E402

APP = REPO / "photoclust_app"
IN_USE = "in use by another photoclust"


def write_photos(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        color = ((i * 37) % 200 + 30, (i * 91) % 200 + 30, (i * 53) % 200 + 30)
        (folder / f"p{i:04d}.jpg").write_bytes(jpeg((160, 120), color=color, seed=i))


def _lock_holder(folder: Path) -> str:
    try:
        return (folder / ".photoclust" / "library.sqlite.lock").read_text().strip()
    except OSError:
        return ""


# -- two processes -----------------------------------------------------------------------
@pytest.mark.slow
def test_second_writer_refused_readers_work_while_indexing(tmp_path):
    folder, home = tmp_path / "photos", tmp_path / "home"
    write_photos(folder, 400)
    with open(tmp_path / "first.err", "wb") as err:
        first = subprocess.Popen(cli_argv("index", folder, "--model", "tiny-test"), env=cli_env(home), cwd=REPO,
                                 stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while _lock_holder(folder) != str(first.pid) and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _lock_holder(folder) == str(first.pid), "the first photoclust never took the writer lock"

        second = run_cli("index", folder, "--model", "tiny-test", home=home, timeout=60)
        clus = run_cli("cluster", folder, "--no-names", home=home, timeout=60)
        info = run_cli("info", folder, "--json", home=home, timeout=60)
        with pytest.raises(LibraryLocked, match=IN_USE):
            Library.open(folder)
        # A reader in this process reads again and again while the writer commits batches.
        counts = []
        with Library.open(folder, readonly=True) as lib:
            for _ in range(20):
                counts.append(lib.count_photos())
                assert len(lib.thumbnail(lib.photos()[0].id) or b"x") > 0 if counts[-1] else True
                time.sleep(0.05)
        still_running = first.poll() is None
        assert still_running, "the first run ended before the checks; they proved nothing (use more photos)"

        assert second.returncode == 1 and IN_USE in second.stderr, (second.returncode, second.stderr)
        assert f"(process {first.pid})" in second.stderr
        assert "Traceback" not in second.stderr
        assert clus.returncode == 1 and IN_USE in clus.stderr, clus.stderr
        assert info.returncode == 0, info.stderr
        assert json.loads(info.stdout)["folder"] == str(folder)
        assert counts == sorted(counts)  # readers see commits arrive, never go back
        assert first.wait(timeout=240) == 0, (tmp_path / "first.err").read_text()[-2000:]
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert integrity_problems(folder / ".photoclust" / "library.sqlite") == []
    with Library.open(folder, readonly=True) as lib:
        assert lib.count_photos() == 400 and lib.count_embedded() == 400


@pytest.mark.slow
def test_two_writers_started_together_one_wins(tmp_path):
    folder, home = tmp_path / "photos", tmp_path / "home"
    write_photos(folder, 40)
    procs = [subprocess.Popen(cli_argv("index", folder, "--model", "tiny-test", "--workers", "0"), env=cli_env(home),
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    codes = sorted(p.returncode for p in procs)
    errs = "".join(e for _, e in outs)
    # Either one was refused, or the second started after the first had finished.
    assert codes in ([0, 0], [0, 1]), errs
    if codes == [0, 1]:
        assert errs.count(IN_USE) == 1
    assert "Traceback" not in errs
    assert integrity_problems(folder / ".photoclust" / "library.sqlite") == []
    with Library.open(folder, readonly=True) as lib:
        assert lib.count_photos() == 40


def test_lock_is_released_on_close_and_holder_named(tmp_path):
    folder = tmp_path / "photos"
    write_photos(folder, 1)
    with Library.open(folder):
        assert _lock_holder(folder) == str(os.getpid())
        with pytest.raises(LibraryLocked) as err:
            Library.open(folder)
        assert str(err.value).endswith("it can be opened read-only until that one finishes.")
    Library.open(folder).close()  # free again


# -- weights -----------------------------------------------------------------------------
def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


def _app_sources():
    for path in sorted(APP.rglob("*.py")):
        yield path.relative_to(REPO), ast.parse(path.read_text(encoding="utf-8"))


def test_weights_are_loaded_only_safely():
    """torch.load only with weights_only=True; open_clip told the same; no pickle-family
    loader (pickle, marshal, shelve, dill, joblib) and no np.load(allow_pickle=True)."""
    seen_loads = 0
    for rel, tree in _app_sources():
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                for bad in ("pickle", "cPickle", "marshal", "shelve", "dill", "joblib", "cloudpickle"):
                    assert not any(n and n.split(".")[0] == bad for n in names), f"{rel}:{node.lineno} imports {bad}"
        for call, name in _calls(tree):
            kw = {k.arg: k.value for k in call.keywords}
            if name.endswith("torch.load") or name == "load" and "map_location" in kw:
                seen_loads += 1
                assert isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True, \
                    f"{rel}:{call.lineno} torch.load without weights_only=True"
            if name.endswith(("create_model", "create_model_and_transforms", "create_model_from_pretrained")) \
                    and "open_clip" in name:
                assert isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True, \
                    f"{rel}:{call.lineno} open_clip model built without weights_only=True"
            if name.endswith("np.load") or name.endswith("numpy.load"):
                ap = kw.get("allow_pickle")
                assert ap is None or isinstance(ap, ast.Constant) and ap.value is False, f"{rel}:{call.lineno}"
    assert seen_loads >= 1  # the lite model's torch.load was found, so the scan sees calls


@pytest.mark.slow
def test_booby_trapped_weights_file_runs_nothing(tmp_path):
    """A .pt whose pickle would create a file when unpickled: loading it as CLIP weights
    fails with a sentence and the file is never created."""
    import torch
    from photoclust_app.core.embed import create_embedder

    marker = tmp_path / "PWNED"

    class Trap:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "weights.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "trap": Trap()}, evil)
    with pytest.raises(ModelUnavailable) as err:
        create_embedder(f"clip:{evil}", "cpu", fallback=False)
    assert not marker.exists(), "unpickling the weights file ran code"
    assert "could not be loaded" in str(err.value)
    # The same file through the app's fallback: a notice, the offline model, still nothing run.
    notices = []
    emb = create_embedder(f"clip:{evil}", "cpu", fallback=True, notify=notices.append)
    assert emb.name == "lite" and notices and not marker.exists()


# -- code that could execute or escape ---------------------------------------------------
def test_no_eval_exec_or_shell_anywhere():
    for rel, tree in _app_sources():
        for call, name in _calls(tree):
            assert name not in ("eval", "exec", "compile", "os.system", "os.popen", "__import__"), \
                f"{rel}:{call.lineno} calls {name}"
            if name.startswith("subprocess."):
                kw = {k.arg: k.value for k in call.keywords}
                assert "shell" not in kw or isinstance(kw["shell"], ast.Constant) and kw["shell"].value is False, \
                    f"{rel}:{call.lineno} runs a shell"
                assert call.args and isinstance(call.args[0], ast.List), f"{rel}:{call.lineno}: argv must be a list"


# Names an f-string of SQL may interpolate: the store's own column lists and table queries,
# and a run of "?" placeholders for an IN (...) list. Never a value.
_SQL_NAMES = {"CLUSTER_COLS", "ASSIGNMENT_COLS", "_PHOTO_COLS", "marks", "sql", "key_col"}


def _is_literal_sql(node) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return all(isinstance(v, ast.Constant) or (isinstance(v, ast.FormattedValue) and isinstance(v.value, ast.Name)
                                                   and v.value.id in _SQL_NAMES) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_literal_sql(node.left) and _is_literal_sql(node.right)
    return False


# The one SQL text built at run time: the schema version (an int from our own code), which
# PRAGMA cannot take as a parameter.
_SQL_ALLOWED = {("photoclust_app/core/store/schema.py", "'BEGIN IMMEDIATE;' + MIGRATIONS[step]"),
                ("photoclust_app/core/store/schema.py", "f'PRAGMA user_version = {step + 1}'"),
                # Library._q passes its caller's SQL on (its callers are checked as SQL calls);
                # rows.py runs one of its own table queries (_SELECT).
                ("photoclust_app/core/store/connection.py", "sql"), ("photoclust_app/core/store/rows.py", "sql")}


def test_sql_only_with_parameters():
    """Every execute/executemany/executescript gets literal SQL text; values go as parameters."""
    found = 0
    for rel, tree in _app_sources():
        for call, name in _calls(tree):
            if isinstance(call.func, ast.Attribute) and call.func.attr in (
                    "execute", "executemany", "executescript", "_q") and call.args:
                found += 1
                sql = call.args[0]
                if not _is_literal_sql(sql):
                    assert (str(rel), ast.unparse(sql)) in _SQL_ALLOWED, f"{rel}:{call.lineno}: SQL built from data"
    assert found > 50  # the scan really sees the library's queries


def _exif_jpeg(camera: tuple[str, str], when: str) -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = camera
    exif.get_ifd(0x8769)[0x9003] = when
    buf = io.BytesIO()
    noisy(seed=3).save(buf, "JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


@pytest.mark.slow
def test_hostile_names_and_metadata_run_nothing_and_stay_in_dest(tmp_path):
    folder, home, dest = tmp_path / "photos", tmp_path / "home", tmp_path / "dest"
    folder.mkdir()
    names = ["$(touch PWNED1).jpg", "`touch PWNED2`.jpg", "; touch PWNED3 #.jpg", "-rf .jpg", "--help.jpg",
             "win\\..\\..\\evil.jpg", "x'); DROP TABLE photos;--.jpg", "%s%n%x.jpg", "\u202egpj.exe.jpg"]
    for i, name in enumerate(names):
        (folder / name).write_bytes(jpeg(seed=i))
    (folder / "meta.jpg").write_bytes(_exif_jpeg(("../../../../tmp/$(touch PWNED4)", "; rm -rf / #"),
                                                 "../../etc/passwd"))
    assert run_cli("index", folder, "--model", "tiny-test", "--workers", "0", home=home).returncode == 0
    with Library.open(folder) as lib:
        ids = [p.id for p in lib.photos()]
        assert len(ids) == len(names) + 1
        cams = {r[0] for r in sql(lib, "SELECT camera FROM photos WHERE camera IS NOT NULL")}
        assert cams == {"../../../../tmp/$(touch PWNED4) ; rm -rf / #"}  # stored as text, nothing else
        cid = lib.create_cluster("../../escape/$(touch PWNED5)")
        lib.assign(ids, cid)
        lib.rename_cluster(cid, "../../escape/'; DROP TABLE clusters;--")
    before = {p for p in tmp_path.rglob("*")}
    out = run_cli("export", folder, dest, home=home)
    assert out.returncode == 0, out.stderr
    after = {p for p in tmp_path.rglob("*")}
    created = after - before
    outside = [p for p in created if dest not in p.parents and p != dest and home not in p.parents
               and (folder / ".photoclust") not in p.parents]
    assert outside == [], outside
    exported = [p for p in dest.rglob("*.jpg")]
    assert len(exported) == len(names) + 1
    assert all(p.resolve().is_relative_to(dest.resolve()) for p in exported)
    assert not (tmp_path / "escape").exists() and not (tmp_path.parent / "escape").exists()
    for where in (tmp_path, REPO, Path.cwd(), Path("/tmp")):
        assert not list(where.glob("PWNED*")), where
    with Library.open(folder, readonly=True) as lib:
        assert lib.count_photos() == len(names) + 1 and lib.clusters()[0].name.endswith("DROP TABLE clusters;--")

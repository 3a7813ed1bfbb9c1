"""A broken library gets one sentence and a way out, never a traceback: garbage pages, a
schema number nobody wrote, a dropped table, a name stored as a BLOB, a full disk, a file
made read-only mid-run. Driven through the real command line."""
import json
import sqlite3

import pytest

from hostile import RED, GREEN, jpeg, run_cli
from photoclust_app.cli import main
from photoclust_app.core.store.library import Library


@pytest.fixture
def indexed(tmp_path):
    folder, home = tmp_path / "photos", tmp_path / "home"
    folder.mkdir()
    for i in range(6):
        (folder / f"p{i}.jpg").write_bytes(jpeg(color=RED if i % 2 else GREEN, seed=i))
    out = run_cli("index", folder, "--model", "tiny-test", "--workers", "0", home=home)
    assert out.returncode == 0, out.stderr
    return folder, home, folder / ".photoclust" / "library.sqlite"


def _sentence(out, *words):
    assert out.returncode == 1, (out.returncode, out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()  # progress lines may come first
    assert "Traceback" not in out.stderr and lines[-1].startswith("photoclust: "), out.stderr
    assert sum(line.startswith("photoclust: ") for line in lines) == 1, out.stderr
    for w in words:
        assert w in lines[-1], out.stderr


def test_garbage_pages_get_a_sentence_and_repair_moves_the_file_aside(indexed):
    folder, home, db = indexed
    with Library.open(folder):  # fold the WAL into the main file first
        pass
    data = bytearray(db.read_bytes())
    data[100:4096 * 3] = b"\x5a" * (4096 * 3 - 100)
    db.write_bytes(bytes(data))
    for argv in (("info", folder), ("export", folder, folder.parent / "out"), ("index", folder, "--model", "tiny-test")):
        _sentence(run_cli(*argv, home=home), "damaged", "photoclust repair")
    out = run_cli("repair", folder, home=home)
    assert out.returncode == 0 and "kept, not deleted" in out.stdout
    assert list(db.parent.glob("library.sqlite.damaged-*"))
    out = run_cli("index", folder, "--model", "tiny-test", "--workers", "0", home=home)
    assert out.returncode == 0 and "6 new" in out.stdout


def test_a_schema_number_nobody_wrote_is_refused(indexed):
    folder, home, db = indexed
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = -1")
    conn.close()
    _sentence(run_cli("index", folder, "--model", "tiny-test", home=home), "damaged")


def test_a_dropped_table_gets_a_sentence_everywhere(indexed):
    folder, home, db = indexed
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE assignments")
    conn.commit()
    conn.close()
    for argv in (("info", folder), ("export", folder, folder.parent / "out"), ("cluster", folder, "--no-names")):
        _sentence(run_cli(*argv, home=home), "damaged", "repair")


def test_a_cluster_name_stored_as_a_blob_still_lists(indexed):
    folder, home, db = indexed
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO clusters(name, suggested_name, user_named, created_at) VALUES(?, '', 1, 0)",
                 (b"Beach \xff",))
    conn.commit()
    conn.close()
    with Library.open(folder) as lib:
        cid = lib.clusters()[0].id
        lib.assign([p.id for p in lib.photos()][:2], cid)
    out = run_cli("info", folder, "--json", home=home)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["clusters"][0]["name"].startswith("Beach ")


@pytest.mark.parametrize("message,words", [
    ("database or disk is full", ("is full", "Free some space")),
    ("attempt to write a readonly database", ("cannot be written", "write permission")),
    ("disk I/O error", ("disk I/O error", "check the disk")),
])
def test_write_failures_mid_run_are_sentences(indexed, monkeypatch, capsys, message, words):
    folder, home, db = indexed
    (folder / "new.jpg").write_bytes(jpeg(seed=42))
    from photoclust_app.core.store import photos

    def failing(self, *a, **k):
        raise sqlite3.OperationalError(message)

    monkeypatch.setattr(photos.PhotoStore, "add_photos", failing)
    code = main(["index", str(folder), "--model", "tiny-test", "--workers", "0"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1 and err.startswith("photoclust: ") and "Traceback" not in err
    assert all(w in err for w in words), err

"""Removing copies is never deleting: to the freedesktop trash or a folder, journalled, with a
verified keeper, undoable; a keeper that disappears mid-run and a copy that changed since it was
listed keep every photo; the library forgets removed copies and keepers keep their clusters."""
import json
import os
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest

from photoclust_app.cli import main
from photoclust_app.core.dedupe import (RemovalRefused, Settings, find_duplicates, forget_removed, plan_removal,
                                        run_removal, undo_removal)
from photoclust_app.core.dedupe import remove as remove_mod
from photoclust_app.core.errors import ExportConflict
from photoclust_app.core.store.library import Library
from tests.unit.test_dedupe import build_library


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    root = tmp_path_factory.mktemp("dedupe") / "photos"
    root.mkdir()
    build_library(root)
    return root


@pytest.fixture
def folder(template, tmp_path, monkeypatch):
    dest = tmp_path / "photos"
    shutil.copytree(template, dest, copy_function=shutil.copy2)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))      # the home trash, inside tmp_path
    return dest


def _bytes(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".photoclust" not in p.parts}


def _copies(folder):
    with Library.open(folder) as lib:
        return find_duplicates(lib, Settings(kinds=("identical", "near")))


def _run(folder, groups, **where):
    with Library.open(folder) as lib:
        plan = plan_removal(lib.folder, groups, home=lib.path.parent, all_relpaths=list(lib.relpaths().values()),
                            **where)
        report = run_removal(plan)
        forget_removed(lib, report)
    return report


COPIES = {"b/one copy.jpg", "b/two small.jpg", "b/two q60.jpg", "b/two.png"}


def test_to_trash_follows_the_spec_and_undo_puts_everything_back(folder, tmp_path):
    before = _bytes(folder)
    report = _run(folder, _copies(folder), to_trash=True)
    trash = tmp_path / "xdg" / "Trash"
    assert {c.relpath for c, _, _ in report.removed} == COPIES and report.kept == []
    assert sorted(p.name for p in (trash / "files").iterdir()) == sorted(Path(c).name for c in COPIES)
    for c in COPIES:
        info = (trash / "info" / (Path(c).name + ".trashinfo")).read_text().splitlines()
        assert info[0] == "[Trash Info]" and unquote(info[1].removeprefix("Path=")) == str(folder / c)
        assert info[2].startswith("DeletionDate=20")
        assert not (folder / c).exists()
        assert (trash / "files" / Path(c).name).read_bytes() == before[c]
    assert all((folder / p).exists() for p in ("a/one.jpg", "a/two.jpg"))
    with Library.open(folder) as lib:
        assert not COPIES & set(lib.relpaths().values())
    back = undo_removal(report.manifest)
    assert back.restored == 4 and back.refused == []
    assert _bytes(folder) == before
    assert list((trash / "files").iterdir()) == [] and list((trash / "info").iterdir()) == []
    assert not report.manifest.exists()


def test_to_a_folder_keeps_subfolders_and_undo_cleans_up(folder, tmp_path):
    before = _bytes(folder)
    dest = tmp_path / "dupes"
    report = _run(folder, _copies(folder), to=dest)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.*") if p.parent != dest) == sorted(COPIES)
    assert report.manifest.parent == dest
    assert undo_removal(report.manifest).restored == 4
    assert _bytes(folder) == before and not dest.exists()


def test_a_folder_inside_the_photo_folder_is_skipped_by_the_next_index(folder):
    from photoclust_app.core.ingest.index import index_folder

    _run(folder, _copies(folder), to=folder / "Duplicates")
    assert (folder / "Duplicates" / ".photoclust-export").exists()
    index_folder(folder, model="tiny-test", workers=0)
    with Library.open(folder) as lib:
        assert not any(r.startswith("Duplicates/") for r in lib.relpaths().values())


def test_a_destination_that_holds_photos_is_refused(folder):
    groups = _copies(folder)
    with Library.open(folder) as lib:
        rels = list(lib.relpaths().values())
    for bad in (folder, folder.parent, folder / "a"):
        with pytest.raises(RemovalRefused):
            plan_removal(folder, groups, to=bad, all_relpaths=rels)
    with pytest.raises(RemovalRefused):
        plan_removal(folder, groups, all_relpaths=rels)


def test_keeper_that_disappears_mid_run_gets_its_copies_back(folder, monkeypatch):
    before = _bytes(folder)
    groups = [g for g in _copies(folder) if g.kind == "near"]
    real = remove_mod.place
    calls = []

    def place_then_lose_keeper(*a, **k):
        ok = real(*a, **k)
        calls.append(1)
        if len(calls) == 2:
            (folder / "a" / "two.jpg").rename(folder / "two.jpg moved away")
        return ok

    monkeypatch.setattr(remove_mod, "place", place_then_lose_keeper)
    report = _run(folder, groups, to_trash=True)
    assert report.removed == []
    assert {r for r, _ in report.kept} == {"b/two small.jpg", "b/two q60.jpg", "b/two.png"}
    assert all("disappeared" in why for _, why in report.kept)
    after = _bytes(folder)
    before["two.jpg moved away"] = before.pop("a/two.jpg")
    assert after == before                                  # every copy back, none lost
    with Library.open(folder) as lib:
        assert {"b/two small.jpg", "b/two q60.jpg", "b/two.png"} <= set(lib.relpaths().values())


def test_keeper_gone_before_the_run_removes_nothing(folder):
    groups = _copies(folder)
    os.unlink(folder / "a" / "one.jpg")
    report = _run(folder, groups, to_trash=True)
    assert "b/one copy.jpg" not in {c.relpath for c, _, _ in report.removed}
    assert (folder / "b" / "one copy.jpg").exists()
    assert any(r == "b/one copy.jpg" and "keeper" in why for r, why in report.kept)


def test_a_copy_changed_since_it_was_listed_is_kept(folder):
    groups = _copies(folder)
    p = folder / "b" / "two q60.jpg"
    p.write_bytes(p.read_bytes() + b"edited")
    report = _run(folder, groups, to_trash=True)
    assert ("b/two q60.jpg", "it changed since it was listed, so it is kept") in report.kept
    assert p.exists() and {c.relpath for c, _, _ in report.removed} == COPIES - {"b/two q60.jpg"}


def test_a_copy_replaced_by_a_symlink_is_never_followed(folder, tmp_path):
    groups = _copies(folder)
    victim = tmp_path / "victim.jpg"
    victim.write_bytes(b"private")
    os.unlink(folder / "b" / "two.png")
    os.symlink(victim, folder / "b" / "two.png")
    report = _run(folder, groups, to=tmp_path / "dupes")
    assert "b/two.png" in {r for r, _ in report.kept}
    assert victim.read_bytes() == b"private" and os.path.islink(folder / "b" / "two.png")


def test_the_library_forgets_copies_and_the_keeper_takes_their_hand_placement(folder):
    with Library.open(folder) as lib:
        ids = {r: i for i, r in lib.relpaths().items()}
        garden = lib.create_cluster("Garden")
        lib.assign([ids["b/two small.jpg"]], garden, manual=True)     # the user placed the copy
        other = lib.create_cluster("Other")
        lib.assign([ids["a/one.jpg"]], other, manual=True)             # and the keeper itself
        lib.assign([ids["b/one copy.jpg"]], garden, manual=True)
    _run(folder, _copies(folder), to_trash=True)
    with Library.open(folder) as lib:
        table = lib.assignment_table()
        assert table[ids["a/two.jpg"]] == (garden, 1.0, True)      # took the copy's placement
        assert table[ids["a/one.jpg"]][0] == other                 # kept its own
        assert ids["b/two small.jpg"] not in table and lib.photo(ids["b/two small.jpg"]) is None


def test_undo_refuses_a_manifest_moved_or_edited_and_never_overwrites(folder, tmp_path):
    report = _run(folder, _copies(folder), to=tmp_path / "dupes")
    m = report.manifest
    moved = tmp_path / m.name
    shutil.copyfile(m, moved)
    with pytest.raises(ExportConflict, match="not in the folder it was written to"):
        undo_removal(moved)
    lines = m.read_text().splitlines()
    h = json.loads(lines[0])
    h["source_root"] = str(tmp_path)
    edited = tmp_path / "dupes" / "photoclust-dedupe-edited.jsonl"
    edited.write_text("\n".join([json.dumps(h)] + lines[1:]) + "\n")
    with pytest.raises(ExportConflict):
        undo_removal(edited)
    edited.unlink()
    (folder / "b" / "two.png").write_bytes(b"a new file took the name")
    back = undo_removal(m)
    assert back.restored == 3 and len(back.refused) == 1 and "something else now exists" in back.refused[0][1]
    assert (folder / "b" / "two.png").read_bytes() == b"a new file took the name"
    assert m.exists()                                         # kept, to run again


def test_cli_dedupe_dry_run_then_trash_then_undo_export(folder, capsys):
    before = _bytes(folder)
    assert main(["dedupe", str(folder), "--keep", "best", "--to-trash", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Dry run: would move 4 copies" in out and _bytes(folder) == before
    assert main(["dedupe", str(folder), "--keep", "best", "--to-trash"]) == 0
    manifest = capsys.readouterr().out.strip().splitlines()[-1]
    assert all(not (folder / c).exists() for c in COPIES)
    assert main(["undo-export", manifest]) == 0          # the export's undo command takes it too
    assert _bytes(folder) == before
    with pytest.raises(SystemExit):
        main(["dedupe", str(folder), "--keep", "best"])  # where to: required
    assert main(["undo-dedupe", str(folder / "nothing.jsonl")]) == 1
    assert "photoclust:" in capsys.readouterr().err


def test_a_library_row_edited_to_point_outside_is_never_touched(folder, tmp_path):
    """The library travels with the folder and anyone can edit it: a copy's (or a keeper's)
    relpath edited to a file outside is refused by the guard, never moved."""
    import sqlite3

    victim = tmp_path / "victim.png"
    shutil.copyfile(folder / "b" / "two.png", victim)
    with Library.open(folder) as lib:
        db = lib.path
    conn = sqlite3.connect(db)
    conn.execute("UPDATE photos SET relpath=? WHERE relpath=?", (os.fsencode("../victim.png"), os.fsencode("b/two.png")))
    conn.execute("UPDATE photos SET relpath=? WHERE relpath=?", (os.fsencode("../../one.jpg"), os.fsencode("a/one.jpg")))
    conn.commit()
    conn.close()
    shutil.copyfile(folder / "a" / "one.jpg", tmp_path.parent / "one.jpg")
    outside = {p: p.read_bytes() for p in (victim, tmp_path.parent / "one.jpg")}
    report = _run(folder, _copies(folder), to_trash=True)
    assert {p: p.read_bytes() for p in outside} == outside
    moved = {c.relpath for c, _, _ in report.removed}
    assert "../victim.png" not in moved and "b/one copy.jpg" not in moved   # its keeper is outside: nothing
    assert (folder / "b" / "one copy.jpg").exists()


def test_a_hand_written_manifest_cannot_reach_outside(folder, tmp_path):
    report = _run(folder, _copies(folder), to=tmp_path / "dupes")
    m = report.manifest
    lines = [json.loads(x) for x in m.read_text().splitlines()]
    victim = tmp_path / "victim.jpg"
    victim.write_bytes(b"secret")
    for rec in lines:
        if rec["type"] in ("begin", "item") and rec["src"].endswith("two.png"):
            rec["dst"] = str(victim)              # undo would "put back" the victim into the folder
        if rec["type"] in ("begin", "item") and rec["src"].endswith("two q60.jpg"):
            rec["src"] = str(tmp_path / "planted.jpg")   # or write a copy outside the photo folder
        if rec["type"] == "item" and rec["src"].endswith("two small.jpg"):
            rec["src"] = str(folder / "a" / "new name.jpg")   # the item line alone edited
    m.write_text("".join(json.dumps(r) + "\n" for r in lines))
    back = undo_removal(m)
    assert back.restored == 1 and len(back.refused) == 3
    assert sum("outside the folders" in why for _, why in back.refused) == 2
    assert sum("name different files" in why for _, why in back.refused) == 1
    assert victim.read_bytes() == b"secret" and not (tmp_path / "planted.jpg").exists()


def test_a_file_on_another_volume_goes_to_that_volumes_trash(tmp_path, monkeypatch):
    """Spec: not the home trash but $topdir/.Trash/$uid (an admin-made sticky .Trash) or else
    $topdir/.Trash-$uid, with Path= relative to the top directory."""
    from photoclust_app.core.dedupe import trash

    vol = tmp_path / "vol"
    (vol / "pics").mkdir(parents=True)
    photo = vol / "pics" / "a b.jpg"
    photo.write_bytes(b"x")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(trash, "_device", lambda p: 1 if vol in Path(p).parents or Path(p) == vol else 2)
    monkeypatch.setattr(trash, "_mount_point", lambda p: vol)
    t = trash.trash_for(photo)
    assert t.root == vol / f".Trash-{os.geteuid()}" and t.topdir == vol
    info, dst = trash.reserve(t, photo)
    assert dst == t.files / "a b.jpg"
    assert "Path=pics/a%20b.jpg" in info.read_text()
    info2, dst2 = trash.reserve(t, photo)                 # the name is reserved: the next gets .2
    assert dst2.name == "a b.2.jpg" and info2.name == "a b.2.jpg.trashinfo"
    (vol / ".Trash").mkdir(mode=0o1777)
    os.chmod(vol / ".Trash", 0o1777)
    assert trash.trash_for(photo).root == vol / ".Trash" / str(os.geteuid())

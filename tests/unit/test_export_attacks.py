"""Export and undo under attack: crafted library rows, hand-written manifests, files swapped
for symbolic links, an editor saving mid-move, and odd arguments. Most tests drive the real
`photoclust export` / `photoclust undo-export` in a child process; the library row or the
manifest is planted with sqlite3 / json directly. Every security test hashes a victim
folder outside both the photo folder and DEST before and after."""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hostile import cli_argv, cli_env, run_cli
from photoclust_app.core.errors import ExportConflict
from photoclust_app.core.export import ExportFailed, fs, plan_export, run_export, undo_export
from photoclust_app.core.records import PhotoMeta, PhotoRecord
from photoclust_app.core.store.library import Library
from photoclust_app.core.store.photos import IndexedPhoto

MODES = ["copy", "move", "hardlink", "symlink"]


def data_for(name: str, size: int = 4000) -> bytes:
    return hashlib.sha256(name.encode()).digest() * (size // 32)


def make_library(folder: Path, rels: list[str], cluster: str = "Dogs", unsorted: list[str] = ()) -> dict[Path, bytes]:
    """Photos at FOLDER/rel (bytes only: export never decodes) and a library that lists them,
    all but ``unsorted`` in one named cluster."""
    photos = {}
    for rel in [*rels, *unsorted]:
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data_for(rel))
        photos[p] = data_for(rel)
    with Library.open(folder) as lib:
        items = [IndexedPhoto(PhotoRecord(rel, (folder / rel).stat().st_size, (folder / rel).stat().st_mtime_ns),
                              f"q{n}", PhotoMeta(8, 8), b"thumb", np.zeros(4, np.float32))
                 for n, rel in enumerate([*rels, *unsorted])]
        ids = lib.add_photos(items, model="tiny-test")
        lib.assign(ids[:len(rels)], lib.create_cluster(cluster))
    return photos


def plant_relpath(folder: Path, old: str, new: str | bytes) -> None:
    """Edit one library row as someone with the library file in hand would."""
    conn = sqlite3.connect(folder / ".photoclust" / "library.sqlite")
    with conn:
        n = conn.execute("UPDATE photos SET relpath=? WHERE relpath=?",
                         (os.fsencode(new) if isinstance(new, str) else new, os.fsencode(old))).rowcount
    conn.close()
    assert n == 1


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under root: kind, and bytes hash / link target / inode (the library's
    own folder aside: a read-only SQLite open may add its -shm file)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if ".photoclust" in p.relative_to(root).parts:
            continue
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            out[str(p.relative_to(root))] = ("link", os.readlink(p))
        elif stat.S_ISREG(st.st_mode):
            out[str(p.relative_to(root))] = ("file", hashlib.sha256(p.read_bytes()).hexdigest(), st.st_ino)
        else:
            out[str(p.relative_to(root))] = ("dir",)
    return out


def make_victim(tmp_path: Path) -> tuple[Path, dict]:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "secret.jpg").write_bytes(b"PRIVATE " * 600)
    (victim / "notes.txt").write_bytes(b"the user's own notes, not photos\n")
    return victim, snapshot(victim)


def assert_victim_untouched(victim: Path, before: dict, dest: Path) -> None:
    assert snapshot(victim) == before, "a file outside the photo folder and DEST changed"
    secrets = {p.read_bytes() for p in victim.rglob("*") if p.is_file()}
    inodes = {os.lstat(p).st_ino for p in victim.rglob("*")}
    for p in dest.rglob("*") if dest.exists() else ():
        st = os.lstat(p)
        assert st.st_ino not in inodes, f"{p} is a hard link to a file outside"
        if stat.S_ISLNK(st.st_mode):
            assert not os.path.realpath(p).startswith(str(victim)), f"{p} links outside"
        elif stat.S_ISREG(st.st_mode):
            assert p.read_bytes() not in secrets, f"{p} holds a private file's bytes"


def one_sentence(err: str) -> None:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("photoclust: ") and lines[0].rstrip().endswith("."), err


@pytest.fixture
def lib_folder(tmp_path):
    folder = tmp_path / "photos"
    photos = make_library(folder, ["a.jpg", "b.jpg", "sub/c.jpg"])
    return folder, photos


# --- 6: library paths are untrusted -------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["dotdot", "absolute", "via-symlinked-folder"])
def test_library_path_outside_the_folder_is_skipped_never_touched(tmp_path, lib_folder, mode, kind):
    folder, photos = lib_folder
    victim, before = make_victim(tmp_path)
    if kind == "dotdot":
        planted = "../victim/secret.jpg"
    elif kind == "absolute":
        planted = str(victim / "secret.jpg")
    else:
        os.symlink(victim, folder / "shared")    # a folder link inside the photo folder
        planted = "shared/secret.jpg"
    plant_relpath(folder, "b.jpg", planted)
    dest = tmp_path / "out"
    r = run_cli("export", folder, dest, "--mode", mode, home=tmp_path / "home", timeout=60)
    assert_victim_untouched(victim, before, dest)
    assert r.returncode == 0, r.stderr
    assert "1 skipped" in r.stdout and "secret.jpg" in r.stdout, r.stdout
    assert ("outside the folder" if kind != "via-symlinked-folder" else "symbolic link") in r.stdout
    assert sorted(p.name for p in (dest / "Dogs").iterdir()) == ["a.jpg", "c.jpg"]
    manifest = Path(r.stdout.strip().splitlines()[-1])
    u = run_cli("undo-export", manifest, home=tmp_path / "home", timeout=60)
    assert u.returncode == 0, u.stdout + u.stderr
    assert_victim_untouched(victim, before, dest)
    for p in (folder / "a.jpg", folder / "sub" / "c.jpg"):
        assert p.read_bytes() == photos[p]


def test_library_of_only_outside_paths_is_one_sentence(tmp_path):
    folder = tmp_path / "photos"
    make_library(folder, ["a.jpg"])
    victim, before = make_victim(tmp_path)
    plant_relpath(folder, "a.jpg", "../victim/secret.jpg")
    r = run_cli("export", folder, tmp_path / "out", "--mode", "move", home=tmp_path / "home", timeout=60)
    assert_victim_untouched(victim, before, tmp_path / "out")
    assert r.returncode == 1
    one_sentence(r.stderr)
    assert "outside" in r.stderr
    assert not (tmp_path / "out").exists()


def test_library_path_into_photoclusts_own_folder_is_skipped(tmp_path, lib_folder):
    folder, _ = lib_folder
    plant_relpath(folder, "b.jpg", ".photoclust/library.sqlite")
    lib_bytes = (folder / ".photoclust" / "library.sqlite").read_bytes()
    r = run_cli("export", folder, tmp_path / "out", "--mode", "move", home=tmp_path / "home", timeout=60)
    assert (folder / ".photoclust" / "library.sqlite").read_bytes() == lib_bytes
    assert r.returncode == 0 and "library folder" in r.stdout, r.stdout + r.stderr


# --- 8: a photo swapped for a symbolic link after indexing ------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_photo_replaced_by_symlink_after_indexing_is_refused(tmp_path, lib_folder, mode):
    folder, photos = lib_folder
    victim, before = make_victim(tmp_path)
    (folder / "b.jpg").unlink()
    os.symlink(victim / "secret.jpg", folder / "b.jpg")
    dest = tmp_path / "out"
    r = run_cli("export", folder, dest, "--mode", mode, home=tmp_path / "home", timeout=60)
    assert_victim_untouched(victim, before, dest)
    assert r.returncode == 0, r.stderr
    assert "1 skipped" in r.stdout and "symbolic link" in r.stdout, r.stdout
    assert os.readlink(folder / "b.jpg") == str(victim / "secret.jpg")


@pytest.mark.parametrize("moment,mode", [(t, m) for t in ("after-plan", "after-check") for m in MODES]
                         + [("at-link", "hardlink"), ("at-link", "move")])
def test_symlink_swapped_in_at_the_moment_of_the_operation(tmp_path, monkeypatch, mode, moment):
    """The window between checking a source and using it: open with O_NOFOLLOW and compare
    the opened inode with the checked one; compare a made hard link with the opened inode."""
    folder = tmp_path / "photos"
    photos = make_library(folder, ["a.jpg", "b.jpg"])
    victim, before = make_victim(tmp_path)
    target = folder / "b.jpg"

    def swap():
        if not os.path.islink(target):
            target.unlink()
            os.symlink(victim / "secret.jpg", target)
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out", mode=mode, source_root=folder)
    if moment == "after-plan":
        swap()
    elif moment == "after-check":
        from photoclust_app.core.export import guard

        real = guard.Guard.check

        def check(self, path):
            st = real(self, path)
            if Path(path) == target and not getattr(self, "in_preflight", False):
                swap()
            return st
        monkeypatch.setattr(guard.Guard, "check", check)
        real_pre = __import__("photoclust_app.core.export.run", fromlist=["_preflight"])._preflight

        def preflight(plan, g):
            g.in_preflight = True
            try:
                return real_pre(plan, g)
            finally:
                g.in_preflight = False
        monkeypatch.setattr("photoclust_app.core.export.run._preflight", preflight)
    else:                      # only the link modes make a link from the name
        real_link = fs.link_no_clobber

        def link(src, dst):
            if Path(src) == target:
                swap()
            return real_link(src, dst)
        monkeypatch.setattr(fs, "link_no_clobber", link)
    manifest = run_export(plan)
    assert_victim_untouched(victim, before, tmp_path / "out")
    assert [p for p, _ in plan.skipped] == [target]
    assert (tmp_path / "out" / "Dogs" / "a.jpg").read_bytes() == photos[folder / "a.jpg"]
    assert not undo_export(manifest).refused
    assert_victim_untouched(victim, before, tmp_path / "out")


@pytest.mark.parametrize("mode", MODES)
def test_folder_swapped_for_a_symlink_after_the_check_is_not_followed(tmp_path, monkeypatch, mode):
    """The folder on the way, not the file, is swapped after preflight checked it: the open
    walks down folder by folder with O_NOFOLLOW instead of trusting that earlier check."""
    from photoclust_app.core.export import guard

    folder = tmp_path / "photos"
    photos = make_library(folder, ["a.jpg", "sub/b.jpg"])
    victim, _ = make_victim(tmp_path)
    (victim / "b.jpg").write_bytes(b"PRIVATE TOO " * 300)
    before = snapshot(victim)
    target = folder / "sub" / "b.jpg"
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out", mode=mode, source_root=folder)
    real, checks = guard.Guard.check, []

    def check(self, path):
        checks.append(path)
        if Path(path) == target and checks.count(path) == 2:     # after preflight, before the operation
            os.rename(folder / "sub", tmp_path / "sub-away")
            os.symlink(victim, folder / "sub")
        return real(self, path)
    monkeypatch.setattr(guard.Guard, "check", check)
    manifest = run_export(plan)
    assert_victim_untouched(victim, before, tmp_path / "out")
    assert [p for p, _ in plan.skipped] == [target]
    assert not undo_export(manifest).refused
    assert_victim_untouched(victim, before, tmp_path / "out")


# --- 7: a manifest is untrusted ---------------------------------------------------------------

def _export(tmp_path, folder, mode) -> tuple[Path, dict, list[dict]]:
    r = run_cli("export", folder, tmp_path / "out", "--mode", mode, home=tmp_path / "home", timeout=60)
    assert r.returncode == 0, r.stderr
    manifest = Path(r.stdout.strip().splitlines()[-1])
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    return manifest, lines[0], lines[1:]


def _victim_item(victim_file: Path, mode: str, i: int, src: Path | None = None) -> dict:
    st = victim_file.stat()
    data = victim_file.read_bytes()
    return {"type": "item", "i": i, "src": str(src or victim_file), "dst": str(victim_file), "mode": mode,
            "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "inode": st.st_ino,
            "id": [st.st_dev, st.st_ino], "target": str(src or victim_file), "status": "done"}


def _write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.mark.parametrize("mode", ["copy", "hardlink", "symlink"])
def test_hand_written_manifest_with_src_equal_dst_cannot_delete_a_victim(tmp_path, lib_folder, mode):
    folder, photos = lib_folder
    victim, before = make_victim(tmp_path)
    manifest, header, _ = _export(tmp_path, folder, mode)
    secret = victim / "secret.jpg"
    forged = tmp_path / "out" / "photoclust-export-forged.jsonl"
    # The header names the victim's grandparent as DEST, as the old undo required.
    _write(forged, [dict(header, dest=str(tmp_path)), _victim_item(secret, mode, 0)])
    r = run_cli("undo-export", forged, home=tmp_path / "home", timeout=60)
    assert_victim_untouched(victim, before, tmp_path / "out")
    assert r.returncode == 1, r.stdout + r.stderr
    one_sentence(r.stderr)
    # The same items under the real, untouched header: each is refused on its own.
    _write(forged, [header, _victim_item(secret, mode, 0), _victim_item(secret, mode, 1, src=folder / "a.jpg")])
    r = run_cli("undo-export", forged, home=tmp_path / "home", timeout=60)
    assert_victim_untouched(victim, before, tmp_path / "out")
    assert r.returncode == 2 and r.stdout.count("\n  left alone ") == 2, r.stdout + r.stderr
    assert all(p.read_bytes() == d for p, d in photos.items())
    assert run_cli("undo-export", manifest, home=tmp_path / "home", timeout=60).returncode == 0
    assert_victim_untouched(victim, before, tmp_path / "out")


def test_hand_written_move_item_cannot_move_a_victim(tmp_path, lib_folder):
    folder, photos = lib_folder
    victim, before = make_victim(tmp_path)
    manifest, header, items = _export(tmp_path, folder, "move")
    secret = victim / "secret.jpg"
    loot = tmp_path / "photos" / "loot.jpg"          # inside the photo folder: a legal src
    forged = tmp_path / "out" / "photoclust-export-forged.jsonl"
    _write(forged, [header, dict(_victim_item(secret, "move", 0, src=loot)),
                    dict(_victim_item(secret, "move", 1, src=tmp_path / "anywhere" / "x.jpg"))])
    r = run_cli("undo-export", forged, home=tmp_path / "home", timeout=60)
    assert_victim_untouched(victim, before, tmp_path / "out")
    assert not loot.exists() and not (tmp_path / "anywhere").exists()
    assert r.returncode == 2, r.stdout + r.stderr
    # A planted folder link inside DEST does not lead undo out either.
    os.symlink(victim, tmp_path / "out" / "Cats")
    item = dict(_victim_item(secret, "move", 0, src=loot), dst=str(tmp_path / "out" / "Cats" / "secret.jpg"))
    _write(forged, [header, item])
    r = run_cli("undo-export", forged, home=tmp_path / "home", timeout=60)
    os.unlink(tmp_path / "out" / "Cats")
    assert_victim_untouched(victim, before, tmp_path / "out")
    assert not loot.exists()
    assert r.returncode == 2 and "plain folder" in r.stdout, r.stdout + r.stderr
    forged.unlink()
    assert run_cli("undo-export", manifest, home=tmp_path / "home", timeout=60).returncode == 0
    assert all(p.read_bytes() == d for p, d in photos.items())


@pytest.mark.parametrize("how", ["copied-elsewhere", "dest-edited", "dest-replaced"])
def test_manifest_bound_to_its_dest(tmp_path, lib_folder, how):
    folder, photos = lib_folder
    victim, before = make_victim(tmp_path)
    manifest, header, items = _export(tmp_path, folder, "copy")
    dest = tmp_path / "out"
    if how == "copied-elsewhere":     # next to the victim's copies of the same photos
        for p, d in photos.items():
            (victim / p.name).write_bytes(d)
        before = snapshot(victim)
        target = victim / manifest.name
        target.write_text(manifest.read_text().replace(str(dest), str(victim)))
        (victim / "Dogs").mkdir()
        for p, d in photos.items():
            (victim / "Dogs" / p.name).write_bytes(d)
        before = snapshot(victim)
    elif how == "dest-edited":
        target = manifest
        text = manifest.read_text()
        manifest.write_text(text.replace(f'"dest":"{dest}"', f'"dest":"{victim}"'))
    else:                              # DEST swapped for another folder of the same name
        os.rename(dest, tmp_path / "out-real")
        dest.mkdir()
        (dest / "Dogs").mkdir()
        for p, d in photos.items():
            (dest / "Dogs" / p.name).write_bytes(d)
        target = tmp_path / "out-real" / manifest.name
        os.rename(target, dest / manifest.name)
        target = dest / manifest.name
    keep = snapshot(dest)
    r = run_cli("undo-export", target, home=tmp_path / "home", timeout=60)
    assert_victim_untouched(victim, before, tmp_path / "nowhere")
    assert snapshot(dest) == keep
    assert r.returncode == 1, r.stdout + r.stderr
    one_sentence(r.stderr)


# --- 10: hardlink export, then the original replaced by a symlink to the link ----------------

@pytest.mark.parametrize("what", ["file", "folder"])
def test_hardlink_undo_keeps_the_photo_when_the_original_became_a_symlink(tmp_path, lib_folder, what):
    folder, photos = lib_folder
    manifest, _, items = _export(tmp_path, folder, "hardlink")
    done = {Path(r["src"]): Path(r["dst"]) for r in items if r.get("type") == "item"}
    a = folder / "a.jpg" if what == "file" else folder / "sub" / "c.jpg"
    if what == "file":                  # a tidy-up tool "deduplicating" with a symlink
        a.unlink()
        os.symlink(done[a], a)
    else:                               # ... or the whole folder, pointing at the export
        a.unlink()
        (folder / "sub").rmdir()
        os.symlink(done[a].parent, folder / "sub")
    r = run_cli("undo-export", manifest, home=tmp_path / "home", timeout=60)
    assert done[a].exists() and a.read_bytes() == photos[a], "the photo was lost"
    assert r.returncode == 2 and "left alone" in r.stdout, r.stdout + r.stderr
    for p in photos:
        assert p.read_bytes() == photos[p]


# --- 9: an editor saves a new version while a move works on the photo --------------------------

@pytest.mark.parametrize("other_disk", [False, True], ids=["same-disk", "other-disk"])
def test_editor_saving_during_move_keeps_the_new_version(tmp_path, monkeypatch, other_disk):
    folder = tmp_path / "photos"
    photos = make_library(folder, ["a.jpg", "b.jpg", "c.jpg"])
    if other_disk:
        real_dev = fs.device_of
        monkeypatch.setattr(fs, "device_of", lambda p: real_dev(p) + ("photos" in Path(p).parts))
    target, new = folder / "b.jpg", b"NEW VERSION " * 500
    real_remove = fs.remove_source

    def editor_saves_then_remove(src, *args):
        if Path(src) == target:          # the critical moment: copy verified, source not yet removed
            tmp = target.with_name(".b.jpg.editor-tmp")
            tmp.write_bytes(new)
            os.replace(tmp, target)
        return real_remove(src, *args)
    monkeypatch.setattr(fs, "remove_source", editor_saves_then_remove)
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out", mode="move", source_root=folder)
    try:
        run_export(plan)
        failed = None
    except ExportFailed as err:
        failed = err
    assert target.exists() and target.read_bytes() == new, "the user's new version was removed"
    assert failed is not None and "changed" in str(failed)
    assert not (folder / "a.jpg").exists() and (folder / "c.jpg").read_bytes() == photos[folder / "c.jpg"]
    assert not list(folder.glob(".photoclust-*")) and not (tmp_path / "out" / "Dogs" / "b.jpg").exists()
    monkeypatch.setattr(fs, "remove_source", real_remove)
    report = undo_export(failed.manifest)
    assert (report.restored, report.refused) == (1, [])
    assert (folder / "a.jpg").read_bytes() == photos[folder / "a.jpg"] and target.read_bytes() == new


def test_remove_source_never_unlinks_a_file_swapped_in_after_its_check(tmp_path, monkeypatch):
    """The swap lands after every check and before the removal: the file under the name at
    that instant is detached, compared, and given back."""
    p = tmp_path / "photo.jpg"
    p.write_bytes(b"old")
    st = os.lstat(p)
    real_rename = os.rename

    def rename(a, b, *args, **kw):
        if Path(a) == p:
            (tmp_path / "new").write_bytes(b"new version")
            real_rename(tmp_path / "new", p)
        return real_rename(a, b, *args, **kw)
    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(fs.Changed):
        fs.remove_source(p, (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns), tmp_path / ".tmp-rm")
    assert p.read_bytes() == b"new version" and not (tmp_path / ".tmp-rm").exists()


# --- 3: DEST above photos of the library -------------------------------------------------------

@pytest.mark.parametrize("which", ["exported", "unsorted"])
def test_dest_above_photos_of_the_library_is_refused(tmp_path, which):
    folder = tmp_path / "photos"
    if which == "exported":
        make_library(folder, ["2019/sub1/a.jpg", "2019/sub2/b.jpg", "c.jpg"])
    else:
        make_library(folder, ["c.jpg"], unsorted=["2019/sub1/a.jpg"])
    before = snapshot(folder)
    r = run_cli("export", folder, folder / "2019", home=tmp_path / "home", timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    one_sentence(r.stderr)
    assert "holds photos of this library" in r.stderr
    assert snapshot(folder) == before and not (folder / "2019" / ".photoclust-export").exists()
    ok = run_cli("export", folder, folder / "Sorted", home=tmp_path / "home", timeout=60)
    assert ok.returncode == 0, ok.stderr


# --- 13: small ones -------------------------------------------------------------------------

def _cli_in(cwd: Path, *args, home: Path, timeout: float = 30):
    return subprocess.run(cli_argv(*args), capture_output=True, text=True, timeout=timeout,
                          env=cli_env(home), cwd=cwd)


def test_empty_dest_is_refused(tmp_path, lib_folder):
    folder, _ = lib_folder
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    for dest in ("", "   "):
        r = _cli_in(cwd, "export", folder, dest, home=tmp_path / "home")
        assert r.returncode == 1, r.stdout + r.stderr
        one_sentence(r.stderr)
        assert os.listdir(cwd) == []


@pytest.mark.parametrize("what", ["dev-zero", "fifo", "directory", "missing", "huge", "binary"])
def test_undo_export_of_a_non_manifest_is_a_sentence(tmp_path, what):
    if what == "dev-zero":
        path = Path("/dev/zero")
        if not path.exists():
            pytest.skip("no /dev/zero")
    else:
        path = tmp_path / "m.jsonl"
        if what == "fifo":
            os.mkfifo(path)
        elif what == "directory":
            path.mkdir()
        elif what == "huge":
            with open(path, "wb") as f:
                f.truncate(2 << 30)         # sparse: costs no disk
        elif what == "binary":
            path.write_bytes(bytes(range(256)) * 10)
    r = _cli_in(tmp_path, "undo-export", path, home=tmp_path / "home", timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    one_sentence(r.stderr)
    assert "manifest" in r.stderr, r.stderr


def test_sizes_in_the_disk_full_sentence(tmp_path, lib_folder):
    folder, _ = lib_folder
    child = ("import shutil, sys, collections\n"
             "U = collections.namedtuple('U', 'total used free')\n"
             "shutil.disk_usage = lambda p: U(10**9, 10**9 - 5000, 5000)\n"
             "from photoclust_app.cli import main\n"
             "sys.exit(main(sys.argv[1:]))\n")
    r = subprocess.run([sys.executable, "-c", child, "export", str(folder), str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=60, env=cli_env(tmp_path / "home"))
    assert r.returncode == 1
    one_sentence(r.stderr)
    assert "has 5.0 KB free but the export needs 16.8 MB" in r.stderr, r.stderr
    from photoclust_app.core.export.run import human_size
    assert [human_size(n) for n in (0, 999, 1000, 1_234_567, 5 * 10**9, 3 * 10**13)] == \
        ["0 bytes", "999 bytes", "1.0 KB", "1.2 MB", "5.0 GB", "30.0 TB"]


def test_export_errors_are_sentences_not_tracebacks(tmp_path, lib_folder, monkeypatch):
    folder, _ = lib_folder
    (tmp_path / "file").write_bytes(b"x")
    for args in (("export", folder, tmp_path / "file"), ("export", folder, tmp_path / "file" / "sub"),
                 ("undo-export", tmp_path / "nothing-here.jsonl")):
        r = run_cli(*args, home=tmp_path / "home", timeout=60)
        assert r.returncode in (1, 2), r.stdout + r.stderr
        one_sentence(r.stderr)


def test_plan_refuses_empty_dest_in_process(tmp_path, lib_folder):
    folder, photos = lib_folder
    with pytest.raises(ExportConflict, match="destination"):
        plan_export([("Dogs", list(photos))], "", source_root=folder)

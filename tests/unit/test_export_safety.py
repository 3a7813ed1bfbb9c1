"""Export under failure: EXDEV, full disks, permission errors, cancel, crashes, and an
undo that refuses to delete anything that changed after the export."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from photoclust_app.core.export import fs
from photoclust_app.core.errors import Cancelled, ExportConflict
from photoclust_app.core.export import (EXPORT_MARKER, ExportCancelled, ExportFailed, plan_export,
                                        read_manifest, run_export, undo_export)
from photoclust_app.core.export.journal import Journal

REPO = Path(__file__).resolve().parents[2]


def make_photos(root: Path, n: int, size: int = 5000) -> dict[Path, bytes]:
    out = {}
    for i in range(n):
        p = root / f"IMG_{i:04d}.jpg"
        p.parent.mkdir(parents=True, exist_ok=True)
        out[p] = hashlib.sha256(str(p).encode()).digest() * (size // 32) + bytes([i % 256])
        p.write_bytes(out[p])
    return out


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def assert_sources_intact(photos: dict[Path, bytes]) -> None:
    for p, data in photos.items():
        assert p.read_bytes() == data, p


def force_other_disk(monkeypatch, marker: str = "src") -> None:
    """Make the sources look like another file system, so moves copy + verify."""
    real = fs.device_of
    monkeypatch.setattr(fs, "device_of", lambda p: real(p) + (marker in Path(p).parts))


def shm_dir():
    """A real second file system (tmpfs) if this machine has one we can write to."""
    shm = Path("/dev/shm")
    try:
        if shm.is_dir() and os.stat(shm).st_dev != os.stat(tempfile.gettempdir()).st_dev:
            return Path(tempfile.mkdtemp(dir=shm))
    except OSError:
        pass
    return None


# --- across file systems -----------------------------------------------------------

def test_hardlink_across_disks_refused_at_plan(tmp_path, monkeypatch):
    photos = make_photos(tmp_path / "src", 3)
    force_other_disk(monkeypatch)
    with pytest.raises(ExportConflict, match="one disk"):
        plan_export([("Dogs", list(photos))], tmp_path / "out", mode="hardlink")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("dest_exists", [False, True])
def test_hardlink_exdev_at_run_creates_nothing(tmp_path, monkeypatch, dest_exists):
    photos = make_photos(tmp_path / "src", 3)
    if dest_exists:
        (tmp_path / "out").mkdir()
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out", mode="hardlink")

    def exdev(a, b, *args, **kw):
        raise OSError(errno.EXDEV, "Invalid cross-device link")
    monkeypatch.setattr(os, "link", exdev)
    before = tree(tmp_path)
    with pytest.raises(ExportConflict, match="different disk"):
        run_export(plan)
    assert tree(tmp_path) == before
    assert_sources_intact(photos)


def test_symlinks_unsupported_creates_nothing(tmp_path, monkeypatch):
    photos = make_photos(tmp_path / "src", 2)
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out", mode="symlink")

    def eperm(*a, **kw):
        raise OSError(errno.EPERM, "Operation not permitted")
    monkeypatch.setattr(os, "symlink", eperm)
    with pytest.raises(ExportConflict, match="symbolic links"):
        run_export(plan)
    assert not (tmp_path / "out").exists()


def test_real_second_filesystem(tmp_path):
    other = shm_dir()
    if other is None:
        pytest.skip("no second writable file system (/dev/shm) here")
    try:
        photos = make_photos(tmp_path / "src", 3)
        with pytest.raises(ExportConflict, match="one disk"):
            plan_export([("Dogs", list(photos))], other / "out", mode="hardlink")
        plan = plan_export([("Dogs", list(photos))], other / "out", mode="move")
        manifest = run_export(plan)
        for src, dst in plan.items:
            assert not src.exists() and dst.read_bytes() == photos[src]
        report = undo_export(manifest)
        assert report.restored == 3 and not report.refused
        assert_sources_intact(photos)
        assert not (other / "out").exists()
    finally:
        shutil.rmtree(other, ignore_errors=True)


# --- failures part-way ---------------------------------------------------------------

def fail_on_call(monkeypatch, name: str, n: int, err: OSError, *, partial: bool = False):
    real = getattr(fs, name)
    calls = []

    def wrapper(*args):
        calls.append(args)
        if len(calls) == n:
            if partial:   # half a file, as a full disk would leave it
                Path(args[1]).write_bytes(b"\0" * 100)
            raise err
        return real(*args)
    monkeypatch.setattr(fs, name, wrapper)
    return calls


@pytest.mark.parametrize("mode", ["copy", "move"])
def test_disk_full_on_third_file(tmp_path, monkeypatch, mode):
    photos = make_photos(tmp_path / "src", 5)
    force_other_disk(monkeypatch)   # moves take the copy path too
    plan = plan_export([("Dogs", list(photos)[:3]), ("Cats", list(photos)[3:])], tmp_path / "out", mode=mode)
    fail_on_call(monkeypatch, "copy_and_hash", 3, OSError(errno.ENOSPC, "No space left on device"), partial=True)
    with pytest.raises(ExportFailed) as info:
        run_export(plan)
    err = info.value
    assert isinstance(err, ExportConflict) and (err.done, err.total) == (2, 5)
    assert "2 of 5" in str(err) and "full" in str(err) and "Undo" in str(err)
    assert not list((tmp_path / "out").rglob("*.part"))
    m = read_manifest(err.manifest)
    assert [(i.src, i.dst) for i in m.done] == plan.items[:2] and m.end["status"] == "failed"
    for k, (src, dst) in enumerate(plan.items):
        if k < 2:
            assert dst.read_bytes() == photos[src]
            assert src.exists() == (mode == "copy")
        else:
            assert not dst.exists() and src.read_bytes() == photos[src]
    report = undo_export(err.manifest)
    assert (report.removed, report.restored, report.refused) == \
        ((2, 0, []) if mode == "copy" else (0, 2, []))
    assert_sources_intact(photos)
    assert not (tmp_path / "out").exists()


def test_permission_denied_when_publishing(tmp_path, monkeypatch):
    photos = make_photos(tmp_path / "src", 4)
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out")
    fail_on_call(monkeypatch, "publish", 2, PermissionError(errno.EACCES, "Permission denied"))
    with pytest.raises(ExportFailed, match="permission denied") as info:
        run_export(plan)
    assert info.value.done == 1
    assert not list((tmp_path / "out").rglob("*.part"))
    assert [i.dst for i in read_manifest(info.value.manifest).done] == [plan.items[0][1]]
    assert undo_export(info.value.manifest).removed == 1
    assert_sources_intact(photos)
    assert not (tmp_path / "out").exists()


def test_manifest_write_failure_keeps_manifest_true(tmp_path, monkeypatch):
    """If the journal line for a file cannot be written, that file must not stay behind."""
    photos = make_photos(tmp_path / "src", 3)
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out")
    real, items = Journal.write, []

    def write(self, record, *, sync=True):
        if record.get("type") == "item":
            items.append(record)
            if len(items) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, record, sync=sync)
    monkeypatch.setattr(Journal, "write", write)
    with pytest.raises(ExportFailed) as info:
        run_export(plan)
    assert [i.dst for i in read_manifest(info.value.manifest).done] == [plan.items[0][1]]
    assert plan.items[0][1].exists() and not plan.items[1][1].exists()
    monkeypatch.setattr(Journal, "write", real)
    assert undo_export(info.value.manifest).removed == 1
    assert not (tmp_path / "out").exists()


def test_cancel_between_files_keeps_manifest(tmp_path):
    photos = make_photos(tmp_path / "src", 5)
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out", mode="move")
    seen = []
    with pytest.raises(ExportCancelled) as info:
        run_export(plan, progress=lambda d, t, s: seen.append(d), cancel=lambda: len(seen) >= 3)
    assert isinstance(info.value, Cancelled) and info.value.done == 2
    m = read_manifest(info.value.manifest)
    assert len(m.done) == 2 and m.end["status"] == "cancelled"
    assert sum(s.exists() for s in photos) == 3
    assert undo_export(info.value.manifest).restored == 2
    assert_sources_intact(photos)


# --- crashes (a child process SIGKILLed part-way) -----------------------------------------

CHILD = r"""
import json, os, signal, sys
from pathlib import Path
from photoclust_app.core.export import fs
from photoclust_app.core.export import ExportPlan, run_export
spec = json.loads(sys.argv[1])
if spec["other_disk"]:
    real_dev = fs.device_of
    fs.device_of = lambda p: real_dev(p) + ("src" in Path(p).parts)
real = getattr(fs, spec["point"])
calls = []
def crash(*args):
    calls.append(1)
    if len(calls) == spec["k"] + 1:
        if spec["point"] == "copy_and_hash":          # die half-way through writing a file
            Path(args[1]).write_bytes(Path(args[0]).read_bytes()[:1000])
        elif spec["after"]:                            # die right after the step
            real(*args)
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args)
setattr(fs, spec["point"], crash)
run_export(ExportPlan(Path(spec["dest"]), "move", [(Path(s), Path(d)) for s, d in spec["items"]]))
"""


@pytest.mark.parametrize("point,after,other_disk", [
    ("copy_and_hash", False, True),     # partial temp file left behind
    ("remove_source", False, True),     # verified copy in place, source not yet removed
    ("remove_source", True, True),      # source removed, "done" line not yet written
    ("link_no_clobber", True, False),   # same disk: linked, not yet journalled
    ("remove_source", True, False),
])
def test_crash_mid_move_keeps_every_photo_and_undo_restores(tmp_path, point, after, other_disk):
    photos = make_photos(tmp_path / "src", 6)
    plan = plan_export([("Dogs", list(photos)[:3]), ("Cats", list(photos)[3:])], tmp_path / "out", mode="move")
    k = 3
    spec = {"dest": str(plan.dest), "items": [[str(s), str(d)] for s, d in plan.items], "point": point,
            "after": after, "other_disk": other_disk, "k": k}
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], env=env, cwd=REPO,
                          capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    # Invariant: every photo is at its source or, with identical bytes, at its destination.
    for src, dst in plan.items:
        at_src = src.exists() and src.read_bytes() == photos[src]
        at_dst = dst.exists() and dst.read_bytes() == photos[src]
        assert at_src or at_dst, src
    (manifest,) = plan.dest.glob("photoclust-export-*.jsonl")
    m = read_manifest(manifest)
    assert len(m.done) == k and m.end is None
    src_k, dst_k = plan.items[k]
    parts = list(plan.dest.rglob("*.part"))
    if point == "copy_and_hash":     # the crash left a partial temp file and no final file
        assert len(parts) == 1 and not dst_k.exists() and src_k.exists()
    else:                            # the crash came after the photo was placed
        assert dst_k.read_bytes() == photos[src_k] and not parts
        assert src_k.exists() == (point != "remove_source" or not after)
        assert m.items[k].status == ("verified" if point == "remove_source" else None)
    assert (plan.dest / EXPORT_MARKER).exists()
    report = undo_export(manifest)
    assert not report.refused
    assert_sources_intact(photos)
    assert sorted(os.listdir(tmp_path / "src")) == sorted(p.name for p in photos)
    assert not plan.dest.exists()


# --- undo refuses to lose anything ---------------------------------------------------------

def test_undo_keeps_a_copy_modified_after_export(tmp_path):
    photos = make_photos(tmp_path / "src", 3)
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out")
    manifest = run_export(plan)
    edited, retouched = plan.items[1][1], plan.items[2][1]
    edited.write_bytes(edited.read_bytes() + b"user edit")
    data = bytearray(retouched.read_bytes())
    data[100] ^= 0xFF                    # same size, one byte changed: only the hash tells
    retouched.write_bytes(bytes(data))
    report = undo_export(manifest)
    assert report.removed == 1 and sorted(p for p, _ in report.refused) == sorted([edited, retouched])
    assert all("changed" in reason for _, reason in report.refused)
    assert edited.read_bytes().endswith(b"user edit") and retouched.read_bytes() == bytes(data)
    assert manifest.exists() and (plan.dest / EXPORT_MARKER).exists()
    assert_sources_intact(photos)
    edited.unlink()                      # the user deals with them; undo can now finish
    retouched.unlink()
    assert undo_export(manifest).refused == []
    assert not plan.dest.exists()


def test_undo_keeps_a_copy_whose_original_is_gone(tmp_path):
    photos = make_photos(tmp_path / "src", 2)
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out")
    manifest = run_export(plan)
    src0, dst0 = plan.items[0]
    src0.unlink()
    report = undo_export(manifest)
    assert [p for p, _ in report.refused] == [dst0] and "only" in report.refused[0][1]
    assert dst0.read_bytes() == photos[src0]


def test_undo_move_refuses_when_source_path_is_taken(tmp_path):
    photos = make_photos(tmp_path / "src", 3)
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out", mode="move")
    manifest = run_export(plan)
    (src1, dst1), (src2, dst2) = plan.items[1], plan.items[2]
    src1.write_bytes(b"a new file the user put here")
    dst2.write_bytes(b"edited after the move")
    report = undo_export(manifest)
    assert report.restored == 1
    assert sorted(p for p, _ in report.refused) == sorted([dst1, dst2])
    assert src1.read_bytes() == b"a new file the user put here"
    assert dst1.read_bytes() == photos[src1]
    assert dst2.read_bytes() == b"edited after the move" and not src2.exists()
    assert plan.items[0][0].read_bytes() == photos[plan.items[0][0]]
    src1.unlink()
    again = undo_export(manifest)
    assert again.restored == 1 and src1.read_bytes() == photos[src1]


@pytest.mark.parametrize("mode", ["symlink", "hardlink"])
def test_undo_leaves_replaced_links(tmp_path, mode):
    photos = make_photos(tmp_path / "src", 2)
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out", mode=mode)
    manifest = run_export(plan)
    dst = plan.items[0][1]
    dst.unlink()
    dst.write_bytes(b"something the user saved here")
    report = undo_export(manifest)
    assert report.removed == 1 and [p for p, _ in report.refused] == [dst]
    assert dst.read_bytes() == b"something the user saved here"
    assert_sources_intact(photos)


def test_undo_rejects_a_foreign_file(tmp_path):
    bogus = tmp_path / "notes.jsonl"
    bogus.write_text('{"hello": 1}\n')
    with pytest.raises(ExportConflict):
        undo_export(bogus)
    assert bogus.exists()


CRASH_IN_REMOVE = r"""
import json, os, signal, sys
from pathlib import Path
from photoclust_app.core.export import ExportPlan, run_export, undo_export
spec = json.loads(sys.argv[1])
real_rename = os.rename
def rename(a, b, *args, **kw):
    real_rename(a, b, *args, **kw)
    if spec["tag"] in os.path.basename(b):   # the file is detached, not yet checked or removed
        os.kill(os.getpid(), signal.SIGKILL)
os.rename = rename
if spec["what"] == "export":
    run_export(ExportPlan(Path(spec["dest"]), "move", [(Path(s), Path(d)) for s, d in spec["items"]]))
else:
    undo_export(Path(spec["manifest"]))
"""


@pytest.mark.parametrize("what", ["export", "undo"])
def test_crash_inside_a_checked_removal_keeps_the_photo(tmp_path, what):
    """fs.remove_source renames a file away before checking and unlinking it; a kill in
    between leaves it under a temporary name, which the next undo gives its name back."""
    photos = make_photos(tmp_path / "src", 3)
    plan = plan_export([("Dogs", list(photos))], tmp_path / "out", mode="move")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if what == "export":
        spec = {"what": what, "tag": "-src-", "dest": str(plan.dest),
                "items": [[str(s), str(d)] for s, d in plan.items]}
    else:
        manifest = run_export(plan)
        spec = {"what": what, "tag": "-rm-", "manifest": str(manifest)}
    proc = subprocess.run([sys.executable, "-c", CRASH_IN_REMOVE, json.dumps(spec)], env=env, cwd=REPO,
                          capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    leftovers = list(tmp_path.rglob(".photoclust-*.part"))
    assert len(leftovers) == 1, leftovers
    (manifest,) = plan.dest.glob("photoclust-export-*.jsonl")
    report = undo_export(manifest)
    assert not report.refused, report.refused
    assert_sources_intact(photos)
    assert not list(tmp_path.rglob(".photoclust-*.part")) and not plan.dest.exists()

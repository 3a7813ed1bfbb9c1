"""The user's sorting work (names, hand placements, clusters) survives what 0.1 lost it to:
a move export and its undo, a subfolder unreadable for one run, a re-cluster after a split.
Driven through the real command line in child processes, as a user would."""
import json
import os
import subprocess

import pytest

from hostile import BLUE, GREEN, RED, cli_argv, cli_env, jpeg
from photoclust_app.core.editing.session import Session
from photoclust_app.core.store.library import Library


def _folder(root, per=12):
    for sub, color in (("2019/reds", RED), ("2019/greens", GREEN), ("blues", BLUE)):
        (root / sub).mkdir(parents=True, exist_ok=True)
        for i in range(per):
            (root / sub / f"{sub.split('/')[-1]}{i:02d}.jpg").write_bytes(jpeg(color=color, seed=i))


def _cli(home, *args, preexec=None):
    out = subprocess.run(cli_argv(*args), capture_output=True, text=True, env=cli_env(home), timeout=300,
                         preexec_fn=preexec)
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    return out


def _work(folder):
    """What the user made: {cluster name: member relpaths} and the hand-placed relpaths."""
    with Library.open(folder, readonly=True) as lib:
        rel = lib.relpaths()
        names = {c.id: c.display_name for c in lib.clusters()}
        groups = {}
        for pid, cid in lib.assignments().items():
            groups.setdefault(names.get(cid, "Unsorted"), set()).add(rel[pid])
        return groups, {rel[p] for p in lib.manual_photos()}


@pytest.fixture
def sorted_folder(tmp_path):
    """An indexed, clustered folder where the user renamed a cluster and placed a photo by hand."""
    folder, home = tmp_path / "photos", tmp_path / "home"
    _folder(folder)
    assert _cli(home, "index", folder, "--model", "tiny-test", "--workers", "0").returncode == 0
    assert _cli(home, "cluster", folder, "--no-names", "--min-cluster-size", "5").returncode == 0
    with Library.open(folder) as lib:
        s = Session(lib)
        first, second = s.cluster_ids()[:2]
        s.rename(first, "Mine")
        s.move(s.members(second)[:1], first)
    return folder, home


def test_a_move_export_and_its_undo_keep_every_name_and_hand_placement(sorted_folder, tmp_path):
    folder, home = sorted_folder
    before = _work(folder)
    dest = tmp_path / "sorted"
    out = _cli(home, "export", folder, dest, "--mode", "move")
    assert out.returncode == 0, out.stderr
    manifest = out.stdout.strip().splitlines()[-1]
    out = _cli(home, "index", folder, "--model", "tiny-test", "--workers", "0")   # as the window did
    assert out.returncode == 0 and "missing" in out.stdout
    info = json.loads(_cli(home, "info", folder, "--json").stdout)
    assert "Mine" in {c["name"] for c in info["clusters"]} and info["missing"]
    assert _work(folder) == before                      # nothing forgotten while the photos are away
    assert _cli(home, "undo-export", manifest).returncode == 0
    out = _cli(home, "index", folder, "--model", "tiny-test", "--workers", "0")
    assert out.returncode == 0 and " 0 embedded" in out.stdout and "0 missing" in out.stdout, out.stdout
    assert _work(folder) == before
    assert json.loads(_cli(home, "info", folder, "--json").stdout)["missing"] == []


def _drop_file_permission_override():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH: root that obeys file modes
        if libc.prctl(24, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_a_subfolder_unreadable_for_one_run_keeps_its_photos_edits(sorted_folder):
    folder, home = sorted_folder
    before = _work(folder)
    locked = folder / "2019"
    preexec = _drop_file_permission_override if os.geteuid() == 0 else None
    os.chmod(locked, 0)
    try:
        out = _cli(home, "index", folder, "--model", "tiny-test", "--workers", "0", preexec=preexec)
        assert out.returncode == 0, out.stderr
        assert "2019/: folder not readable" in out.stdout and "24 missing" in out.stdout, out.stdout
    finally:
        os.chmod(locked, 0o755)
    assert _work(folder) == before
    out = _cli(home, "index", folder, "--model", "tiny-test", "--workers", "0", preexec=preexec)
    assert "0 missing" in out.stdout and " 0 embedded" in out.stdout, out.stdout
    assert _work(folder) == before


def test_a_named_cluster_survives_a_recluster_after_a_split(sorted_folder):
    """0.1: split a cluster, rename a piece, re-cluster: the named piece was gone."""
    folder, home = sorted_folder
    with Library.open(folder) as lib:
        s = Session(lib)
        biggest = s.cluster_ids()[0]
        members = s.members(biggest)
        piece = s.new_cluster(members[: len(members) // 3])  # a piece split off by hand...
        s.move(s.members(piece), piece)
        with lib.record("unpin") as rec:                      # ...that no longer counts as hand-placed
            rec.touch("assignments", s.members(piece))
            lib.assign(s.members(piece), piece, manual=False)
        s.reload()
        s.rename(piece, "Named piece")
    assert _cli(home, "cluster", folder, "--no-names", "--min-cluster-size", "5").returncode == 0
    groups, _ = _work(folder)
    assert "Named piece" in groups and "Mine" in groups


def test_an_export_folder_passed_over_is_listed_with_its_reason(tmp_path):
    """0.1 skipped a folder holding an export marker without a word."""
    folder, home = tmp_path / "photos", tmp_path / "home"
    _folder(folder, per=3)
    out = _cli(home, "index", folder, "--model", "tiny-test", "--workers", "0")
    assert _cli(home, "cluster", folder, "--no-names", "--min-cluster-size", "2").returncode == 0
    assert _cli(home, "export", folder, folder / "Sorted").returncode == 0    # an export inside the folder
    out = _cli(home, "index", folder, "--model", "tiny-test", "--workers", "0")
    assert out.returncode == 0 and "Sorted/: a photoclust export" in out.stdout, out.stdout
    info = json.loads(_cli(home, "info", folder, "--json").stdout)
    assert {s["path"] for s in info["skipped"]} == {"Sorted/"} and info["indexed"] == 9

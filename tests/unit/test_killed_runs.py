"""SIGKILL at random moments, in the middle of SQLite commits and checkpoints, then run to the
end: the library stays sound, every photo is indexed exactly once, user edits survive; a
killed `cluster` leaves the previous clustering as it was.

How the kills are placed (all reproducible from SEED):
- at a seeded random delay after the real `python -m photoclust_app index` starts, sent to
  the main process only (its decode workers are orphaned, as with a real `kill -9`);
- inside the N-th write transaction, after its statements ran and before COMMIT, by a
  child that wraps Library.transaction (production code has no test hook);
- inside the COMMIT itself: an LD_PRELOAD shim compiled at test time makes the process
  SIGKILL itself halfway through its K-th pwrite() to the -wal file (a torn WAL frame), or
  to the database file (a checkpoint cut short). Skipped honestly where no C compiler is.
Between cycles the library is checked read-only (never checkpointed by the test, so each
crashed WAL is recovered by photoclust itself) and `info --json` must work on it.
"""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hostile import REPO, cli_argv, cli_env, integrity_problems, jpeg, run_cli
from photoclust_app.core.store.library import Library
from photoclust_app.core.editing.session import Session
from sqlpeek import sql  # noqa: E402

pytestmark = pytest.mark.slow

SEED = 20261127
LIB = Path(".photoclust") / "library.sqlite"
_PROGRESS = re.compile(r"^([a-z_]+)\s*(?:\s\s\d+/\d+.*)?$")  # TerminalProgress lines (not a tty)

_TX_KILLER = textwrap.dedent(r"""
    import contextlib, os, signal, sys
    from photoclust_app.core.store import library
    target, seen = int(sys.argv[1]), [0]
    real = library.Library.transaction

    @contextlib.contextmanager
    def transaction(self):
        outer = not self._conn.in_transaction
        with real(self) as conn:
            yield conn
            if outer:
                seen[0] += 1
                if seen[0] == target:  # statements done, COMMIT not yet run
                    os.kill(os.getpid(), signal.SIGKILL)

    library.Library.transaction = transaction
    from photoclust_app.cli import main
    sys.exit(main(sys.argv[2:]))
""")

_SHIM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long count = 0, kill_at = -2;
static const char *suffix;

static int wanted(int fd) {
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) return 0;
    target[n] = 0;
    size_t k = strlen(suffix);
    return (size_t)n >= k && strcmp(target + n - k, suffix) == 0;
}

static ssize_t torn(ssize_t (*real)(int, const void *, size_t, off_t), int fd, const void *buf, size_t len,
                    off_t off) {
    if (kill_at == -2) {
        const char *k = getenv("PCK_KILL_AT");
        kill_at = k ? atol(k) : -1;
        suffix = getenv("PCK_SUFFIX") ? getenv("PCK_SUFFIX") : "-wal";
    }
    if (kill_at > 0 && wanted(fd) && ++count == kill_at) {
        if (len > 1) real(fd, buf, len / 2, off);  /* half a frame reaches the file */
        raise(SIGKILL);
    }
    return real(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off) {
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (!real) real = dlsym(RTLD_NEXT, "pwrite64");
    return torn(real, fd, buf, len, off);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off) {
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (!real) real = dlsym(RTLD_NEXT, "pwrite");
    return torn(real, fd, buf, len, off);
}
"""


@pytest.fixture(scope="module")
def torn_write_shim(tmp_path_factory):
    """Path of the compiled LD_PRELOAD shim, or None where it cannot be built or loaded."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None or not sys.platform.startswith("linux"):
        return None
    d = tmp_path_factory.mktemp("shim")
    (d / "torn.c").write_text(_SHIM_C)
    so = d / "torn.so"
    r = subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(so), str(d / "torn.c"), "-ldl"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None
    probe = subprocess.run([sys.executable, "-c", "import sqlite3"], env={**os.environ, "LD_PRELOAD": str(so)},
                           capture_output=True, text=True)
    return so if probe.returncode == 0 else None


def write_photos(folder: Path, start: int, n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(start, start + n):
        rel = f"batch{i // 100}/p{i:04d}.jpg"
        (folder / rel).parent.mkdir(exist_ok=True)
        color = ((i * 37) % 200 + 30, (i * 91) % 200 + 30, (i * 53) % 200 + 30)
        (folder / rel).write_bytes(jpeg((160, 120), color=color, seed=i))
        names.append(rel)
    return names


class Killer:
    """Starts photoclust children and kills them; keeps the log of every cycle."""

    def __init__(self, folder: Path, home: Path, shim: Path | None):
        self.folder, self.home, self.shim = folder, home, shim
        home.mkdir(parents=True, exist_ok=True)
        self.children: list[subprocess.Popen] = []
        self.log: list[dict] = []

    def start(self, args, *, tx_kill: int | None = None, torn: tuple[str, int] | None = None):
        env = cli_env(self.home)
        if tx_kill is not None:
            argv = [sys.executable, "-c", _TX_KILLER, str(tx_kill), *map(str, args)]
        else:
            argv = cli_argv(*args)
        if torn is not None:
            env.update(LD_PRELOAD=str(self.shim), PCK_SUFFIX=torn[0], PCK_KILL_AT=str(torn[1]))
        # Output to files, not pipes: orphaned workers would hold a pipe open after a kill.
        n = len(self.children)
        out, err = (open(self.home.parent / f"run{n}.{s}", "wb") for s in ("out", "err"))
        with out, err:
            p = subprocess.Popen(argv, env=env, cwd=REPO, stdout=out, stderr=err, start_new_session=True)
        p.outputs = (out.name, err.name)
        self.children.append(p)
        return p

    def finish(self, p, kind: str, detail: str, timeout: float = 240) -> dict:
        p.wait(timeout=timeout)
        out, err = (Path(f).read_text("utf-8", "replace") for f in p.outputs)
        stages = [m.group(1) for m in map(_PROGRESS.match, err.splitlines()) if m]
        stage = stages[-1] if stages else "start-up"
        entry = {"kind": kind, "detail": detail, "rc": p.returncode, "killed": p.returncode == -signal.SIGKILL,
                 "stage": stage if p.returncode == -signal.SIGKILL else "-", "stderr": err[-1500:],
                 "stdout": out[-500:]}
        self.log.append(entry)
        return entry

    def run_and_kill_after(self, args, delay: float, kind="random") -> dict:
        p = self.start(args)
        try:
            p.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)  # the main process only; workers are orphaned
        return self.finish(p, kind, f"SIGKILL after {delay:.2f} s")

    def cleanup(self) -> None:
        for p in self.children:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # orphaned decode workers, if any are left
            except (ProcessLookupError, PermissionError):
                pass

    def summary(self) -> str:
        killed = sum(e["killed"] for e in self.log)
        lines = [f"{killed} kills survived in {len(self.log)} runs:"]
        lines += [f"  {e['kind']:<9} {e['detail']:<38} rc={e['rc']:<3} last stage: {e['stage']}" for e in self.log]
        return "\n".join(lines)


def check_sound(folder: Path, home: Path) -> dict | None:
    """The library after a crash: sound on disk, readable by `info --json` (read-only).
    None when the kill came before the library had its tables (info then says so)."""
    info = run_cli("info", folder, "--json", home=home, timeout=60)
    assert "Traceback" not in info.stderr, info.stderr[-2000:]
    if not (folder / LIB).exists() or info.returncode != 0 and "has not been indexed yet" in info.stderr:
        return None
    problems = integrity_problems(folder / LIB)
    assert problems == [], problems
    assert info.returncode == 0, info.stderr[-2000:]
    return json.loads(info.stdout)


def photo_ids(folder: Path) -> dict[str, int]:
    with Library.open(folder, readonly=True) as lib:
        return {p.relpath: p.id for p in lib.photos()}


def edits_state(folder: Path) -> dict:
    with Library.open(folder, readonly=True) as lib:
        return {
            "clusters": sorted(sql(lib, "SELECT id, name, user_named FROM clusters WHERE user_named=1")),
            "manual": sorted(sql(lib, "SELECT photo_id, cluster_id FROM assignments WHERE manual=1")),
        }


def test_index_survives_kills(tmp_path, torn_write_shim):
    rng = random.Random(SEED)
    folder, home = tmp_path / "photos", tmp_path / "home"
    files = write_photos(folder, 0, 150)
    k = Killer(folder, home, torn_write_shim)
    index = ("index", folder, "--model", "tiny-test", "--batch-size", "8")
    try:
        # Phase 1: kills from the very start (library creation, model load, first batches).
        for _ in range(2):
            e = k.run_and_kill_after(index, rng.uniform(0.3, 5.0))
            if e["killed"]:
                check_sound(folder, home)
        e = k.finish(k.start(index), "complete", "run to the end")
        assert e["rc"] == 0, e["stderr"]
        first = photo_ids(folder)
        assert set(first) == set(files)

        # User edits on the finished partial library: a named cluster of hand-placed photos,
        # another cluster renamed, and a photo moved by hand between them.
        with Library.open(folder) as lib:
            s = Session(lib)
            ids = sorted(first.values())
            trip = s.new_cluster(ids[:12], "Holiday \u2708 'quoted'; DROP TABLE photos;--")
            other = s.new_cluster(ids[12:20])
            s.rename(other, "Garden")
            s.move([ids[0]], other)
        edits = edits_state(folder)
        assert len(edits["clusters"]) == 2 and len(edits["manual"]) == 20

        # Phase 2: new photos keep arriving; kill the runs that index them, every way we can.
        n = len(files)
        plan = [("random", None)] * 3 + [("tx", rng.randint(2, 6)), ("tx", rng.randint(7, 14))]
        if torn_write_shim is not None:
            plan += [("torn-wal", rng.randint(1, 40)), ("torn-wal", rng.randint(41, 200)),
                     ("torn-db", rng.randint(1, 6))]
        rng.shuffle(plan)
        for kind, arg in plan:
            indexed = photo_ids(folder)
            if len(indexed) > len(files) - 100:  # keep work pending so every kill lands mid-run
                files += write_photos(folder, n, 100)
                n += 100
            if kind == "random":
                e = k.run_and_kill_after(index, rng.uniform(0.5, 5.0))
            elif kind == "tx":
                e = k.finish(k.start(index, tx_kill=arg), kind, f"SIGKILL before COMMIT of transaction {arg}")
            else:
                suffix = "-wal" if kind == "torn-wal" else ".sqlite"
                e = k.finish(k.start(index, torn=(suffix, arg)), kind, f"SIGKILL mid-pwrite {arg} to *{suffix}")
            assert e["rc"] in (0, -signal.SIGKILL), e["stderr"]
            assert "Traceback" not in e["stderr"], e["stderr"]
            check_sound(folder, home)
            assert edits_state(folder) == edits, f"edits changed after {kind} {arg}"
            now = photo_ids(folder)
            assert {p: now[p] for p in first} == first, "a photo indexed before the kills changed id"

        e = k.finish(k.start(index), "complete", "run to the end")
        assert e["rc"] == 0, e["stderr"]
        info = check_sound(folder, home)
        final = photo_ids(folder)
        assert sorted(final) == sorted(files)  # every photo, exactly once (relpath is unique)
        assert info["indexed"] == len(files) and info["skipped"] == []
        assert {p: final[p] for p in first} == first
        assert edits_state(folder) == edits
        with Library.open(folder, readonly=True) as lib:
            trip_cluster = lib.cluster(trip)
            assert trip_cluster.name.startswith("Holiday") and trip_cluster.size == 11
            assert lib.cluster(other).name == "Garden" and lib.cluster(other).size == 9
            assert lib.count_photos() == len(files)
            dup = sql(lib, "SELECT quick_hash FROM photos GROUP BY quick_hash HAVING COUNT(*) > 1")
            assert dup == []
        kills = sum(x["killed"] for x in k.log)
        print("\n" + k.summary())
        assert kills >= 5, k.summary()
        if torn_write_shim is not None:
            assert sum(x["killed"] for x in k.log if x["kind"].startswith("torn")) >= 2, k.summary()
    finally:
        k.cleanup()


# -- cluster killed mid-way --------------------------------------------------------------
def clustering_state(folder: Path) -> dict:
    with Library.open(folder, readonly=True) as lib:
        return {t: sorted(sql(lib, f"SELECT * FROM {t}"))  # table names from this list only
                for t in ("clusters", "assignments", "representatives", "layout", "clusterings")}


def assert_complete_clustering(folder: Path) -> None:
    """Every embedded photo has an assignment and a map position; every referenced cluster exists."""
    with Library.open(folder, readonly=True) as lib:
        q = lambda query: sql(lib, query)  # noqa: E731
        assert q("SELECT photo_id FROM embeddings WHERE photo_id NOT IN (SELECT photo_id FROM assignments)") == []
        assert q("SELECT photo_id FROM embeddings WHERE photo_id NOT IN (SELECT photo_id FROM layout)") == []
        assert q("SELECT cluster_id FROM assignments WHERE cluster_id IS NOT NULL"
                 " AND cluster_id NOT IN (SELECT id FROM clusters)") == []


def test_cluster_killed_midway_keeps_previous_clustering(tmp_path, torn_write_shim):
    rng = random.Random(SEED + 1)
    folder, home = tmp_path / "photos", tmp_path / "home"
    write_photos(folder, 0, 120)
    k = Killer(folder, home, torn_write_shim)
    cluster = ("cluster", folder, "--no-names")
    try:
        assert run_cli("index", folder, "--model", "tiny-test", home=home).returncode == 0
        e = k.finish(k.start(cluster), "complete", "first clustering (may compile the JIT)")
        assert e["rc"] == 0, e["stderr"]
        t0 = time.monotonic()
        e = k.finish(k.start(cluster), "complete", "re-clustering, timed")
        full = time.monotonic() - t0
        assert e["rc"] == 0, e["stderr"]
        with Library.open(folder) as lib:
            first = lib.clusters()[0]
            lib.rename_cluster(first.id, "Kept by the user")
        before = clustering_state(folder)
        assert before["clusters"] and before["layout"] and before["assignments"]
        assert_complete_clustering(folder)

        plan = [("random", rng.uniform(0.15, 0.85) * full) for _ in range(3)] + [("tx", 1)]
        if torn_write_shim is not None:
            plan += [("torn-wal", 1), ("torn-wal", rng.randint(2, 12))]
        for kind, arg in plan:
            if kind == "random":
                e = k.run_and_kill_after(cluster, arg)
            elif kind == "tx":
                e = k.finish(k.start(cluster, tx_kill=arg), kind, "SIGKILL before COMMIT of the apply")
            else:
                e = k.finish(k.start(cluster, torn=("-wal", arg)), kind, f"SIGKILL mid-pwrite {arg} to *-wal")
            assert e["rc"] in (0, -signal.SIGKILL), e["stderr"]
            check_sound(folder, home)
            after = clustering_state(folder)
            if after != before:
                # Only a run whose apply had committed may change anything (it finished, or the
                # kill came after COMMIT): then it is one whole new clustering, names kept.
                assert len(after["clusterings"]) == len(before["clusterings"]) + 1, \
                    f"{kind} {arg}: a killed cluster run changed the clustering without completing"
                assert_complete_clustering(folder)
                e["detail"] += " (after COMMIT)" if e["killed"] else ""
                before = after
            with Library.open(folder, readonly=True) as lib:
                assert any(c.name == "Kept by the user" for c in lib.clusters())
            dry = run_cli("export", folder, tmp_path / "out", "--dry-run", home=home, timeout=60)
            assert dry.returncode == 0 and "Dry run" in dry.stdout, dry.stderr  # still usable
        print("\n" + k.summary())
        assert sum(x["killed"] and "after COMMIT" not in x["detail"] for x in k.log) >= 3, k.summary()
    finally:
        k.cleanup()


# -- what a kill leaves behind -----------------------------------------------------------
def _session_pids(sid: int) -> list[int]:
    """Live processes of session SID (a child started with start_new_session and its
    descendants: fork server, resource tracker, decode workers)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] != "Z" and int(fields[3]) == sid:
                out.append(int(d.name))
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_killed_index_leaves_no_orphan_workers(tmp_path):
    """kill -9 of photoclust alone (as the OOM killer does): its decode workers, the fork
    server and the resource tracker must go too, not idle forever holding memory."""
    folder, home = tmp_path / "photos", tmp_path / "home"
    write_photos(folder, 0, 300)
    k = Killer(folder, home, None)
    p = k.start(("index", folder, "--model", "tiny-test", "--workers", "2"))
    try:
        deadline = time.monotonic() + 120
        while len(_session_pids(p.pid)) < 4 and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # main + fork server + resource tracker + >= 1 worker
        assert p.poll() is None, "indexing finished before its workers were seen"
        helpers = set(_session_pids(p.pid)) - {p.pid}
        assert len(helpers) >= 3, helpers
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
        deadline = time.monotonic() + 15
        while _session_pids(p.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _session_pids(p.pid) == [], "orphaned helper processes outlived the killed photoclust"
        # ... and the library is free for the next run at once.
        e = k.finish(k.start(("index", folder, "--model", "tiny-test")), "complete", "after the kill")
        assert e["rc"] == 0, e["stderr"]
        assert len(photo_ids(folder)) == 300
    finally:
        k.cleanup()

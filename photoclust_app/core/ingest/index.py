"""Bring a folder's library up to date: scan, diff, detect moves, decode + embed what changed.

The diff is O(n) over three single queries (file states, skips, missing embeddings); an
unchanged folder costs a scan and no file reads. Decoding runs in worker processes while
the main process embeds the previous batch; each batch is committed in one transaction,
so a cancel or a kill keeps every finished batch and the next run continues from there.
A caller that shows photos as they arrive passes ``on_commit(photo_ids, relpaths, vectors)``,
called after each batch's transaction (see live_batches.py).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from photoclust_app.core.ingest.decode_pool import DecodeJob, DecodePool, DecodeResult
from photoclust_app.core.store.library import IndexedPhoto, Library
from photoclust_app.core.progress import CancelFn, ProgressFn, check_cancel, no_progress
from photoclust_app.core.ingest.quickhash import quick_hash
from photoclust_app.core.records import PhotoRecord, Skip
from photoclust_app.core.ingest.scan import scan_folder

log = logging.getLogger(__name__)

THUMB_SIZE = 256
CommitFn = Callable[[list[int], list[str], np.ndarray], None]
SMALL_JOB = 4  # this many files or fewer are decoded in-process: no pool start-up
# A folder with this many photos to decode is indexed in two passes: embedded previews first
# (ingest/preview.py; ~5x less decode CPU per 12-MP JPEG), full decodes after (ingest/refine.py).
PREVIEW_FIRST = 1000


@dataclass
class IndexReport:
    found: int = 0
    new: int = 0
    changed: int = 0
    moved: int = 0
    missing: int = 0        # known photos this scan did not see (kept, with their edits)
    newly_missing: int = 0
    unchanged: int = 0
    embedded: int = 0
    skipped: list[Skip] = field(default_factory=list)  # everything currently skipped
    seconds: float = 0.0
    model: str = ""
    notice: str | None = None  # e.g. the CLIP -> lite fallback sentence
    from_preview: int = 0  # embedded from the file's preview; ingest/refine.py decodes them in full later


@dataclass
class _Diff:
    unchanged: dict[str, tuple[int, PhotoRecord]]  # relpath -> (photo id, record)
    changed: list[PhotoRecord]
    new: list[PhotoRecord]
    vanished: dict[str, object]  # relpath -> FileState
    vanished_skips: list[str]


# Skips that a fix outside the file (chmod, a remount, the file coming back) can cure
# without changing its size or mtime: retried on every run instead of remembered.
_RETRY_REASONS = ("permission denied", "file disappeared during indexing", "could not be read (",
                  "is a folder, not a file")


def _diff(records: list[PhotoRecord], states: dict, skipped: dict) -> _Diff:
    seen = set()
    unchanged, changed, new = {}, [], []
    for r in records:
        seen.add(r.relpath)
        st = states.get(r.relpath)
        if st is not None:
            if st.size == r.size and st.mtime_ns == r.mtime_ns:
                unchanged[r.relpath] = (st.photo_id, r)
            else:
                changed.append(r)
            continue
        sk = skipped.get(r.relpath)
        if sk is not None and sk[0] == r.size and sk[1] == r.mtime_ns and not sk[2].startswith(_RETRY_REASONS):
            continue  # skipped before and untouched since: stays skipped, not re-decoded
        new.append(r)
    vanished = {p: st for p, st in states.items() if p not in seen}
    vanished_skips = [p for p in skipped if p not in seen]
    return _Diff(unchanged, changed, new, vanished, vanished_skips)


def cpu_plan(workers: int | None, device: str) -> tuple[int, int | None]:
    """(decode workers, torch threads). Decode and embed share the cores: on a CPU, torch
    gets half of them (at least one) so that its thread barriers are not starved by the
    decoders, and the pipeline balances itself (whichever stage waits frees its cores)."""
    from photoclust_app.core.embed.device import cpu_count

    cores = cpu_count()
    w = cores if workers is None else max(0, int(workers))
    if device != "cpu":
        return w, None
    env = os.environ.get("PHOTOCLUST_TORCH_THREADS", "")
    return w, int(env) if env.isdigit() and int(env) > 0 else max(1, cores // 2)


def _detect_moves(d: _Diff, folder: Path, progress: ProgressFn, cancel: CancelFn | None,
                  lib: Library) -> tuple[list[tuple[int, PhotoRecord]], dict[str, str]]:
    """Hash new files that could be a vanished photo (same size) and move those that match."""
    by_size: dict[int, list] = {}
    for p, st in d.vanished.items():
        by_size.setdefault(st.size, []).append((p, st))
    candidates = [r for r in d.new if r.size in by_size]
    hashes: dict[str, str] = {}
    moves: list[tuple[int, PhotoRecord]] = []
    if not candidates:
        return moves, hashes
    by_hash = {st.quick_hash: p for p, st in d.vanished.items()}
    for i, r in enumerate(candidates):
        if i % 64 == 0:
            check_cancel(cancel)
            progress(i, len(candidates), "hash")
        try:
            h = quick_hash(folder / r.relpath)
        except OSError:
            continue  # the decoder will report why
        hashes[r.relpath] = h
        old = by_hash.pop(h, None)
        if old is not None:
            st = d.vanished.pop(old)
            lib.move_photo(st.photo_id, r)
            moves.append((st.photo_id, r))
            log.info("Moved: %s -> %s", old, r.relpath)
    progress(len(candidates), len(candidates), "hash")
    moved = {r.relpath for _, r in moves}
    d.new = [r for r in d.new if r.relpath not in moved]
    return moves, hashes


def index_folder(folder, *, model: str = "clip", device: str = "auto", batch_size: int = 32,
                 workers: int | None = None, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                 embedder=None, library: Library | None = None, on_commit: CommitFn | None = None,
                 previews: bool | None = None) -> IndexReport:
    """Index FOLDER incrementally into its library; raises Cancelled after keeping finished batches.
    ON_COMMIT(photo ids, relpaths, vectors) hears of each batch once it is committed.
    PREVIEWS: embed from embedded previews where they are large enough (None: when at least
    PREVIEW_FIRST photos are to be decoded); refine_previews() then finishes the job."""
    t0 = time.perf_counter()
    progress = progress or no_progress
    folder = Path(folder).expanduser().resolve()
    lib = library if library is not None else Library.open(folder)
    try:
        return _index(lib, lib.folder, model, device, batch_size, workers, progress, cancel, embedder, t0,
                      on_commit, previews)
    finally:
        if library is None:
            lib.close()


def _index(lib: Library, folder: Path, model: str, device: str, batch_size: int, workers: int | None,
           progress: ProgressFn, cancel: CancelFn | None, embedder, t0: float,
           on_commit: CommitFn | None = None, previews: bool | None = None) -> IndexReport:
    from photoclust_app.core.embed import create_embedder, model_name

    progress(0, 0, "scan")
    records, scan_skips = scan_folder(folder, cancel=cancel)
    progress(len(records), len(records), "scan")
    known_skips = lib.skipped_states()
    d = _diff(records, lib.file_states(), known_skips)
    # Scan skips (symlinks, unreadable folders) are stored too, so `info` and the GUI list them.
    scan_reasons = {s.relpath: s.reason for s in scan_skips}
    d.vanished_skips = [p for p in d.vanished_skips if p not in scan_reasons]
    report = IndexReport(found=len(records), changed=len(d.changed), unchanged=len(d.unchanged))

    moves, hashes = _detect_moves(d, folder, progress, cancel, lib)
    report.moved, report.new = len(moves), len(d.new)
    # Not seen is not deleted: an unplugged drive, a share that dropped, a folder unreadable
    # for one run or a move export keep their photos' rows and edits; the user forgets them.
    already_missing = set(lib.missing())
    if d.vanished:
        lib.mark_missing(st.photo_id for st in d.vanished.values())
        report.missing = len(d.vanished)
        report.newly_missing = len({st.photo_id for st in d.vanished.values()} - already_missing)
    back = already_missing & {pid for pid, _ in d.unchanged.values()}
    if back:
        lib.mark_present(back)
    if d.vanished_skips:
        lib.forget_skips(d.vanished_skips)
    fresh = [(PhotoRecord(p, 0, 0), why) for p, why in scan_reasons.items() if known_skips.get(p, ())[2:] != (why,)]
    if fresh:
        lib.record_skips(fresh)

    by_id = {pid: r for pid, r in d.unchanged.values()}
    by_id.update(moves)
    todo = d.changed + d.new

    def missing(name: str) -> list[PhotoRecord]:
        return [by_id[i] for i in lib.photos_missing_embedding(name) if i in by_id]

    name = embedder.name if embedder is not None else model_name(model)
    if embedder is None and (todo or missing(name)):
        notices: list[str] = []
        embedder = create_embedder(model, device, fallback=True, notify=notices.append)
        report.notice = notices[0] if notices else None
        name = embedder.name
    report.model = name
    if lib.model != name:
        lib.set_meta("model", name)
    redo = missing(name) if embedder is not None else []
    known = {r.relpath for r in todo}
    todo += [r for r in redo if r.relpath not in known]
    todo.sort(key=lambda r: r.relpath)

    if todo:
        use_previews = len(todo) >= PREVIEW_FIRST if previews is None else bool(previews)
        report.embedded, report.from_preview = _decode_and_embed(lib, folder, todo, hashes, embedder, batch_size,
                                                                 workers, device, progress, cancel, on_commit,
                                                                 use_previews)
    from photoclust_app.core.ingest.colour_backfill import backfill_colours

    backfill_colours(lib, progress=progress, cancel=cancel)  # photos indexed before colours existed
    report.skipped = _all_skips(lib, scan_skips)
    report.seconds = time.perf_counter() - t0
    log.info("Indexed %s: %s", folder, report)
    return report


def _all_skips(lib: Library, scan_skips: Iterable[Skip]) -> list[Skip]:
    out = {s.relpath: s for s in lib.skipped()}
    for s in scan_skips:
        out.setdefault(s.relpath, s)
    return sorted(out.values(), key=lambda s: s.relpath)


def _decode_and_embed(lib: Library, folder: Path, todo: list[PhotoRecord], hashes: dict[str, str], embedder,
                      batch_size: int, workers: int | None, device: str, progress: ProgressFn,
                      cancel: CancelFn | None, on_commit: CommitFn | None = None,
                      previews: bool = False) -> tuple[int, int]:
    """(photos embedded, of which from their embedded preview)."""
    from photoclust_app.core.embed.device import cpu_count, torch_threads

    batch_size = max(1, int(batch_size))
    n_workers, threads = cpu_plan(workers, embedder.device)
    cores = cpu_count()
    if workers is None and len(todo) <= SMALL_JOB:
        n_workers = 0
    jobs = (DecodeJob(os.path.join(folder, r.relpath), r.relpath, embedder.input_size, THUMB_SIZE,
                      hashes.get(r.relpath), previews) for r in todo)
    total, done, embedded, from_preview = len(todo), 0, 0, 0
    by_path = {r.relpath: r for r in todo}
    ok: list[DecodeResult] = []
    bad: list[tuple[PhotoRecord, str]] = []
    progress(0, total, "index")

    timing = {"wait": 0.0, "embed": 0.0, "store": 0.0}

    def commit() -> int:
        items = []
        t = time.perf_counter()
        if ok:
            # Torch has part of the cores while decoders run; when they idle (read-ahead
            # full, or no files left: the final batches) or are a batch ahead (a heavy
            # model: they would idle within this batch) it takes them all.
            boost = threads is not None and threads < cores and (pool.decoders_idle()
                                                                 or pool.decoded_ahead() >= batch_size)
            with torch_threads(cores if boost else None):
                vectors = embedder.embed(np.stack([r.decoded.pixels for r in ok]))
            items = [IndexedPhoto(r.record, r.quick_hash, r.decoded.meta, r.decoded.thumbnail, v, r.decoded.colour,
                                  r.from_preview) for r, v in zip(ok, vectors)]
        timing["embed"] += time.perf_counter() - t
        t = time.perf_counter()
        ids: list[int] = []
        with lib.transaction():
            if items:
                ids = lib.add_photos(items, embedder.name)
            if bad:
                lib.record_skips(bad)
        timing["store"] += time.perf_counter() - t
        if ids and on_commit is not None:
            on_commit(ids, [it.record.relpath for it in items], np.asarray(vectors))
        nonlocal from_preview
        from_preview += sum(it.from_preview for it in items)
        n = len(items)
        ok.clear()
        bad.clear()
        return n

    # Window: enough read-ahead that workers keep decoding while a batch is embedded.
    window = max(2 * batch_size, 4 * max(1, n_workers))
    t_start = time.perf_counter()
    from photoclust_app.core.ingest.gpu_decode import decode_results  # nvJPEG for a CUDA embedder

    with torch_threads(threads), DecodePool(n_workers, window) as pool, \
            decode_results(jobs, embedder.device, pool) as results:
        while True:
            t = time.perf_counter()
            res = next(results, None)
            timing["wait"] += time.perf_counter() - t
            if res is None:
                break
            done += 1
            if res.decoded is not None:
                ok.append(res)
                if res.changed_while_reading:
                    log.info("%s changed while it was read; it will be re-read next time", res.relpath)
            else:
                rec = res.record or by_path[res.relpath]
                bad.append((rec, res.reason or "could not be decoded"))
                log.info("Skipped %s: %s", res.relpath, res.reason)
            progress(done, total, "index")
            if len(ok) >= batch_size or len(bad) >= batch_size:
                embedded += commit()
                check_cancel(cancel)
        embedded += commit()
    log.info("Indexed %d photos in %.1f s with %d decode workers and %s torch threads: waiting for decodes "
             "%.1f s, embedding %.1f s, storing %.1f s", total, time.perf_counter() - t_start, n_workers,
             threads or "default", timing["wait"], timing["embed"], timing["store"])
    return embedded, from_preview

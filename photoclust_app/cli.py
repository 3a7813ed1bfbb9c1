"""`photoclust`: the window by default, subcommands for headless work.

    photoclust [FOLDER]                        open the app (last folder when none given)
    photoclust index|cluster|info|export|undo-export|bench|screenshot ...
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from photoclust_app import __version__, cli_bench, cli_dedupe, cli_edits, cli_learn, cli_search, cli_tags
from photoclust_app.core.display import printable_path

SUBCOMMANDS = ("index", "cluster", "info", "export", "undo-export", "forget-missing", "repair", "bench", "screenshot",
               "rename", "assign-rest", "move", "merge", "undo", "redo", "suggest", "review", "split", "clear-corrections",
               *cli_dedupe.COMMANDS, *cli_search.COMMANDS, "tag")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="photoclust", description="Group a photo folder by what the photos show.")
    p.add_argument("--version", action="version", version=f"photoclust {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="more detail on stderr")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("index", help="find, decode and embed new or changed photos")
    s.add_argument("folder")
    s.add_argument("--model", default="clip", help="clip (default), clip:/path/to/weights, clip:ARCH/TAG, lite, tiny-test")
    s.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    s.add_argument("--batch-size", type=int, default=32)
    s.add_argument("--workers", type=int, default=None, help="decode processes (default: by CPU count)")
    s.add_argument("--previews", choices=["auto", "yes", "no"], default="auto",
                   help="embed from the photos' embedded previews first, full decodes after "
                        "(auto: for 1000 or more photos to decode)")

    s = sub.add_parser("cluster", help="group indexed photos (UMAP + a cluster hierarchy), lay out the map, "
                                        "suggest names; the granularity is kept, and the window shares it")
    s.add_argument("folder")
    how = s.add_mutually_exclusive_group()
    how.add_argument("--groups", type=_groups_arg, default=None, metavar="N|auto",
                     help="exactly N groups, or auto (the default level); default: the choice made last")
    how.add_argument("--level", type=int, default=None, metavar="L",
                     help="a level of the hierarchy (0 = one group; see --list-levels)")
    how.add_argument("--list-levels", action="store_true", help="print each level's cluster count; changes nothing")
    s.add_argument("--min-cluster-size", type=int, default=None, metavar="N",
                   help="smallest group (default 8); kept, like the granularity")
    s.add_argument("--fresh", action="store_true", help="re-run UMAP and the hierarchy instead of cutting the "
                                                         "current one")
    s.add_argument("--no-names", action="store_true", help="skip suggested names (no model load)")

    cli_edits.add_parsers(sub)
    cli_learn.add_parsers(sub)
    cli_dedupe.add_parsers(sub)
    cli_search.add_parsers(sub)

    s = sub.add_parser("info", help="what the library holds")
    s.add_argument("folder")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("export", help="one subfolder per cluster under DEST")
    s.add_argument("folder")
    s.add_argument("dest")
    s.add_argument("--mode", default="copy", choices=["copy", "move", "symlink", "hardlink"])
    s.add_argument("--dry-run", action="store_true", help="show what would be done; touch nothing")
    s.add_argument("--include-unsorted", action="store_true")
    s.add_argument("--one-per-duplicate-group", action="store_true",
                   help="export only the keeper of identical / near-identical copies; the others are listed in the manifest")
    s.add_argument("--fresh", action="store_true",
                   help="a separate export even where DEST holds an earlier one (default: update that one)")
    s.add_argument("--xmp", action="store_true",
                   help="also write the cluster names as XMP keywords beside the photos (as `photoclust tag`)")

    s = sub.add_parser("repair", help="move a damaged library aside (kept) so the next index starts afresh")
    s.add_argument("folder")

    s = sub.add_parser("forget-missing", help="forget photos the last index did not find (and their edits)")
    s.add_argument("folder")

    s = sub.add_parser("undo-export", help="reverse an export from its manifest")
    s.add_argument("manifest")

    s = sub.add_parser("screenshot", help="render the main window on a library to a PNG")
    s.add_argument("folder")
    s.add_argument("out")
    s.add_argument("--size", type=cli_bench.size_arg, default=(1400, 900))

    cli_tags.add_parser(sub)
    cli_bench.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is None and not any(a in ("-h", "--help", "--version") for a in argv) or (
            first is not None and first not in SUBCOMMANDS):
        return _run_gui(argv)
    args = build_parser().parse_args(argv)
    from photoclust_app.logging_setup import configure_logging

    configure_logging(args.verbose)
    from photoclust_app.core.errors import Cancelled, PhotoclustError

    try:
        return COMMANDS[args.command](args)
    except Cancelled as err:
        print(err, file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\nInterrupted; finished batches are kept. Run the same command again to continue.", file=sys.stderr)
        return 130
    except PhotoclustError as err:
        print(f"photoclust: {err}", file=sys.stderr)
        return 1
    except sqlite3.Error as err:  # the library file itself is broken, full or read-only
        from photoclust_app.core.store.damage import folder_library_error

        print(f"photoclust: {folder_library_error(err, getattr(args, 'folder', None))}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `photoclust info X | head`
        sys.stderr.close()
        return 0


def _run_gui(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="photoclust")
    p.add_argument("folder", nargs="?")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    from photoclust_app.logging_setup import configure_logging

    configure_logging(args.verbose)
    from photoclust_app.gui.app import run_app

    return run_app(args.folder)


def cmd_index(args) -> int:
    from photoclust_app.core import pipeline
    from photoclust_app.core.ingest.index import index_folder
    from photoclust_app.terminal_progress import TerminalProgress

    pipeline.warm_placement()
    bar = TerminalProgress()
    report = index_folder(args.folder, model=args.model, device=args.device, batch_size=args.batch_size,
                          workers=args.workers, progress=bar,
                          previews={"auto": None, "yes": True, "no": False}[args.previews])
    bar.finish()
    if report.notice:
        print(report.notice, file=sys.stderr)
    print(f"{report.found} photos found: {report.new} new, {report.changed} changed, {report.moved} moved, "
          f"{report.missing} missing, {report.unchanged} unchanged; {report.embedded} embedded with "
          f"{report.model} in {report.seconds:.1f} s.")
    if report.missing:
        print(f"{report.missing} known photo{'s are' if report.missing != 1 else ' is'} missing from the folder "
              "and kept with their clusters and names; if they are gone for good, "
              "`photoclust forget-missing FOLDER` forgets them.")
    if report.skipped:
        print(f"{len(report.skipped)} skipped:")
        for s in report.skipped:
            print(f"  {printable_path(s.relpath)}: {s.reason}")
    if report.from_preview:
        print(f"{report.from_preview} photos were embedded from their embedded previews; refining them from "
              "the full photos now (clusters stay as they are; Ctrl+C stops, the next index continues).")
    _after_index(args.folder)
    _refine(args)  # also what an interrupted earlier run left
    return 0


def _refine(args) -> None:
    """Full decodes for the photos embedded from previews (by this run or an interrupted one)."""
    from photoclust_app.core.ingest.refine import refine_previews
    from photoclust_app.core.store.library import Library
    from photoclust_app.terminal_progress import TerminalProgress

    bar = TerminalProgress()
    with Library.open(args.folder) as lib:
        done = refine_previews(lib, device=args.device, batch_size=args.batch_size, workers=args.workers,
                               progress=bar)
    bar.finish()
    if done.pending:
        print(f"{done.refined} of {done.pending} preview vectors refined from the full photos"
              + (f"; {done.failed} could not be decoded in full and keep theirs." if done.failed else "."))


def _after_index(folder: str) -> None:
    """New photos join the clusters as they are, or (many of them) the user is told to re-cluster."""
    from photoclust_app.core import pipeline
    from photoclust_app.core.store.library import Library

    with Library.open(folder) as lib:
        due = pipeline.after_index(lib)
        if due == "place":
            plan = pipeline.place_new(lib)
            print(f"{plan.n_placed} new photo{'s' if plan.n_placed != 1 else ''} joined their clusters; "
                  f"{plan.n_review} wait{'s' if plan.n_review == 1 else ''} in To review"
                  + (" (`photoclust review FOLDER`)." if plan.n_review else "."))
        elif due == "cluster" and lib.last_clustering() is not None:
            print(f"{lib.count_unclustered()} new photos are more than a quarter of the library: "
                  "`photoclust cluster FOLDER` re-clusters it (names and hand placements are kept).")


def cmd_cluster(args) -> int:
    from photoclust_app.core import pipeline
    from photoclust_app.core.store.library import Library
    from photoclust_app.terminal_progress import TerminalProgress

    bar = TerminalProgress(unit="steps")
    with Library.open(args.folder) as lib:
        if not lib.count_embedded():
            print("Nothing to cluster yet: run `photoclust index FOLDER` first.", file=sys.stderr)
            return 1
        if args.list_levels:
            return _list_levels(lib)
        if args.min_cluster_size is not None and args.min_cluster_size < 2:
            print("--min-cluster-size must be at least 2.", file=sys.stderr)
            return 2
        mcs = pipeline.STORED if args.min_cluster_size is None else args.min_cluster_size
        groups = pipeline.STORED if args.groups is None else (None if args.groups == "auto" else args.groups)
        summary = pipeline.cluster(lib, groups=groups, level=args.level, min_cluster_size=mcs,
                                   reuse=not args.fresh, names=not args.no_names, progress=bar)
        bar.finish()
        clusters = [c for c in lib.clusters() if c.size]
    m, p = summary.metrics, summary.params
    how = {"auto": "automatic", "groups": f"exactly {p.get('groups')}", "level": f"level {p.get('level')}",
           "kmeans": f"exactly {p.get('groups')}, by k-means (finer than the hierarchy goes)"}.get(p.get("mode"), "")
    print(f"{summary.n_clusters} clusters, {summary.unsorted} unsorted of {summary.n_photos} photos "
          f"({how + ', ' if how else ''}smallest group {p.get('min_cluster_size', 'n/a')}, "
          f"noise {m.get('noise_fraction', 0):.1%}, silhouette {_num(m.get('silhouette'))}, "
          f"Davies-Bouldin {_num(m.get('davies_bouldin'))}) in {summary.seconds:.1f} s.")
    for c in clusters:
        print(f"  #{c.id:<4} {c.size:>6}  {c.display_name}")
    return 0


def _groups_arg(text: str):
    if text == "auto":
        return "auto"
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected a number of groups (1 or more) or auto, not {text!r}")


def _list_levels(lib) -> int:
    from photoclust_app.core.clustering.plan import usable_tree
    from photoclust_app.core.clustering import hierarchy
    from photoclust_app.core import pipeline

    found = usable_tree(lib, lib.embedded_ids(), pipeline.stored_granularity(lib) or hierarchy.MIN_SIZE)
    if found is None:
        print("No hierarchy covers the library as it is now: run `photoclust cluster FOLDER` first.", file=sys.stderr)
        return 1
    _, tree = found
    print(f"{len(tree.order) + 1} levels; the automatic one is level {tree.default} "
          f"({hierarchy.levels(tree)[tree.default][1]} clusters). First level with each count:")
    for k, level in hierarchy.stops(tree):
        print(f"  {k:>5} clusters  --level {level}")
    return 0


def _num(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def info_dict(lib) -> dict:
    from photoclust_app.core.clustering.cohesion import INCOHERENT, library_cohesion

    skipped = lib.skipped()
    clusters = [c for c in lib.clusters() if c.size]
    score = library_cohesion(lib) if clusters else {}
    counts = lib.constraint_counts()
    last = lib.last_clustering()
    return {
        "folder": str(lib.folder),
        "library_path": str(lib.path),
        "model": lib.model,
        "photos": lib.count_photos() + len(skipped),
        "indexed": lib.count_embedded() if lib.model else 0,
        "skipped": [{"path": printable_path(s.relpath), "reason": s.reason} for s in skipped],
        "clusters": [{"id": c.id, "name": c.display_name, "size": c.size, "user_named": c.user_named,
                      "cohesion": None if c.id not in score else round(score[c.id], 3),
                      "split_suggested": c.id in score and score[c.id] < INCOHERENT,
                      "placed_by_hand": counts.get(c.id, (0, 0))[0], "kept_out": counts.get(c.id, (0, 0))[1],
                      "alternatives": c.alternatives}
                     for c in clusters],
        "to_review": len(lib.review_items()),
        "unsorted": lib.count_unsorted(),
        "missing": sorted(printable_path(r) for r in lib.missing().values()),
        "last_clustering": last,
    }


def cmd_info(args) -> int:
    from photoclust_app.core.store.library import Library

    with Library.open(args.folder, readonly=True) as lib:
        info = info_dict(lib)
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return 0
    print(f"Library: {info['library_path']}")
    print(f"Model:   {info['model'] or '(none yet)'}")
    print(f"Photos:  {info['photos']} found, {info['indexed']} indexed, {len(info['skipped'])} skipped")
    for s in info["skipped"]:
        print(f"  skipped {s['path']}: {s['reason']}")
    if info["missing"]:
        print(f"Missing: {len(info['missing'])} known photos were not seen by the last index "
              "(kept with their edits; `photoclust forget-missing FOLDER` forgets them)")
        for m in info["missing"][:20]:
            print(f"  missing {m}")
    m = (info.get("last_clustering") or {}).get("metrics") or {}
    quality = "" if m.get("silhouette") is None else (
        f"; silhouette {m['silhouette']:.2f}, Davies-Bouldin {m['davies_bouldin']:.2f}")
    print(f"Clusters: {len(info['clusters'])}, unsorted: {info['unsorted']}{quality}"
          + (f"; {info['to_review']} new photos to review (`photoclust review FOLDER`)" if info["to_review"] else ""))
    for c in info["clusters"]:
        notes = [f"cohesion {c['cohesion']:.2f}" + (", split?" if c["split_suggested"] else "")] if c["cohesion"] is not None else []
        notes += [f"{c['placed_by_hand']} placed by hand"] if c["placed_by_hand"] else []
        notes += [f"{c['kept_out']} kept out"] if c["kept_out"] else []
        print(f"  #{c['id']:<4} {c['size']:>6}  {c['name']}" + (f"  ({'; '.join(notes)})" if notes else ""))
    return 0


def cmd_export(args) -> int:
    from photoclust_app.core.export import UNSORTED_FOLDER, plan_export, plan_update, run_export, run_update
    from photoclust_app.core.store.library import Library
    from photoclust_app.core.tags import journal_dir
    from photoclust_app.terminal_progress import TerminalProgress

    # Read-only: exporting changes no library state, and works while another process indexes.
    with Library.open(args.folder, readonly=True) as lib:
        groups, unsorted = lib.cluster_paths()
        folder, tag_journals = lib.folder, journal_dir(lib)
        all_groups = list(groups)  # the tags name every photo, kept copies and left-out ones alike
        left_out = []
        if args.one_per_duplicate_group:
            from photoclust_app.cli_dedupe import export_one_per_group

            groups, left_out = export_one_per_group(lib, groups)
    if args.xmp and args.mode == "move":
        print("photoclust: --xmp cannot go with a move export: the sidecars beside the photos would stay "
              "behind when the photos leave. Export, then tag, or tag with a copy export.", file=sys.stderr)
        return 1
    tag = (lambda: _tag_after_export(all_groups, unsorted, folder, tag_journals)) if args.xmp and not args.dry_run \
        else (lambda: None)
    if args.include_unsorted and unsorted:
        groups.append((UNSORTED_FOLDER, unsorted))
    others = ([] if args.include_unsorted else unsorted) + [p for p, _ in left_out]
    if not groups:
        print("Nothing to export: no clusters yet (run `photoclust cluster FOLDER`).", file=sys.stderr)
        return 1
    try:
        # one per duplicate group is a separate export (the update keeps every copy it made before)
        update = None if args.fresh or left_out else plan_update(groups, args.dest, mode=args.mode,
                                                                 source_root=folder, others=others)
        if update is not None:
            for line in update.info.lines():
                print(line)
            if update.plan is None:
                print("Nothing new to export.")
                tag()
                return 0
        plan = update.plan if update is not None else plan_export(
            groups, args.dest, mode=args.mode, source_root=folder, others=others, left_out=left_out)
        if args.dry_run:
            print(f"Dry run: would {args.mode} {len(plan.items)} photos into {printable_path(str(plan.dest))}:")
            for name, count in plan.folders:
                print(f"  {count:>6}  {printable_path(name)}/")
        else:
            bar = TerminalProgress()
            left = []
            if update is not None and update.supersede:
                manifest, left = run_update(update, progress=bar)
            else:
                manifest = run_export(plan, progress=bar)
            bar.finish()
            for path, reason in left[:50]:
                print(f"  left {printable_path(str(path))}: {reason}")
    except OSError as err:   # what the export's own checks did not foresee: still one sentence
        print(f"photoclust: the export could not be done ({err.strerror or err}).", file=sys.stderr)
        return 1
    if plan.left_out:
        print(f"{len(plan.left_out)} copies left out (one per duplicate group), listed in the manifest.")
    if plan.skipped:   # refused by the safety checks, never touched
        print(f"{len(plan.skipped)} skipped:")
        for path, reason in plan.skipped:
            print(f"  {printable_path(str(path))}: {reason}")
    tag()
    if not args.dry_run:
        print(printable_path(str(manifest)))   # last line: the manifest, for undo-export
    return 0


def _tag_after_export(groups, unsorted, folder, journals) -> None:
    """export --xmp: the clusters' names as keywords beside the photos (see cli_tags)."""
    from photoclust_app.core.tags import tag_photos

    r = tag_photos(groups, unsorted, folder, journals)
    print(f"Tags: {r.written} XMP sidecars written beside the photos, {r.unchanged} already up to date, "
          f"{len(r.skipped)} skipped; `photoclust tag FOLDER --undo` puts the previous ones back.")


def cmd_repair(args) -> int:
    from photoclust_app.core.store.damage import move_aside
    from photoclust_app.core.store.location import library_path_for

    from photoclust_app.core.store.connection import hold_writer_lock

    path = library_path_for(Path(args.folder).expanduser())
    if not path.exists():
        print(f"There is no library to repair at {path}.")
        return 1
    with hold_writer_lock(path):  # not while a window or an index uses it
        kept = move_aside(path)
    print(f"Moved the library aside to {kept} (kept, not deleted). "
          f"Run `photoclust index {args.folder}` to build a new one.")
    return 0


def cmd_forget_missing(args) -> int:
    from photoclust_app.core.store.library import Library

    with Library.open(args.folder) as lib:
        n = lib.forget_missing()
    print(f"Forgot {n} missing photo{'s' if n != 1 else ''}." if n else "No photo is missing.")
    return 0


def cmd_undo_export(args) -> int:
    from photoclust_app.core.dedupe.journal import is_removal_manifest
    from photoclust_app.core.export import undo_export

    if is_removal_manifest(Path(args.manifest)):   # the same command undoes a dedupe
        return cli_dedupe.cmd_undo_dedupe(args)
    try:
        report = undo_export(Path(args.manifest))
    except OSError as err:
        print(f"photoclust: undo could not go on ({err.strerror or err}); run it again once that is fixed.",
              file=sys.stderr)
        return 1
    print(f"Undone: {report.removed} exported files removed, {report.restored} moved photos restored"
          + (f", {report.remade} earlier copies the update had replaced made again." if report.remade else "."))
    for path, reason in report.refused:
        print(f"  left alone {printable_path(str(path))}: {reason}")
    return 0 if not report.refused else 2


def cmd_screenshot(args) -> int:
    from photoclust_app.gui.screenshot import render_screenshot

    render_screenshot(args.folder, args.out, size=args.size)
    print(args.out)
    return 0


COMMANDS = {"index": cmd_index, "cluster": cmd_cluster, "info": cmd_info, "export": cmd_export,
            "undo-export": cmd_undo_export, "forget-missing": cmd_forget_missing, "repair": cmd_repair, "bench": cli_bench.cmd_bench, "screenshot": cmd_screenshot,
            **cli_edits.COMMANDS, **cli_learn.COMMANDS, **cli_dedupe.COMMANDS, **cli_search.COMMANDS,
            **cli_tags.COMMANDS}

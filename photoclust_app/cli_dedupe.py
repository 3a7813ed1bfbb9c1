"""`photoclust duplicates | dedupe | undo-dedupe`: the duplicate finder on the command line.

    photoclust duplicates FOLDER [--kind identical|near|burst] [--threshold C] [--burst-window S] [--json]
    photoclust dedupe FOLDER --keep best (--to-trash | --to DIR) [--kind ...] [--dry-run]
    photoclust undo-dedupe MANIFEST
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from photoclust_app.core.display import printable_path

COPY_KINDS = ("identical", "near")


def _kind_arg(p) -> None:
    p.add_argument("--kind", action="append", choices=["identical", "near", "burst"],
                   help="only this kind (repeat for several); default: all three for duplicates, "
                        "identical and near for dedupe")
    p.add_argument("--threshold", type=float, default=None,
                   help="embedding cosine for near-identical (default: the model's measured one)")
    p.add_argument("--burst-window", type=float, default=None, help="seconds between frames of a burst (default 2)")


def add_parsers(sub) -> None:
    s = sub.add_parser("duplicates", help="list identical copies, near-identical copies and bursts")
    s.add_argument("folder")
    _kind_arg(s)
    s.add_argument("--json", action="store_true", help='a list of {"kind", "keeper", "members"}, paths relative to FOLDER')
    s = sub.add_parser("dedupe", help="move every copy but the best one to the trash or a folder (undoable)")
    s.add_argument("folder")
    s.add_argument("--keep", choices=["best"], required=True, help="which copy stays: the best by the keeper rule")
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument("--to-trash", action="store_true", help="the desktop's trash (freedesktop.org spec)")
    where.add_argument("--to", metavar="DIR", help="a folder (made if needed; copies keep their subfolders)")
    _kind_arg(s)
    s.add_argument("--dry-run", action="store_true", help="show what would be moved; touch nothing")
    s = sub.add_parser("undo-dedupe", help="put the copies a dedupe moved back, from its manifest")
    s.add_argument("manifest")


def _settings(args, default_kinds):
    from photoclust_app.core.dedupe import Settings
    from photoclust_app.core.errors import PhotoclustError

    kinds = tuple(dict.fromkeys(args.kind or default_kinds))
    if args.threshold is not None and not 0 < args.threshold <= 1:
        raise PhotoclustError(f"--threshold is a cosine between 0 and 1, not {args.threshold}.")
    if args.burst_window is not None and args.burst_window < 0:
        raise PhotoclustError(f"--burst-window is a number of seconds, not {args.burst_window}.")
    s = Settings(near_threshold=args.threshold, kinds=kinds)
    if args.burst_window is not None:
        s.burst_window = args.burst_window
    return s


def _open(folder: str, *, write: bool):
    """The folder's library: for writing when it can be had (facts are cached), else read-only."""
    from photoclust_app.core.errors import LibraryError, LibraryLocked
    from photoclust_app.core.store.library import Library
    from photoclust_app.core.store.location import library_path_for

    path = Path(folder).expanduser()
    if not path.is_dir():
        raise LibraryError(f"{printable_path(str(path))} is not a folder.")
    if not library_path_for(path.resolve()).exists():
        raise LibraryError(f"{printable_path(str(path))} has not been indexed yet: run `photoclust index FOLDER` first.")
    try:
        return Library.open(path)
    except LibraryLocked:
        if write:
            raise
        return Library.open(path, readonly=True)


def _human(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _find(lib, settings):
    from photoclust_app.core.dedupe import find_duplicates
    from photoclust_app.terminal_progress import TerminalProgress

    bar = TerminalProgress(unit="items")
    groups = find_duplicates(lib, settings, progress=bar)
    bar.finish()
    if not lib.readonly and {"identical", "near"} <= set(settings.kinds):
        lib.set_duplicate_groups((g.kind, g.keeper, [m.id for m in g.members]) for g in groups if g.kind != "burst")
    return groups


def cmd_duplicates(args) -> int:
    from photoclust_app.core.dedupe.keeper import BURST_RULE_TEXT, RULE_TEXT

    with _open(args.folder, write=False) as lib:
        groups = _find(lib, _settings(args, ("identical", "near", "burst")))
    if args.json:
        out = [{"kind": g.kind, "keeper": printable_path(g.members[0].relpath),
                "members": [printable_path(m.relpath) for m in g.members], "why": g.why} for g in groups]
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    if not groups:
        print("No duplicates found.")
        return 0
    label = {"identical": "identical copies", "near": "near-identical copies", "burst": "burst"}
    for g in groups:
        print(f"{label[g.kind]} ({len(g.members)}): keep {printable_path(g.members[0].relpath)}  [{g.why}]")
        for m in g.members[1:]:
            print(f"    {printable_path(m.relpath)}  {m.width}x{m.height} {m.format} {_human(m.size)}")
    copies = sum(len(g.copies) for g in groups if g.kind != "burst")
    freed = sum(m.size for g in groups if g.kind != "burst" for m in g.copies)
    print(f"{len(groups)} groups; {copies} extra copies ({_human(freed)}) could go with "
          "`photoclust dedupe FOLDER --keep best --to-trash`.")
    print(f"Keeper rule: {RULE_TEXT}; bursts: {BURST_RULE_TEXT}.")
    return 0


def cmd_dedupe(args) -> int:
    from photoclust_app.core.dedupe import forget_removed, plan_removal, run_removal
    from photoclust_app.terminal_progress import TerminalProgress

    with _open(args.folder, write=not args.dry_run) as lib:
        groups = _find(lib, _settings(args, COPY_KINDS))
        plan = plan_removal(lib.folder, groups, to=args.to, to_trash=args.to_trash, home=lib.path.parent,
                            all_relpaths=list(lib.relpaths().values()))
        where = "the trash" if plan.target == "trash" else printable_path(str(plan.dest))
        if args.dry_run or not plan.groups:
            verb = "Dry run: would move" if args.dry_run else "Nothing to move:"
            print(f"{verb} {plan.copies} copies ({_human(plan.bytes)}) of {len(plan.groups)} groups to {where}:")
            for g in plan.groups:
                print(f"  keep {printable_path(g.members[0].relpath)}  [{g.kind}; {g.why}]")
                for m in g.copies:
                    print(f"    move {printable_path(m.relpath)}")
            return 0
        bar = TerminalProgress(unit="groups")
        try:
            report = run_removal(plan, progress=bar)
        except OSError as err:
            print(f"photoclust: the removal could not go on ({err.strerror or err}); "
                  "what was moved is in the manifest, and undo-dedupe puts it back.", file=sys.stderr)
            return 1
        finally:
            bar.finish()
        forget_removed(lib, report)
    print(f"Moved {len(report.removed)} copies ({_human(report.freed)}) to {where}; "
          f"the library forgot them ({report.forgotten}), keepers keep their clusters.")
    if report.kept:
        print(f"{len(report.kept)} left where they are:")
        for rel, why in report.kept:
            print(f"  {printable_path(rel)}: {why}")
    if report.manifest:
        print(printable_path(str(report.manifest)))   # last line: the manifest, for undo-dedupe
    return 0


def cmd_undo_dedupe(args) -> int:
    from photoclust_app.core.dedupe import undo_removal

    try:
        report = undo_removal(Path(args.manifest))
    except OSError as err:
        print(f"photoclust: undo could not go on ({err.strerror or err}); run it again once that is fixed.",
              file=sys.stderr)
        return 1
    print(f"Put back {report.restored} copies; `photoclust index FOLDER` brings them into the library again.")
    for path, reason in report.refused:
        print(f"  left alone {printable_path(str(path))}: {reason}")
    return 0 if not report.refused else 2


COMMANDS = {"duplicates": cmd_duplicates, "dedupe": cmd_dedupe, "undo-dedupe": cmd_undo_dedupe}


def export_one_per_group(lib, groups):
    """(export groups with one photo per identical / near-identical group, [(left out, why)])."""
    from photoclust_app.core.dedupe import Settings, find_duplicates
    from photoclust_app.core.dedupe.export_filter import one_per_group

    dups = find_duplicates(lib, Settings(kinds=COPY_KINDS), cache=False)
    paths = {pid: lib.folder / rel for pid, rel in lib.relpaths().items()}
    return one_per_group(groups, [(g.kind, g.keeper, [m.id for m in g.members]) for g in dups], paths)

"""What the clustering learns from, on the command line: suggest, review, split (by example),
clear-corrections.

The same Session calls the window makes, so a suggestion accepted or rejected here, or a
reviewed photo, is recorded (and undoable) exactly as in the window."""
from __future__ import annotations

import json

from photoclust_app.core.display import printable_path


def add_parsers(sub) -> None:
    s = sub.add_parser("suggest", help="photos that look like a cluster's hand-placed examples (or its members)")
    s.add_argument("folder")
    s.add_argument("cluster", help="a cluster id or its current name")
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--accept-all", action="store_true", help="place every suggestion in the cluster")
    s.add_argument("--accept", nargs="+", metavar="PHOTO", default=[], help="place these in the cluster")
    s.add_argument("--reject", nargs="+", metavar="PHOTO", default=[], help="not this one: keep them out of it")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("review", help="new photos placed with low confidence, waiting for you")
    s.add_argument("folder")
    s.add_argument("--accept-all", action="store_true", help="put each into the cluster it would join")
    s.add_argument("--accept", nargs="+", metavar="PHOTO", default=[])
    s.add_argument("--dismiss", nargs="+", metavar="PHOTO", default=[], help="leave them Unsorted")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("split", help="split a cluster: automatically, or by photos picked for each side")
    s.add_argument("folder")
    s.add_argument("cluster", help="a cluster id or its current name")
    s.add_argument("--side", nargs="+", action="append", metavar="PHOTO", default=[],
                   help="photos for one side (give --side two or more times)")
    s.add_argument("--dry-run", action="store_true", help="show the division, change nothing")
    s = sub.add_parser("clear-corrections", help="forget hand placements and kept-out photos (the photos stay)")
    s.add_argument("folder")
    s.add_argument("cluster", nargs="?", help="one cluster (default: every cluster)")


def _open(folder: str):
    from photoclust_app.core.editing.session import Session
    from photoclust_app.core.store.library import Library

    lib = Library.open(folder)
    return lib, Session(lib)


def _named(s, cid) -> str:
    return "Unsorted" if cid is None else f"\u201c{s.cluster(cid).display_name}\u201d (#{cid})"


def cmd_suggest(args) -> int:
    from photoclust_app.core.editing.resolve import UnknownTarget, resolve_cluster, resolve_photos

    if args.limit < 1:
        raise UnknownTarget("--limit must be at least 1.")
    lib, s = _open(args.folder)
    with lib:
        cid = resolve_cluster(s, args.cluster)
        if cid is None:
            raise UnknownTarget("Unsorted is not a cluster; suggestions are for a cluster.")
        if args.accept or args.accept_all or args.reject:
            take = resolve_photos(s, args.accept) if args.accept else []
            if args.accept_all:
                take += [p for p, _ in s.suggestions(cid, args.limit)]
            moved = s.move(take, cid) if take else 0
            rejected = s.reject(cid, resolve_photos(s, args.reject)) if args.reject else 0
            print(f"{moved} placed in {_named(s, cid)}, {rejected} kept out of it.")
            return 0
        found = s.suggestions(cid, args.limit)
        if args.json:
            print(json.dumps([{"path": printable_path(s.relpath(p)), "score": round(sc, 4)} for p, sc in found]))
            return 0
        placed, kept = s.corrections(cid)
        print(f"{len(found)} more photo{'s' if len(found) != 1 else ''} look like {_named(s, cid)} "
              f"({placed} placed by hand, {kept} kept out):")
        for p, sc in found:
            print(f"  {sc:.3f}  {printable_path(s.relpath(p))}")
    return 0


def cmd_review(args) -> int:
    from photoclust_app.core.editing.resolve import resolve_photos

    lib, s = _open(args.folder)
    with lib:
        if args.accept_all or args.accept or args.dismiss:
            n = s.accept_review(None if args.accept_all else resolve_photos(s, args.accept)) if (
                args.accept_all or args.accept) else 0
            d = s.dismiss_review(resolve_photos(s, args.dismiss)) if args.dismiss else 0
            print(f"{n} accepted, {d} left Unsorted; {len(s.review_items())} still to review.")
            return 0
        items = s.review_items()
        if args.json:
            print(json.dumps([{"path": printable_path(s.relpath(p)), "cluster": c,
                               "cluster_name": None if c is None else s.cluster(c).display_name,
                               "confidence": round(conf, 3)} for p, c, conf in items]))
            return 0
        if not items:
            print("Nothing to review.")
            return 0
        print(f"{len(items)} new photo{'s' if len(items) != 1 else ''} to review (least sure first):")
        for p, c, conf in items:
            print(f"  {conf:.2f}  {printable_path(s.relpath(p))}  ->  {_named(s, c) if c else 'no cluster'}")
    return 0


def cmd_split(args) -> int:
    from photoclust_app.core import pipeline
    from photoclust_app.core.editing.resolve import UnknownTarget, resolve_cluster, resolve_photos

    if len(args.side) == 1:
        raise UnknownTarget("Give --side at least twice (the photos for each side), or no --side for an automatic split.")
    lib, s = _open(args.folder)
    with lib:
        cid = resolve_cluster(s, args.cluster)
        if cid is None:
            raise UnknownTarget("Unsorted is not a cluster and cannot be split.")
        if args.side:
            plan = pipeline.split_by_example(lib, cid, [resolve_photos(s, side) for side in args.side])
        else:
            plan = pipeline.split(lib, cid)
        parts = [int(k) for k in sorted(set(plan.labels.tolist()) - {-1})]
        sizes = {k: int((plan.labels == k).sum()) for k in parts}
        if args.dry_run or len(parts) < 2:
            print(f"{_named(s, cid)} would split into {len(parts)}: "
                  + ", ".join(f"{sizes[k]} photos" for k in sorted(parts, key=lambda k: -sizes[k])) + ".")
            return 0
        new = s.split(plan)
        print(f"Split {_named(s, cid)}: it keeps {s.cluster(cid).size} photos; "
              + ", ".join(f"{_named(s, c)} {s.cluster(c).size}" for c in new) + ".")
    return 0


def cmd_clear_corrections(args) -> int:
    from photoclust_app.core.editing.resolve import UnknownTarget, resolve_cluster

    lib, s = _open(args.folder)
    with lib:
        cid = None
        if args.cluster is not None:
            cid = resolve_cluster(s, args.cluster)
            if cid is None:
                raise UnknownTarget("Unsorted is not a cluster.")
        n = s.clear_corrections(cid)
        print(f"Forgot {n} correction{'s' if n != 1 else ''}" + ("" if cid is None else f" of {_named(s, cid)}") + ".")
    return 0


COMMANDS = {"suggest": cmd_suggest, "review": cmd_review, "split": cmd_split, "clear-corrections": cmd_clear_corrections}

"""`photoclust search` and `photoclust similar`: the window's search box on the command line.

Both open the library read-only (they work while another process indexes) and print the
results best first: one `score  path` line each, or with --json a list of {"path", "score"}
with paths relative to FOLDER.
"""
from __future__ import annotations

import json
import sys

from photoclust_app.core.display import printable_path

COMMANDS_HELP = {
    "search": "find photos by text, file name, folder/ or date (2023, 2021..2023)",
    "similar": "photos most like PHOTO (several: like their mean)",
    "events": "photos grouped into events by capture time; --clusters: each cluster's date range",
}


def _limit(text: str) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def add_parsers(sub) -> None:
    s = sub.add_parser("search", help=COMMANDS_HELP["search"])
    s.add_argument("folder")
    s.add_argument("query", help='e.g. "dog on a beach", IMG_, holiday/, 2023, "snow 2021..2023"')
    s.add_argument("--limit", type=_limit, default=20)
    s.add_argument("--min-score", type=float, default=None, help="hide matches scoring below this (model default)")
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("similar", help=COMMANDS_HELP["similar"])
    s.add_argument("folder")
    s.add_argument("photos", nargs="+", metavar="PHOTO")
    s.add_argument("--limit", type=_limit, default=20)
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("events", help=COMMANDS_HELP["events"])
    s.add_argument("folder")
    s.add_argument("--gap-hours", type=float, default=4.0, help="a new event after a gap longer than this (4)")
    s.add_argument("--cluster", default=None, help="only the photos of this cluster (an id or a name)")
    s.add_argument("--clusters", action="store_true", help="list each cluster's date range instead")
    s.add_argument("--json", action="store_true")


def _searcher(folder: str):
    from photoclust_app.core.search import Searcher
    from photoclust_app.core.store.library import Library

    with Library.open(folder, readonly=True) as lib:
        return Searcher(lib), lib.folder


def _print(result, as_json: bool) -> int:
    if result.notice:
        print(result.notice, file=sys.stderr)
    if as_json:
        print(json.dumps([{"path": h.relpath, "score": h.score} for h in result.hits], indent=2, ensure_ascii=False))
        return 0
    if not result.hits:
        print("No matching photos.", file=sys.stderr)
        return 0
    for h in result.hits:
        print(f"{h.score:8.4f}  {printable_path(h.relpath)}")
    return 0


def cmd_search(args) -> int:
    searcher, _ = _searcher(args.folder)
    return _print(searcher.search(args.query, limit=args.limit, min_score=args.min_score), args.json)


def cmd_similar(args) -> int:
    from photoclust_app.core.search.query import resolve_photo_refs

    searcher, folder = _searcher(args.folder)
    ids = resolve_photo_refs(searcher, folder, args.photos)
    return _print(searcher.similar(ids, limit=args.limit), args.json)


def cmd_events(args) -> int:
    from photoclust_app.core.editing.resolve import resolve_cluster
    from photoclust_app.core.editing.session import Session
    from photoclust_app.core.errors import PhotoclustError
    from photoclust_app.core.search import Searcher
    from photoclust_app.core.search.query import cluster_date_ranges, library_events
    from photoclust_app.core.store.library import Library

    if not args.gap_hours > 0:
        raise PhotoclustError("--gap-hours must be more than 0.")
    with Library.open(args.folder, readonly=True) as lib:
        searcher = Searcher(lib)
        session = Session(lib)
        clusters = [c for c in session.clusters() if c.size]
        members = {c.id: session.members(c.id) for c in clusters}
        within = None
        if args.cluster is not None:
            cid = resolve_cluster(session, args.cluster)
            within = session.members(cid)
    if args.clusters:
        ranges = cluster_date_ranges(searcher, members)
        rows = [{"id": c.id, "name": c.display_name, "size": c.size, "dates": ranges[c.id]} for c in clusters]
        if args.json:
            print(json.dumps(rows, indent=2, ensure_ascii=False))
        for r in rows if not args.json else []:
            print(f"  #{r['id']:<4} {r['size']:>6}  {r['dates'] or '(no dates)':<25}  {r['name']}")
        return 0
    found = library_events(searcher, args.gap_hours, within)
    if args.json:
        print(json.dumps([{"start": e.label, "photos": [searcher.relpaths[i] for i in e.photo_ids]} for e in found],
                         indent=2, ensure_ascii=False))
        return 0
    for e in found:
        print(f"{e.label}  {len(e.photo_ids):>5} photo{'s' if len(e.photo_ids) != 1 else ''}  "
              f"{printable_path(searcher.relpaths[e.photo_ids[0]])}")
    return 0


COMMANDS = {"search": cmd_search, "similar": cmd_similar, "events": cmd_events}

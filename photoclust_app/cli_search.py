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


COMMANDS = {"search": cmd_search, "similar": cmd_similar}

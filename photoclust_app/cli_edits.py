"""The session's edits on the command line: rename, move, merge, assign-rest, undo, redo.

Each opens the library for writing, makes one edit through the same Session the window
uses (so it is recorded in the library's history exactly as a drag in the window is),
and prints one line. ``undo``/``redo`` walk that shared history.
"""
from __future__ import annotations

from photoclust_app.core.display import printable_path


def add_parsers(sub) -> None:
    s = sub.add_parser("rename", help="give a cluster a name (an empty name restores the suggestion)")
    s.add_argument("folder")
    s.add_argument("cluster", help="a cluster id or its current name")
    s.add_argument("name")
    s = sub.add_parser("move", help="place photos in a cluster by hand (unsorted, new:NAME, an id or a name)")
    s.add_argument("folder")
    s.add_argument("cluster")
    s.add_argument("photos", nargs="+", metavar="PHOTO")
    s = sub.add_parser("merge", help="merge clusters into TARGET, which keeps its name")
    s.add_argument("folder")
    s.add_argument("clusters", nargs="+", metavar="CLUSTER", help="SOURCE... TARGET")
    s = sub.add_parser("assign-rest", help="put every Unsorted photo into the cluster it is most like "
                                           "(photos moved to Unsorted by hand stay)")
    s.add_argument("folder")
    for name, what in (("undo", "undo the last edit (the window's history too)"), ("redo", "redo what undo undid")):
        s = sub.add_parser(name, help=what)
        s.add_argument("folder")


def _session(folder: str):
    from photoclust_app.core.editing.session import Session
    from photoclust_app.core.store.library import Library

    lib = Library.open(folder)
    return lib, Session(lib)


def cmd_rename(args) -> int:
    from photoclust_app.core.editing.resolve import UnknownTarget, resolve_cluster

    lib, s = _session(args.folder)
    with lib:
        cid = resolve_cluster(s, args.cluster)
        if cid is None:
            raise UnknownTarget("Unsorted is not a cluster and cannot be renamed.")
        s.rename(cid, args.name)
        print(f"#{cid} is now \u201c{s.cluster(cid).display_name}\u201d.")
    return 0


def cmd_move(args) -> int:
    from photoclust_app.core.editing.resolve import NEW_PREFIX, resolve_cluster, resolve_photos

    lib, s = _session(args.folder)
    with lib:
        ids = resolve_photos(s, args.photos)
        if args.cluster.startswith(NEW_PREFIX):
            cid = s.new_cluster(ids, args.cluster[len(NEW_PREFIX):])
            n = len(ids)
        else:
            cid = resolve_cluster(s, args.cluster)
            n = s.move(ids, cid)
        target = "Unsorted" if cid is None else f"\u201c{s.cluster(cid).display_name}\u201d (#{cid})"
        print(f"Moved {n} photo{'s' if n != 1 else ''} to {target}.")
    return 0


def cmd_merge(args) -> int:
    from photoclust_app.core.editing.resolve import UnknownTarget, resolve_cluster

    if len(args.clusters) < 2:
        raise UnknownTarget("Name at least one cluster to merge and the TARGET to merge it into.")
    lib, s = _session(args.folder)
    with lib:
        ids = [resolve_cluster(s, c) for c in args.clusters]
        if None in ids:
            raise UnknownTarget("Unsorted is not a cluster; use `photoclust move` for its photos.")
        *sources, target = ids
        s.merge(sources, target)
        print(f"Merged into \u201c{s.cluster(target).display_name}\u201d (#{target}), "
              f"now {s.cluster(target).size} photos.")
    return 0


def cmd_assign_rest(args) -> int:
    lib, s = _session(args.folder)
    with lib:
        n = s.assign_rest()
        print(f"Assigned {n} Unsorted photo{'s' if n != 1 else ''} to their nearest clusters; "
              f"{s.unsorted_count()} remain Unsorted.")
    return 0


def _step(folder: str, undo: bool) -> int:
    lib, s = _session(folder)
    with lib:
        text = s.undo_text if undo else s.redo_text
        if not (s.undo() if undo else s.redo()):
            print(f"Nothing to {'undo' if undo else 'redo'}.")
            return 1
        note = (f" ({s.last_conflicts} change{'s' if s.last_conflicts != 1 else ''} left alone: "
                "the library changed since)") if s.last_conflicts else ""
        print(f"{'Undid' if undo else 'Redid'}: {printable_path(text)}{note}.")
    return 0


def cmd_undo(args) -> int:
    return _step(args.folder, True)


def cmd_redo(args) -> int:
    return _step(args.folder, False)


COMMANDS = {"rename": cmd_rename, "move": cmd_move, "merge": cmd_merge, "assign-rest": cmd_assign_rest, "undo": cmd_undo, "redo": cmd_redo}

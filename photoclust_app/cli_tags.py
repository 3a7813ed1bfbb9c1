"""`photoclust tag FOLDER`: cluster names as XMP keywords beside the photos; `--undo` reverses."""
from __future__ import annotations

from photoclust_app.core.display import printable_path


def add_parser(sub) -> None:
    s = sub.add_parser("tag", help="write cluster names as keywords into XMP sidecars (digiKam, darktable, Lightroom)")
    s.add_argument("folder")
    s.add_argument("--naming", default="photo.ext.xmp", choices=["photo.ext.xmp", "photo.xmp"],
                   help="IMG_1.jpg.xmp (default: digiKam, darktable) or IMG_1.xmp (Lightroom's form for raw files)")
    s.add_argument("--undo", action="store_true", help="undo the newest tagging (previous sidecars come back)")


def cmd_tag(args) -> int:
    from photoclust_app.core.store.library import Library
    from photoclust_app.core.tags import tag_library, untag_library
    from photoclust_app.terminal_progress import TerminalProgress

    # Read-only: tagging writes sidecars and its journal, never the library.
    with Library.open(args.folder, readonly=True) as lib:
        if args.undo:
            r = untag_library(lib)
            print(f"Undone: {r.restored} sidecar{'s' if r.restored != 1 else ''} back as they were.")
            for path, reason in r.refused:
                print(f"  left alone {printable_path(str(path))}: {reason}")
            return 0 if not r.refused else 2
        bar = TerminalProgress(unit="sidecars")
        r = tag_library(lib, naming=args.naming, progress=bar)
        bar.finish()
    print(f"Tagged: {r.written} sidecar{'s' if r.written != 1 else ''} written, {r.unchanged} already up to date"
          + (f", {r.removed} emptied and removed" if r.removed else "") + ".")
    if r.skipped:
        print(f"{len(r.skipped)} skipped:")
        for path, reason in r.skipped[:50]:
            print(f"  {printable_path(str(path))}: {reason}")
        if len(r.skipped) > 50:
            print(f"  ... and {len(r.skipped) - 50} more")
    if r.journal is not None:
        print("`photoclust tag FOLDER --undo` puts the previous sidecars back.")
    return 0


COMMANDS = {"tag": cmd_tag}

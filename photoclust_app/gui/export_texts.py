"""What the export dialog says, and the small pieces of its background jobs: mode texts,
sentences for errors, the skipped-photos note, and a job wrapper that hands over a manifest."""
from __future__ import annotations

from photoclust_app.core.display import printable_path
from photoclust_app.gui.tasks import error_sentence

MODES = {
    "copy": ("Copy", "Copies every photo; the originals stay where they are."),
    "move": ("Move", "Moves every photo into its cluster folder; the originals leave their folder."),
    "symlink": ("Symbolic link", "Creates links that point at the originals; no extra space, "
                                 "but the links break if the originals move."),
    "hardlink": ("Hard link", "Gives each photo a second name on the same disk; no extra space, "
                              "and both names show the same file."),
}
MOVE_WARNING = ("Moving takes the photos out of the library folder: the next scan shows them as missing, "
                "keeping their clusters and names. Undo export moves them back.")
VERB = {"copy": "Copied", "move": "Moved", "symlink": "Linked (symbolic links)", "hardlink": "Linked (hard links)"}


def sentence(err: BaseException) -> str:
    """A user-readable sentence for any error the export can raise."""
    return error_sentence(err, "The export")


def keeping_manifest(fn):
    """Run FN; if it fails after writing a manifest, hand the manifest over first (as the
    partial result "manifest"), so what was done can be undone."""

    def job(ctx):
        try:
            return fn(ctx)
        except BaseException as err:
            manifest = getattr(err, "manifest", None)
            if manifest:
                ctx.partial("manifest", str(manifest))
            raise

    return job


def skipped_note(plan) -> str:
    """" N skipped (reason)." for the summary line, or ""."""
    skipped = getattr(plan, "skipped", None) or []
    if not skipped:
        return ""
    return f" {len(skipped)} skipped ({skipped[0][1]}{'; …' if len(skipped) > 1 else ''}): see the tooltip."


def skipped_list(plan) -> str:
    skipped = getattr(plan, "skipped", None) or []
    return "\n".join(f"{printable_path(str(p))}: {why}" for p, why in skipped[:50])

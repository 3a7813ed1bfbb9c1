"""Colour histograms for photos indexed before they existed, from the stored thumbnails:
no original is opened again. Committed in batches, so a cancel keeps what is done."""
from __future__ import annotations

import numpy as np

from photoclust_app.core.ingest.colour import COLOUR_DIM, descriptor_from_jpeg
from photoclust_app.core.progress import CancelFn, ProgressFn, check_cancel, no_progress

BATCH = 500


def backfill_colours(lib, *, progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> int:
    """Compute and store the missing colour histograms; returns how many were added."""
    progress = progress or no_progress
    todo = lib.photos_without_colour()
    done = 0
    for i in range(0, len(todo), BATCH):
        check_cancel(cancel)
        progress(i, len(todo), "colour")
        thumbs = lib.thumbnails_of(todo[i:i + BATCH])
        # An unreadable thumbnail gets an empty histogram (matches no colour) so that it is
        # not read again on every index run.
        colours = {pid: descriptor_from_jpeg(thumbs[pid]) if pid in thumbs else None for pid in todo[i:i + BATCH]}
        colours = {pid: (h if h is not None else np.zeros(COLOUR_DIM, np.float32)) for pid, h in colours.items()}
        if colours:
            lib.set_colours(colours)
            done += len(colours)
    if todo:
        progress(len(todo), len(todo), "colour")
    return done

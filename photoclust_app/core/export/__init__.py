"""Export named clusters to folders, safely, and undo it.

The public API the CLI and GUI use; the work lives in names (sanitising), plan (the dry
run), run + steps (the journalled export), update (exporting again into an earlier export), undo, with the careful file operations in fs,
the rules for which paths may be touched in guard (sources) and bind (manifests), and the
manifest format in journal. Nothing here imports Qt or anything heavy.
"""
from __future__ import annotations

from photoclust_app.core.errors import ExportConflict
from photoclust_app.core.export.journal import Manifest, read_manifest
from photoclust_app.core.export.names import sanitize_file_name, sanitize_folder_name
from photoclust_app.core.export.guard import EXPORT_MARKER
from photoclust_app.core.export.plan import MODES, UNSORTED_FOLDER, ExportPlan, plan_export
from photoclust_app.core.export.run import ExportCancelled, ExportFailed, run_export
from photoclust_app.core.export.undo import UndoReport, undo_export
from photoclust_app.core.export.update import UpdateInfo, UpdatePlan, earlier_exports, plan_update, run_update

__all__ = [
    "EXPORT_MARKER", "MODES", "UNSORTED_FOLDER", "ExportPlan", "plan_export", "run_export", "undo_export", "UndoReport",
    "ExportFailed", "ExportCancelled", "sanitize_folder_name", "sanitize_file_name",
    "read_manifest", "Manifest", "plan_update", "UpdatePlan", "UpdateInfo", "earlier_exports", "run_update", "ExportConflict",
]

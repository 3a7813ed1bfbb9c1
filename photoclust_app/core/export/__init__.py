"""Export named clusters to folders, safely, and undo it.

The public API the CLI and GUI use; the work lives in export_names (sanitising),
export_plan (the dry run), export_run (the journalled export), export_undo, with the
careful file operations in export_fs and the manifest format in export_journal.
Nothing here imports Qt or anything heavy.
"""
from __future__ import annotations

from photoclust_app.core.export.journal import Manifest, read_manifest
from photoclust_app.core.export.names import sanitize_file_name, sanitize_folder_name
from photoclust_app.core.export.plan import EXPORT_MARKER, MODES, UNSORTED_FOLDER, ExportPlan, plan_export
from photoclust_app.core.export.run import ExportCancelled, ExportFailed, run_export
from photoclust_app.core.export.undo import UndoReport, undo_export

__all__ = [
    "EXPORT_MARKER", "MODES", "UNSORTED_FOLDER", "ExportPlan", "plan_export", "run_export", "undo_export", "UndoReport",
    "ExportFailed", "ExportCancelled", "sanitize_folder_name", "sanitize_file_name",
    "read_manifest", "Manifest",
]

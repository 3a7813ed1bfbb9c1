"""Menus, toolbar, shortcuts and the edit commands behind them, for the main window.

Every edit goes to the window's Session (which saves it and records the undo); this module
only decides what the user pointed at.
"""
from __future__ import annotations

import logging
import sys

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QMenu, QToolBar

from photoclust_app.core import pipeline
from photoclust_app.gui import jobs
from photoclust_app.gui.desktop import open_file, show_in_folder
from photoclust_app.gui.export_dialog import ExportDialog
from photoclust_app.gui.granularity import GranularityControl
from photoclust_app.gui.settings_dialog import SettingsDialog

log = logging.getLogger(__name__)



class WindowActions:
    def __init__(self, win):
        self.win = win
        self.export_dialog: ExportDialog | None = None
        # (menu, cluster id or None, row kind) -> None: other modules add to the list's context menu
        self.cluster_menu_hooks: list = []
        self._granularity_key = None        # (folder, tree, embedded count) the stops were read for
        self._stops = None                  # pipeline.current_stops at that key
        self._granularity_shown = None      # what the control shows, to leave it alone otherwise
        self._wanted_groups: tuple | None = None   # asked for while a task ran: (groups,)
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self.viewer = None
        win.grid_view.contextMenuRequested.connect(self.grid_context_menu)
        win.grid_view.photoActivated.connect(lambda idx: self.view_photo(win.grid_model.photo_id(idx)))
        win.cluster_view.dissolveRequested.connect(self.dissolve)
        win.cluster_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        win.cluster_view.customContextMenuRequested.connect(self.cluster_context_menu)
        self.update()

    def _act(self, text, slot, shortcut=None, tip=None) -> QAction:
        a = QAction(text, self.win)
        if shortcut is not None:
            a.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        if tip:
            a.setStatusTip(tip)
        a.triggered.connect(lambda checked=False: slot())
        return a

    def _build_actions(self) -> None:
        K = QKeySequence
        self.open = self._act("&Open Folder\u2026", self.choose_folder, K.StandardKey.Open)
        self.reindex = self._act("Re&index Folder", self.win.reindex, "F5",
                                 "Look for new or changed photos (the folder is also watched while open)")
        self.export = self._act("&Export\u2026", self.show_export, "Ctrl+E", "Copy or move photos into one folder per cluster")
        self.duplicates = self._act("Find &Duplicates\u2026", self.show_duplicates, None,
                                    "Identical copies, near-identical copies and bursts: keep the best, move the rest")
        self.copies_once = self._act("Count &Copies Once", self._copies_once, None,
                                     "A group of duplicate copies counts as one photo in cluster sizes")
        self.copies_once.setCheckable(True)
        self.settings = self._act("&Settings\u2026", self.show_settings, K.StandardKey.Preferences)
        self.quit = self._act("&Quit", self.win.close, K.StandardKey.Quit)
        self.undo = self._act("&Undo", self._undo, K.StandardKey.Undo)
        self.redo = self._act("&Redo", self._redo, [K("Ctrl+Shift+Z"), K("Ctrl+Y")])
        # The toolbar shows these short labels, always the same width (the menu and the
        # tooltip say what would be undone): a toolbar that shifts under the mouse misleads.
        self.undo.setIconText("Undo")
        self.redo.setIconText("Redo")
        self.rename = self._act("&Rename Cluster", self.rename_cluster, "F2")
        self.rename.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # F2 belongs to the list
        self.win.cluster_view.addAction(self.rename)
        self.dissolve_action = self.win.cluster_view.dissolve_action
        self.new_cluster = self._act("&New Cluster from Selection", self.new_cluster_from_selection, "Ctrl+N")
        self.move_to = self._act("&Move to Cluster\u2026", self.move_to_cluster, "Ctrl+Shift+M")
        self.merge = self._act("&Merge Clusters", self.merge_clusters, "Ctrl+M",
                               "Merge the selected clusters into one (the current one keeps its name)")
        self.show_folder = self._act("Show in &Folder", self.show_in_folder)
        self.view = self._act("&View Photo", lambda: self.view_photo(), "Space", "Show the photo large, in the app")
        self.view.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)   # Space belongs to the grid
        self.win.grid_view.addAction(self.view)
        self.open_photo = self._act("Open in &External Viewer", self.open_photos)
        self.zoom_in = self._act("&Larger Thumbnails", lambda: self.win.grid_view.zoom(1),
                                 [K(K.StandardKey.ZoomIn), K("Ctrl+=")])
        self.zoom_out = self._act("&Smaller Thumbnails", lambda: self.win.grid_view.zoom(-1), K.StandardKey.ZoomOut)
        self.zoom_reset = self._act("&Default Thumbnail Size", self._default_thumbs, "Ctrl+0")
        self.split = self._act("&Split Cluster", self.split_cluster, "Ctrl+Shift+S",
                               "Re-cluster the selected cluster on its own")
        self.recluster_now = self._act("Re-&cluster Library", lambda: self.recluster(reuse=False),
                                       tip="Cluster the whole library afresh (UMAP and a new tree)")
        self.assign_rest = self._act("&Assign the Rest to the Nearest Cluster", self.assign_rest_to_nearest,
                                     tip="Put every Unsorted photo into the cluster it looks most like "
                                         "(photos you put into Unsorted yourself stay); Ctrl+Z undoes it")
        self.filter = self._act("&Filter Clusters", self.focus_filter, K.StandardKey.Find)
        self.cancel = self._act("&Cancel Task", self.win.runner.cancel)
        self.skipped = self._act("Skipped &Files\u2026", self.win.skipped_button.show_dialog)
        self.write_tags = self._act("Write &Tags to XMP Sidecars", self.tag_photos,
                                    tip="Cluster names as keywords beside each photo, for digiKam, darktable, Lightroom")
        self.undo_tags = self._act("Undo Last &Tagging", self.untag_photos, tip="Put the previous XMP sidecars back")

    def _build_menus(self) -> None:
        mb = self.win.menuBar()
        m = mb.addMenu("&File")
        for a in (self.open, self.reindex, None, self.export, self.duplicates, None, self.skipped, self.settings, None,
                  self.quit):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Edit")
        for a in (self.undo, self.redo, None, self.rename, self.dissolve_action, self.split, None,
                  self.new_cluster, self.move_to, None, self.filter):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&View")
        for a in (self.view, self.open_photo, self.show_folder, None, self.zoom_in, self.zoom_out, self.zoom_reset,
                  None, self.copies_once):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Clusters")
        m.addAction(self.merge)
        m.addAction(self.assign_rest)
        m.addSeparator()
        m.addAction(self.write_tags)
        m.addAction(self.undo_tags)
        m.addSeparator()
        m.addAction(self.recluster_now)
        m.addAction(self.cancel)

    def _build_toolbar(self) -> None:
        tb = QToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setMovable(False)
        for a in (self.open, self.export, None, self.undo, self.redo, None, self.split):
            tb.addSeparator() if a is None else tb.addAction(a)
        tb.addSeparator()
        self.granularity = GranularityControl()
        self.granularity.requested.connect(self.regroup)
        tb.addWidget(self.granularity)
        self.win.addToolBar(tb)
        self.toolbar = tb

    # -- state ---------------------------------------------------------------------------
    def update(self) -> None:
        w = self.win
        s = w.session
        editable = s is not None and not s.readonly
        busy = w.runner.is_running()
        clusters = [c for c in w.selected_clusters() if c is not None] if s else []
        photos = w.has_selected_photos() if s else False
        self.undo.setEnabled(editable and s.can_undo)
        self.redo.setEnabled(editable and s.can_redo)
        self.undo.setText(f"&Undo {s.undo_text}" if s and s.can_undo else "&Undo")
        self.redo.setText(f"&Redo {s.redo_text}" if s and s.can_redo else "&Redo")
        self.undo.setToolTip(self.undo.text().replace("&", "") + " (Ctrl+Z)")
        self.redo.setToolTip(self.redo.text().replace("&", "") + " (Ctrl+Shift+Z)")
        self.export.setEnabled(s is not None)
        self.duplicates.setEnabled(s is not None)
        if s is not None and s.count_copies_once != self.copies_once.isChecked():   # a new folder's session
            s.set_count_copies_once(self.copies_once.isChecked())
        self.reindex.setEnabled(editable and not busy)
        self.write_tags.setEnabled(editable and not busy)
        self.undo_tags.setEnabled(editable and not busy)
        self.rename.setEnabled(editable and len(clusters) == 1)
        self.dissolve_action.setEnabled(editable and bool(clusters))
        self.merge.setEnabled(editable and bool(clusters) and len(s.cluster_ids()) > 1)
        self.split.setEnabled(editable and len(clusters) == 1 and not busy)
        self.recluster_now.setEnabled(editable and not busy)
        focus = QApplication.focusWidget()
        if focus is not None and self.granularity.isAncestorOf(focus) and not (editable and not busy):
            w.cluster_view.setFocus()   # else Qt hands focus to the next widget: the filter box
        self.granularity.set_busy(busy, editable)
        self.assign_rest.setEnabled(editable and s.unsorted_count() > 0 and bool(s.cluster_ids()))
        self.new_cluster.setEnabled(editable and photos)
        self.move_to.setEnabled(editable and photos)
        self.show_folder.setEnabled(photos)
        self.open_photo.setEnabled(photos)
        self.view.setEnabled(photos)
        self.cancel.setEnabled(busy)

    def load_granularity(self, force: bool = False) -> None:
        """Show the library's stored choice (Automatic or Exactly N) and its tree's stops. The
        stops are read again only when the tree or the embedded photos changed, so following
        every history change (undo, redo) costs three meta reads and a count."""
        from photoclust_app.core.clustering.plan import TREE_KEY

        w = self.win
        lib, s = w.library, w.session
        if lib is None or s is None:
            self._granularity_key = self._granularity_shown = None
            self.granularity.show_library(None, None, None, 0)
            return
        if "photoclust_app.core.clustering.hierarchy" not in sys.modules:
            # Its first import (scikit-learn) stalls the window ~1 s: the open job warms it in
            # the worker, and the state it sends calls this again.
            found = None
        else:
            key = (str(lib.folder), lib.get_meta(TREE_KEY), lib.count_embedded())
            if key != self._granularity_key or force:
                self._granularity_key, self._stops = key, pipeline.current_stops(lib)
            found = self._stops
        stops, auto = found if found is not None else (None, None)
        shown = (stops, auto, pipeline.stored_groups(lib), len([c for c in s.clusters() if c.size]))
        if shown != self._granularity_shown or force:
            self._granularity_shown = shown
            self.granularity.show_library(*shown)

    def regroup(self, groups: int | None) -> None:
        """Exactly GROUPS groups (None: automatic): a cut of the stored tree when it covers the
        library, else a re-cluster; applied as one undoable step."""
        self._wanted_groups = (groups,)
        self.recluster()

    # -- commands ------------------------------------------------------------------------
    # Undo stays available while a task runs: a plan computed meanwhile is applied on top
    # (apply_clustering keeps hand-placed photos), and indexing only adds photos.
    def _undo(self) -> None:
        if self.win.session is not None and not self.win.session.readonly:
            self.win.session.undo()

    def _redo(self) -> None:
        if self.win.session is not None and not self.win.session.readonly:
            self.win.session.redo()

    def choose_folder(self) -> None:
        start = str(self.win.settings.value("last_folder", "") or "")
        folder = QFileDialog.getExistingDirectory(self.win, "Open a folder of photos", start)
        if folder:
            self.win.open_folder(folder)

    def focus_filter(self) -> None:
        self.win.filter_edit.setFocus()
        self.win.filter_edit.selectAll()

    def rename_cluster(self) -> None:
        view = self.win.cluster_view
        idx = view.currentIndex()
        if idx.isValid() and self.win.cluster_model.kind(idx.row()) == "cluster":
            view.edit(idx)

    def dissolve(self) -> None:
        s = self.win.session
        if s is None or s.readonly:
            return
        for cid in [c for c in self.win.selected_clusters() if c is not None]:
            s.dissolve(cid)

    def new_cluster_from_selection(self) -> None:
        s, ids = self.win.session, self.win.selected_photos()
        if s is not None and ids and not s.readonly:
            cid = s.new_cluster(ids)
            self.win.tell(f"Made \u201c{s.cluster(cid).display_name}\u201d from {len(ids)} photos; "
                          "F2 renames it.")

    def move_to_cluster(self, target: int | None | str = "ask") -> None:
        s, ids = self.win.session, self.win.selected_photos()
        if s is None or not ids or s.readonly:
            return
        if target == "ask":
            target = self.ask_move_target(ids)
            if target == "cancel":
                return
        s.move(ids, target)

    def move_choices(self, ids: list[int]) -> list[tuple[str, int | None]]:
        """Where IDS can move: every cluster but the one they are all in already (so the
        default, the first, is never a no-op), then Unsorted."""
        s = self.win.session
        own = {s.cluster_of(p) for p in ids}
        here = own.pop() if len(own) == 1 else "mixed"
        choices = [(c.display_name, c.id) for c in s.clusters() if c.id != here]
        if here is not None:
            choices.append(("Unsorted", None))
        return choices

    def ask_move_target(self, ids: list[int]):
        """The cluster chosen for IDS (None: Unsorted), or "cancel"."""
        choices = self.move_choices(ids)
        if not choices:
            return "cancel"
        n = len(ids)
        label, ok = QInputDialog.getItem(self.win, "Move to cluster", f"Move {n:,} photo{'s' if n != 1 else ''} to:",
                                         [name for name, _ in choices], 0, False)
        return dict(choices)[label] if ok else "cancel"

    def merge_clusters(self) -> None:
        """Merge the selected clusters into the current one (else the first selected); with one
        selected, ask which cluster it goes into. The merged cluster stays selected."""
        w, s = self.win, self.win.session
        if s is None or s.readonly:
            return
        picked = [c for c in w.selected_clusters() if c is not None]
        if not picked:
            return
        if len(picked) == 1:
            others = [(c.display_name, c.id) for c in s.clusters() if c.id != picked[0]]
            if not others:
                return
            label, ok = QInputDialog.getItem(w, "Merge cluster", f"Merge \u201c{s.cluster(picked[0]).display_name}"
                                             "\u201d into:", [n for n, _ in others], 0, False)
            if not ok:
                return
            target, sources = dict(others)[label], picked
        else:
            current = w.cluster_model.cluster_id(w.cluster_view.currentIndex())
            target = current if current in picked else picked[0]
            sources = [c for c in picked if c != target]
        try:
            s.merge(sources, target)
        except Exception as err:
            w.tell(str(err), error=True)
            return
        w.select_clusters([target])
        w.tell(f"Merged into \u201c{s.cluster(target).display_name}\u201d; Ctrl+Z undoes it.")

    def _default_thumbs(self) -> None:
        from photoclust_app.gui.thumbnails import THUMB_SIZE

        self.win.grid_view.set_thumb_size(THUMB_SIZE)

    # -- photos: the in-app viewer, the desktop's viewer and file manager ------------------
    def view_photo(self, photo_id: int | None = None) -> None:
        """Open the in-app viewer on PHOTO_ID (default: the grid's current or first selected
        photo), stepping through the grid's photos in their order."""
        from photoclust_app.gui.viewer import PhotoViewer

        w = self.win
        if w.session is None:
            return
        if photo_id is None:
            idx = w.grid_view.currentIndex()
            if idx.isValid() and (w.grid_view.selectionModel().isSelected(idx) or not w.has_selected_photos()):
                photo_id = w.grid_model.photo_id(idx)
            elif w.has_selected_photos():
                photo_id = w.selected_photos()[0]
        if photo_id is None:
            return
        ids = w.grid_model.photo_ids() or [photo_id]
        if self.viewer is None:
            self.viewer = PhotoViewer(w.session, ids, photo_id, w.thumbnails, w)
            self.viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.viewer.destroyed.connect(self._viewer_gone)
            self.viewer.currentChanged.connect(self._viewer_moved)
            self.viewer.openExternally.connect(lambda pid: self.open_photos([pid]))
        else:
            self.viewer.set_photos(ids, photo_id)
        self.viewer.show()
        self.viewer.raise_()
        self.viewer.activateWindow()

    def _viewer_moved(self, photo_id: int) -> None:
        """The viewer went on to PHOTO_ID: the grid follows, so closing it leaves you there."""
        w = self.win
        row = w.grid_model.row_of(photo_id)
        if row >= 0:
            from PySide6.QtCore import QItemSelectionModel

            idx = w.grid_model.index(row)
            w.grid_view.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            w.grid_view.scrollTo(idx)

    def _viewer_gone(self, *_) -> None:
        self.viewer = None

    def close_viewer(self) -> None:
        if self.viewer is not None:
            self.viewer.close()
            self.viewer = None

    def open_photos(self, ids: list[int] | None = None) -> None:
        """Hand the photos to the desktop's viewer; say so when there is none."""
        s = self.win.session
        if s is None:
            return
        ids = self.win.selected_photos()[:10] if ids is None else ids
        failed = [s.photo_path(p) for p in ids if not open_file(s.photo_path(p))]
        if failed:
            self.win.tell(f"No program on this computer opened {failed[0].name} (the desktop has no viewer for it, "
                          "or no xdg-open); Space shows it here, and it is at " f"{failed[0]}.", error=True)

    def show_in_folder(self) -> None:
        s, ids = self.win.session, self.win.selected_photos()
        if s is None or not ids:
            return
        path = s.photo_path(ids[0])
        if not show_in_folder(path):
            self.win.tell(f"No file manager could be opened here (no desktop file manager or xdg-open); "
                          f"the photo is at {path}.", error=True)

    def tag_photos(self) -> None:
        """Write every cluster's name into its photos' XMP sidecars (core/tags), in the background."""
        from photoclust_app.core import tags

        w = self.win
        if w.session is None or w.library.readonly:
            return
        s = w.session
        groups = s.export_groups()
        untagged = [s.photo_path(p) for p in s.members(None) if not s.is_missing(p)]
        root, journals = w.library.folder, tags.journal_dir(w.library)
        if w.runner.start("tag", lambda ctx: tags.tag_photos(groups, untagged, root, journals, progress=ctx.progress)):
            w.progress.begin("Writing tags\u2026")
            self.update()

    def untag_photos(self) -> None:
        from photoclust_app.core import tags

        w = self.win
        if w.library is None or w.library.readonly:
            return
        root, journals = w.library.folder, tags.journal_dir(w.library)
        if w.runner.start("untag", lambda ctx: tags.undo_tags(root, journals)):
            self.update()

    @staticmethod
    def tags_sentence(result) -> str:
        """What a tagging (TagReport) or its undo (UntagReport) did, in one sentence."""
        if hasattr(result, "restored"):
            text = f"Tagging undone: {result.restored} sidecars back as they were"
            left = result.refused
        else:
            text = (f"Tags written: {result.written} XMP sidecars, {result.unchanged} already up to date"
                    + ("; Clusters \u2192 Undo Last Tagging puts the previous ones back" if result.journal else ""))
            left = result.skipped
        if left:
            text += f"; {len(left)} left alone (e.g. {left[0][0].name}: {left[0][1]})"
        return text + "."

    def split_cluster(self) -> None:
        w = self.win
        clusters = [c for c in w.selected_clusters() if c is not None]
        if w.session is None or len(clusters) != 1:
            return
        if w.runner.start("split", jobs.split_job(w.library, w.engine, clusters[0], device=w.device)):
            w.progress.begin("Splitting\u2026")
            self.update()

    def recluster(self, *, reuse: bool = True) -> None:
        """Compute the granularity asked for last (else the stored one) in the engine; with
        REUSE False, cluster afresh. The window applies the plan when it comes back."""
        w = self.win
        if w.library is None or w.library.readonly:
            return
        if w.runner.is_running():
            if self._wanted_groups is not None:
                QTimer.singleShot(500, lambda: self.recluster(reuse=reuse))  # when the task is done
            return
        choice = {} if self._wanted_groups is None else {"groups": self._wanted_groups[0]}
        self._wanted_groups = None
        cut = reuse and pipeline.current_stops(w.library) is not None
        if w.runner.start("recluster", jobs.recluster_job(w.library, w.engine, device=w.device, reuse=reuse,
                                                          **choice)):
            w.progress.begin("Regrouping\u2026" if cut else "Clustering\u2026",
                             clustering_size=lambda: w.session.photo_count() if w.session else 0)
            self.update()

    def assign_rest_to_nearest(self) -> None:
        s = self.win.session
        if s is None or s.readonly:
            return
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            n = s.assign_rest()
        finally:
            QApplication.restoreOverrideCursor()
        if n:
            self.win.tell(f"Assigned {n:,} Unsorted photo{'s' if n != 1 else ''} to their nearest clusters; "
                          "Ctrl+Z puts them back.")
        else:
            self.win.tell("No Unsorted photo to assign (photos you put into Unsorted yourself stay there).")

    def grid_context_menu(self, global_pos) -> None:
        menu = QMenu(self.win)
        search = getattr(self.win, "search", None)
        for a in (self.view, self.open_photo, self.show_folder, None,
                  *((search.more_like_this, None) if search is not None else ()), self.move_to, self.new_cluster):
            menu.addSeparator() if a is None else menu.addAction(a)
        menu.popup(global_pos)
        self._menu = menu

    def cluster_context_menu(self, pos) -> None:
        w = self.win
        menu = QMenu(w)
        idx = w.cluster_view.indexAt(pos)
        kind = w.cluster_model.kind(idx.row()) if idx.isValid() else None
        if kind == "unsorted":
            menu.addAction(self.assign_rest)
        else:
            flagged = w.cluster_model.split_suggestion(idx) if idx.isValid() else None
            if flagged:   # a cluster that looks mixed: the suggestion comes first
                hint = menu.addAction(flagged, self.split_cluster)
                hint.setEnabled(self.split.isEnabled())
                menu.addSeparator()
            for a in (self.rename, self.merge, self.split, self.dissolve_action):
                menu.addAction(a)
        for hook in self.cluster_menu_hooks:
            hook(menu, w.cluster_model.cluster_id(idx) if idx.isValid() else None, kind)
        menu.popup(self.win.cluster_view.viewport().mapToGlobal(pos))
        self._menu = menu

    def show_export(self) -> None:
        w = self.win
        if w.session is None:
            return
        if self.export_dialog is not None:   # one at a time: show the open one
            self.export_dialog.raise_()
            self.export_dialog.activateWindow()
            return
        dlg = ExportDialog(w.session, w, settings=w.settings)  # it reads the clusters from the session, live
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.destroyed.connect(self._export_dialog_gone)
        # A move export (or undoing one) takes photos out of / back into the folder: re-index.
        dlg.exportFinished.connect(lambda _m: dlg.mode() == "move" and w.reindex())
        dlg.undoFinished.connect(lambda _r: dlg.mode() == "move" and w.reindex())
        dlg.show()
        self.export_dialog = dlg

    def _export_dialog_gone(self, *_) -> None:
        self.export_dialog = None

    def close_export(self) -> None:
        """Close the export dialog (when the folder changes); a running export is cancelled
        first and the dialog closes when it has stopped."""
        if self.export_dialog is not None:
            self.export_dialog.reject()
        if getattr(self, "duplicates_dialog", None) is not None:   # it holds the session too
            self.duplicates_dialog.reject()

    def _copies_once(self, *_) -> None:
        if self.win.session is not None:
            self.win.session.set_count_copies_once(self.copies_once.isChecked())

    def show_duplicates(self) -> None:
        """The duplicates review (gui/dedupe_view.py), one at a time, searching at once."""
        from photoclust_app.gui.dedupe_view import DuplicatesDialog

        w = self.win
        if w.session is None:
            return
        if getattr(self, "duplicates_dialog", None) is not None:
            self.duplicates_dialog.raise_()
            return
        dlg = DuplicatesDialog(w.session, w)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.destroyed.connect(lambda *_: setattr(self, "duplicates_dialog", None))
        dlg.show()
        dlg.find()
        self.duplicates_dialog = dlg

    def show_settings(self) -> None:
        w = self.win
        before = (w.model_name, w.device)
        dlg = SettingsDialog(w.settings, w)
        if w.library is not None:   # what the library really uses, which the choice may not be
            dlg.set_library_model(w.library.model, str(w.settings.value("model_notice", "") or ""))
        if dlg.exec() and (w.model_name, w.device) != before:
            w.tell(f"Model set to {w.model_name}; re-indexing with it.")
            w.reindex()

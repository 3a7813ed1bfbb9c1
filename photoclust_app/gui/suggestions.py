"""Suggestions in the window: "12 more photos look like Roses", learnt from the photos the
user placed in a cluster (core/clustering/suggest.py, as Session.suggestions and
``photoclust suggest`` rank them).

A line under the grid's header says how many photos look like the one selected cluster;
"Show" puts them in the grid as a temporary result set (the search's), best first, with
Accept All, Accept (the selected ones: moved in by hand) and Not These (the selected ones
are kept out of the cluster: a cannot-link). The ranking reads every vector, so it runs in a
background task on a reader connection of its own (the vectors are read once and kept until
the embedded photos change), a moment after the selection or the library last changed; a
result that an edit overtook is thrown away and computed again, so the list follows every
accept, reject, drag and undo without freezing the window.
"""
from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy

from photoclust_app.gui.tasks import TaskRunner

log = logging.getLogger(__name__)

DELAY_MS = 250
LIMIT = 200


def read_suggestions(lib, cluster_id: int, limit: int = LIMIT, vectors=None):
    """((photo id, score) best first, the vectors read) for CLUSTER_ID: what
    Session.suggestions answers, on LIB (a reader connection, in a worker thread). VECTORS:
    what an earlier call returned, reused while the embedded photos are the same."""
    from photoclust_app.core.clustering.suggest import suggest

    version = (lib.model, lib.embedding_version())  # one count, where comparing every id took 0.24 s at 100k
    if vectors is None or vectors[2] != version:
        ids, X = lib.embedding_matrix()
        X /= np.maximum(np.sqrt(np.einsum("ij,ij->i", X, X))[:, None], 1e-12)
        vectors = (ids, X, version)
    ids, Xn = vectors[0], vectors[1]
    table = lib.assignment_table()
    kept = lib.kept_out()
    rows = [table.get(int(p), (None, 0, False)) for p in ids.tolist()]
    cid = np.array([r[0] if r[0] is not None else -1 for r in rows], dtype=np.int64)
    hand = np.array([bool(r[2]) for r in rows], dtype=bool)
    out = np.array([cluster_id in kept.get(int(p), ()) for p in ids.tolist()], dtype=bool)
    members = np.flatnonzero(cid == cluster_id)
    examples = np.flatnonzero((cid == cluster_id) & hand)
    candidates = np.flatnonzero((cid != cluster_id) & ~hand & ~out)
    found = [(int(ids[r]), s) for r, s in suggest(Xn, members, examples, candidates, limit)]
    return found, vectors


def grid_keys(event, active: bool, keys: dict) -> bool:
    """An event filter's body for one-key commands on the grid: KEYS maps a Qt key (pressed
    without Ctrl, Alt or Meta) to what it does while ACTIVE. The shortcut override is taken
    too, so a window shortcut on the same key (Delete) never swallows it."""
    from PySide6.QtCore import QEvent

    kind = event.type()
    if not active or kind not in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride):
        return False
    mods = event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                                | Qt.KeyboardModifier.MetaModifier)
    if mods or event.key() not in keys:
        return False
    if kind == QEvent.Type.ShortcutOverride:
        event.accept()
        return True
    keys[event.key()]()
    return True


class SuggestionBar(QFrame):
    """The line under the grid's header: the count and Show, or (while shown) the actions."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("suggestion-bar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)   # never widen the grid's pane (the map beside it would shrink)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.show_button = QPushButton("Show")
        self.accept_all = QPushButton("Accept All")
        self.accept = QPushButton("Accept")
        self.reject = QPushButton("Not These")
        self.done = QPushButton("Done")
        self.show_button.setToolTip("Show them in the grid, best first")
        self.accept_all.setToolTip("Put every suggested photo into the cluster (Ctrl+Z undoes it)")
        self.accept.setToolTip("Put the selected photos into the cluster (Enter)")
        self.reject.setToolTip("Not this one: keep the selected photos out of the cluster; "
                               "they stay where they are and are not suggested again (Delete)")
        self.done.setToolTip("Back to the cluster's photos")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        lay.addWidget(self.label, 1)
        for b in (self.show_button, self.accept_all, self.accept, self.reject, self.done):
            lay.addWidget(b)
        self.set_mode(False)
        self.setVisible(False)

    def set_mode(self, shown: bool) -> None:
        self.show_button.setVisible(not shown)
        for b in (self.accept_all, self.accept, self.reject, self.done):
            b.setVisible(shown)


class SuggestionsController(QObject):
    def __init__(self, win, *, delay_ms: int = DELAY_MS):
        super().__init__(win)
        self.win = win
        self.runner = TaskRunner(self)
        self.bar = SuggestionBar()
        centre = win.grid_view.parentWidget().layout()
        centre.insertWidget(centre.indexOf(win.grid_view), self.bar)
        self.cluster_id: int | None = None   # the cluster the found photos are for
        self.found: list[tuple[int, float]] = []
        self.shown_for: int | None = None    # the cluster whose suggestions the grid shows
        self._title = ""
        self._vectors = None
        self._stamp = 0
        self._done_stamp = -1
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._start)
        self._unsubscribe = None
        self._session = None
        self.runner.finished.connect(self._done)
        self.runner.failed.connect(lambda _n, msg: log.warning("Suggestions not computed: %s", msg))
        self.runner.idle.connect(self._idle)
        self.show_action = QAction("Show &Suggestions", win)
        self.show_action.setShortcut(QKeySequence("Ctrl+Shift+G"))
        self.show_action.setStatusTip("Photos that look like the selected cluster's hand-placed photos (or its members)")
        self.show_action.triggered.connect(lambda checked=False: self.show_selected())
        win.addAction(self.show_action)
        win.actions.cluster_menu_hooks.append(self._menu_hook)
        from photoclust_app.gui.corrections import window_menu

        menu = window_menu(win, "Clusters")
        if menu is not None:
            menu.insertAction(menu.actions()[0] if menu.actions() else None, self.show_action)
        self.bar.show_button.clicked.connect(lambda: self.show(self.cluster_id))
        self.bar.accept_all.clicked.connect(lambda: self.accept_all())
        self.bar.accept.clicked.connect(lambda: self.accept_selected())
        self.bar.reject.clicked.connect(lambda: self.reject_selected())
        self.bar.done.clicked.connect(lambda: self.leave())
        win.cluster_view.selectionModel().selectionChanged.connect(lambda *_: self.schedule())
        win.grid_model.modelReset.connect(self._grid_reset)
        win.stateInstalled.connect(self._bind)
        win.grid_view.installEventFilter(self)

    # -- keeping up ---------------------------------------------------------------------
    def _bind(self) -> None:
        s = self.win.session
        if s is not self._session:
            if self._unsubscribe is not None:
                self._unsubscribe()
            self._session, self._vectors = s, None
            self._unsubscribe = s.subscribe(self._on_event) if s is not None else None
        self.schedule()

    def _on_event(self, event: str, payload: dict) -> None:
        if event in ("history_changed", "reset"):
            self.schedule()

    def target(self) -> int | None:
        """The cluster to suggest for: the one shown, else the one selected cluster."""
        if self.shown_for is not None:
            return self.shown_for
        picked = self.win.selected_clusters() if self.win.session is not None else []
        return picked[0] if len(picked) == 1 and picked[0] is not None else None

    def schedule(self) -> None:
        self._stamp += 1
        if self.target() is None:
            self.cluster_id, self.found = None, []
            self._update_bar()
            return
        self._timer.start()

    def busy(self) -> bool:
        return self.runner.is_running() or self._timer.isActive() or self._done_stamp != self._stamp

    def _start(self) -> None:
        win = self.win
        cid = self.target()
        if win.library is None or cid is None:
            return
        if self.runner.is_running():
            return   # _idle starts again
        lib, stamp, vectors = win.library, self._stamp, self._vectors

        def job(ctx):
            with lib.reader() as reader:
                return lib, stamp, cid, read_suggestions(reader, cid, LIMIT, vectors)

        self.runner.start("suggestions", job)

    def _done(self, _name: str, result) -> None:
        lib, stamp, cid, (found, vectors) = result
        if lib is not self.win.library:
            return   # read from the folder open before: its vectors are not this library's
        self._vectors = vectors
        if stamp != self._stamp or self.win.session is None:
            return   # overtaken by an edit or another selection: _idle computes again
        self._done_stamp = stamp
        self.cluster_id, self.found = cid, found
        if self.shown_for == cid:
            self._show_grid()
        self._update_bar()

    def _idle(self) -> None:
        if self._done_stamp != self._stamp and not self._timer.isActive() and self.target() is not None:
            self._timer.start()

    def _update_bar(self) -> None:
        s = self.win.session
        cid = self.cluster_id
        other = self.win.grid_model.showing_results and self.shown_for is None   # a search, To review
        if s is None or cid is None or cid not in s.cluster_ids() or other or (not self.found and self.shown_for is None):
            self.bar.setVisible(False)
            return
        name = s.cluster(cid).display_name.replace("&", "&amp;").replace("<", "&lt;")
        n = len(self.found)
        if self.shown_for is not None:
            text = (f"Suggested for <i>{name}</i>: accept the photos that belong (Enter), "
                    "\u201cNot These\u201d for the rest (Delete)"
                    if n else f"No more photos look like <i>{name}</i>.")
        else:
            text = f"<b>{n}{'+' if n >= LIMIT else ''}</b> more photo{'s' if n != 1 else ''} look like <i>{name}</i>"
        self.bar.label.setText(text)
        self.bar.set_mode(self.shown_for is not None)
        self.bar.accept_all.setEnabled(bool(n) and not s.readonly)
        self.bar.setVisible(True)

    # -- the result set --------------------------------------------------------------------
    def show_selected(self) -> None:
        picked = [c for c in self.win.selected_clusters() if c is not None]
        if len(picked) != 1:
            self.win.tell("Select one cluster first: suggestions are photos that look like it.")
            return
        self.show(picked[0])

    def show(self, cluster_id: int | None) -> None:
        s = self.win.session
        if s is None or cluster_id is None or cluster_id not in s.cluster_ids():
            return
        self.shown_for = cluster_id
        if self.cluster_id == cluster_id and self._done_stamp == self._stamp:
            self._show_grid()
        else:
            self._title = f"Suggestions for \u201c{s.cluster(cluster_id).display_name}\u201d \u2014 looking\u2026"
            self.win.grid_model.show_results([], self._title)
            self.win._update_header()
            self.schedule()
        self._update_bar()

    def _show_grid(self, select_row: int | None = None) -> None:
        w, s = self.win, self.win.session
        if select_row is None:   # keep the place: the row of the first selected photo
            sel = w.grid_view.selectionModel().selectedRows()
            select_row = min((i.row() for i in sel), default=0)
        ids = [p for p, _ in self.found]
        n = len(ids)
        self._title = (f"Suggestions for \u201c{s.cluster(self.shown_for).display_name}\u201d \u2014 "
                       f"{n:,} photo{'s' if n != 1 else ''}")
        w.grid_model.show_results(ids, self._title)
        w._update_header()
        w._push_map_selection()
        if n:
            from PySide6.QtCore import QItemSelectionModel

            idx = w.grid_model.index(min(select_row, n - 1))
            w.grid_view.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        w.actions.update()

    def _grid_reset(self) -> None:
        """The grid shows something else now (a cluster was picked, a search): suggestions end."""
        if self.shown_for is not None and self.win.grid_model.results_title != self._title:
            self.shown_for = None
        self._update_bar()

    def leave(self) -> None:
        cid = self.shown_for
        self.shown_for = None
        self.win.grid_model.clear_results()
        self.win._update_header()
        self.win._push_map_selection()
        if cid is not None:
            self.win.select_clusters([cid])
        self._update_bar()

    def _act(self, ids: list[int], accept: bool) -> int:
        s, cid = self.win.session, self.shown_for
        if s is None or s.readonly or cid is None or not ids:
            return 0
        row = min((self.win.grid_model.row_of(p) for p in ids), default=0)
        name = s.cluster(cid).display_name
        n = s.move(ids, cid) if accept else s.reject(cid, ids)
        # The rows go at once; the fresh ranking (the examples changed) follows from the background.
        gone = set(ids)
        self.found = [(p, sc) for p, sc in self.found if p not in gone]
        self._show_grid(select_row=max(row, 0))
        self._update_bar()
        noun = "photo" if n == 1 else "photos"
        self.win.tell(f"{n} {noun} placed in \u201c{name}\u201d; Ctrl+Z undoes it." if accept else
                      f"{n} {noun} kept out of \u201c{name}\u201d: not suggested again; Ctrl+Z undoes it.")
        return n

    def accept_all(self) -> int:
        return self._act([p for p, _ in self.found], True)

    def accept_selected(self) -> int:
        return self._act(self.win.selected_photos(), True)

    def reject_selected(self) -> int:
        return self._act(self.win.selected_photos(), False)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        """While suggestions show: Enter accepts the selected photos, Delete keeps them out."""
        return grid_keys(event, self.shown_for is not None, {
            Qt.Key.Key_Return: self.accept_selected, Qt.Key.Key_Enter: self.accept_selected,
            Qt.Key.Key_Delete: self.reject_selected, Qt.Key.Key_Backspace: self.reject_selected})

    # -- menus --------------------------------------------------------------------------
    def _menu_hook(self, menu, cluster_id, kind) -> None:
        if kind == "cluster" and cluster_id is not None:
            n = len(self.found) if self.cluster_id == cluster_id else None
            a = menu.addAction("Show Suggestions" + (f" ({n})" if n is not None else "") + "\u2026",
                               lambda: (self.win.select_clusters([cluster_id]), self.show(cluster_id)))
            a.setEnabled(self.win.session is not None)

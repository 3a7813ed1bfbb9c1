"""The To-review list in the window: new photos placed with low confidence wait here (the
window places new photos after indexing; Session.review_items, least sure first).

A "To review (N)" button under the cluster filter appears while any wait; it shows them in
the grid as a temporary result set, each captioned with the cluster it would join, and one
key per photo settles it: Enter or A puts it into that cluster, U or Delete leaves it
Unsorted, 1-9 puts it into the list's first to ninth cluster (or drag it onto any cluster).
The next photo is selected at once, and the count follows every edit, undo and redo.
"""
from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QObject, Qt
from PySide6.QtWidgets import QPushButton

from photoclust_app.gui.suggestions import grid_keys

NUMBER_KEYS = {getattr(Qt.Key, f"Key_{n}"): n for n in range(1, 10)}


class ReviewController(QObject):
    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.items: list[tuple[int, int | None, float]] = []
        self.showing = False
        self._title = ""
        self._session = None
        self._unsubscribe = None
        self.button = QPushButton("To review")
        self.button.setObjectName("to-review")
        self.button.setToolTip("New photos photoclust was not sure about: Enter or A puts each into the cluster "
                               "it would join, U leaves it Unsorted, 1\u20139 puts it into the list's n-th cluster")
        self.button.setVisible(False)
        self.button.clicked.connect(lambda: self.show())
        left = win.cluster_view.parentWidget().layout()
        left.insertWidget(left.indexOf(win.cluster_view), self.button)
        win.stateInstalled.connect(self._bind)
        win.grid_model.modelReset.connect(self._grid_reset)
        win.grid_view.installEventFilter(self)

    def _bind(self) -> None:
        s = self.win.session
        if s is not self._session:
            if self._unsubscribe is not None:
                self._unsubscribe()
            self._session = s
            self._unsubscribe = s.subscribe(self._on_event) if s is not None else None
        self.refresh()

    def _on_event(self, event: str, payload: dict) -> None:
        if event in ("history_changed", "reset"):
            self.refresh()

    def refresh(self) -> None:
        """Read the list again (a small table); the button and the shown photos follow."""
        s = self.win.session
        self.items = s.review_items() if s is not None else []
        n = len(self.items)
        self.button.setText(f"To review ({n:,})")
        self.button.setVisible(bool(n) or self.showing)
        if self.showing:
            self._show_grid()

    def caption(self, cluster_id: int | None, confidence: float) -> str:
        s = self.win.session
        if cluster_id is None or s.cluster(cluster_id) is None:
            return "\u2192 no cluster"
        return f"\u2192 {s.cluster(cluster_id).display_name} ({100 * confidence:.0f}%)"

    def show(self) -> None:
        if self.win.session is None:
            return
        self.items = self.win.session.review_items()
        self.showing = True
        self._show_grid(select_row=0)
        self.win.grid_view.setFocus()

    def _show_grid(self, select_row: int | None = None) -> None:
        w = self.win
        if select_row is None:
            cur = w.grid_view.currentIndex()
            select_row = cur.row() if cur.isValid() else 0
        ids = [p for p, _, _ in self.items]
        n = len(ids)
        self._title = (f"To review \u2014 {n:,} photo{'s' if n != 1 else ''}: Enter or A accepts, U leaves it "
                       "Unsorted, 1\u20139 picks a cluster" if n else "To review \u2014 nothing left to review.")
        w.grid_model.show_results(ids, self._title, {p: self.caption(c, conf) for p, c, conf in self.items})
        w._update_header()
        w._push_map_selection()
        if n:
            idx = w.grid_model.index(max(0, min(select_row, n - 1)))
            w.grid_view.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            w.grid_view.scrollTo(idx)
        w.actions.update()

    def _grid_reset(self) -> None:
        if self.showing and self.win.grid_model.results_title != self._title:
            self.showing = False
            self.button.setVisible(bool(self.items))

    def _targets(self) -> list[int]:
        """The photos a key acts on: the selected ones, else the current one."""
        w = self.win
        ids = w.selected_photos()
        if not ids:
            pid = w.grid_model.photo_id(w.grid_view.currentIndex())
            ids = [pid] if pid is not None else []
        return ids

    def _settle(self, do, said: str = "") -> int:
        """Run DO(ids) on the photos pointed at; the list then moves on to the next photo;
        SAID ("{n}" for how many) goes to the status bar with what is left."""
        s = self.win.session
        ids = self._targets()
        if s is None or s.readonly or not ids:
            return 0
        row = min(self.win.grid_model.row_of(p) for p in ids)
        self.items = [it for it in self.items if it[0] not in set(ids)]
        n = do(ids)   # the history change refreshes the list; the row stays where it was
        self._show_grid(select_row=row)
        if n and said:
            left = len(self.items)
            self.win.tell(said.format(n=n, s="s" if n != 1 else "") + f"; {left:,} left to review (Ctrl+Z undoes it).")
        return n

    def accept(self) -> int:
        s = self.win.session
        ids = self._targets()
        if any(c is None for p, c, _ in s.review_items() if p in set(ids)):
            self.win.tell("No cluster to suggest for this photo: press 1\u20139 for a cluster of the list, "
                          "drag it onto one, or U to leave it Unsorted.")
            if all(c is None for p, c, _ in s.review_items() if p in set(ids)):
                return 0
        return self._settle(lambda ids: s.accept_review(ids), "{n} photo{s} put into the cluster suggested")

    def dismiss(self) -> int:
        return self._settle(lambda ids: self.win.session.dismiss_review(ids), "{n} photo{s} left Unsorted")

    def move_to(self, n: int) -> int:
        """Put the photos into the N-th cluster of the list (1-based, as shown)."""
        w = self.win
        shown = [c for r, c in enumerate(w.session.cluster_ids()) if not w.cluster_view.isRowHidden(r)]
        if not 1 <= n <= len(shown):
            w.tell(f"The list has no cluster {n}.")
            return 0
        cid = shown[n - 1]
        name = w.session.cluster(cid).display_name
        return self._settle(lambda ids: w.session.move(ids, cid), f"{{n}} photo{{s}} put into \u201c{name}\u201d")

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        keys = {Qt.Key.Key_Return: self.accept, Qt.Key.Key_Enter: self.accept, Qt.Key.Key_A: self.accept,
                Qt.Key.Key_U: self.dismiss, Qt.Key.Key_Delete: self.dismiss, Qt.Key.Key_Backspace: self.dismiss}
        keys.update({k: (lambda n=n: self.move_to(n)) for k, n in NUMBER_KEYS.items()})
        return grid_keys(event, self.showing and bool(self.items), keys)

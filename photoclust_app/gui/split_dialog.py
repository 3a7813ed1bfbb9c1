"""Split by Example: the user picks a few photos of a cluster for each side (two or more),
sees the division, and applies it as one undoable split.

The dialog shows the cluster's photos; "Side 1", "Side 2", ... put the selected photos on a
side (a coloured caption), and every change previews the division in a background task
(clustering/plan.compute_split_by_example on a reader connection, names left out: it writes
nothing and takes a matrix product): each photo is tinted with the side it would go to and
the counts per side are listed. Bad picks are the core's sentence. Apply computes the same
split, named, in the engine (as Split Cluster does) and the window applies it: the picks
become hand placements of their side, Ctrl+Z puts the cluster back.
"""
from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QDialog, QDialogButtonBox, QHBoxLayout, QLabel,
                               QListView, QPushButton, QStyle, QStyledItemDelegate, QVBoxLayout)

from photoclust_app.gui.tasks import TaskRunner

SIDE_COLOURS = [QColor(52, 120, 246), QColor(230, 90, 40), QColor(30, 160, 90), QColor(160, 80, 200),
                QColor(200, 160, 0), QColor(0, 160, 170)]
MAX_SIDES = len(SIDE_COLOURS)
PREVIEW_MS = 150
THUMB = 96
CELL = QSize(THUMB + 12, THUMB + 28)
PickRole = Qt.ItemDataRole.UserRole + 1      # the side the user put the photo on, or None
PreviewRole = Qt.ItemDataRole.UserRole + 2   # the side the preview sends it to, or None


def side_colour(k: int, alpha: int = 255) -> QColor:
    c = QColor(SIDE_COLOURS[k % MAX_SIDES])
    c.setAlpha(alpha)
    return c


class PickModel(QAbstractListModel):
    """The cluster's photos, each with its pick (the side the user put it on) and the side
    the preview sends it to."""

    def __init__(self, session, photo_ids: list[int], thumbnails, parent=None):
        super().__init__(parent)
        self.session, self.thumbnails = session, thumbnails
        self.ids = list(photo_ids)
        self.picks: dict[int, int] = {}     # photo -> side (0-based)
        self.preview: dict[int, int] = {}   # photo -> side, from the last preview
        self._rows = {p: r for r, p in enumerate(self.ids)}
        if thumbnails is not None:
            thumbnails.loaded.connect(self._loaded)

    def _loaded(self, photo_id: int) -> None:
        r = self._rows.get(photo_id)
        if r is not None:
            self.dataChanged.emit(self.index(r), self.index(r), [Qt.ItemDataRole.DecorationRole])

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 (Qt name)
        return 0 if parent.isValid() else len(self.ids)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.ids):
            return None
        pid = self.ids[index.row()]
        pick, goes = self.picks.get(pid), self.preview.get(pid)
        if role == Qt.ItemDataRole.DisplayRole:
            if pick is not None:
                return f"\u2605 Side {pick + 1}"
            return f"\u2192 {goes + 1}" if goes is not None else ""
        if role == Qt.ItemDataRole.DecorationRole:
            from photoclust_app.gui.thumbnails import placeholder

            pm = self.thumbnails.pixmap(pid) if self.thumbnails is not None else None
            return pm if pm is not None else placeholder()
        if role == Qt.ItemDataRole.BackgroundRole:
            if pick is not None:
                return side_colour(pick, 200)
            return side_colour(goes, 60) if goes is not None else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.session.relpath(pid)
        if role == PickRole:
            return pick
        if role == PreviewRole:
            return goes
        return None

    def set_picks(self, photo_ids, side: int | None) -> None:
        for p in photo_ids:
            if side is None:
                self.picks.pop(p, None)
            else:
                self.picks[p] = side
        self._all_changed()

    def set_preview(self, sides: dict[int, int]) -> None:
        self.preview = dict(sides)
        self._all_changed()

    def sort_by_side(self, on: bool) -> None:
        self.beginResetModel()
        order = sorted(self.ids, key=lambda p: (self.picks.get(p, self.preview.get(p, MAX_SIDES)), p)) if on \
            else sorted(self.ids)
        self.ids, self._rows = order, {p: r for r, p in enumerate(order)}
        self.endResetModel()

    def sides(self, n: int) -> list[list[int]]:
        return [[p for p in self.ids if self.picks.get(p) == k] for k in range(n)]

    def _all_changed(self) -> None:
        if self.ids:
            self.dataChanged.emit(self.index(0), self.index(len(self.ids) - 1))


class PickDelegate(QStyledItemDelegate):
    """A thumbnail fitted in its square; a picked photo gets a thick frame of its side's
    colour, and every photo a band under it saying where the preview sends it."""

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 (Qt name)
        return QSize(CELL)

    def paint(self, p: QPainter, option, index) -> None:
        r = option.rect
        pick, goes = index.data(PickRole), index.data(PreviewRole)
        p.save()
        if option.state & QStyle.StateFlag.State_Selected:
            p.fillRect(r, option.palette.highlight())
        box = QRect(r.left() + (r.width() - THUMB) // 2, r.top() + 4, THUMB, THUMB)
        pm = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pm, QPixmap) and not pm.isNull():
            fit = pm.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(box.left() + (THUMB - fit.width()) // 2, box.top() + (THUMB - fit.height()) // 2,
                           fit.width(), fit.height())
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawPixmap(target, pm)
        side = pick if pick is not None else goes
        band = QRect(r.left() + 4, box.bottom() + 4, r.width() - 8, r.bottom() - box.bottom() - 6)
        if pick is not None:
            p.setPen(QPen(side_colour(pick), 4))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(box.adjusted(-1, -1, 1, 1))
        if side is not None:
            p.fillRect(band, side_colour(side, 255 if pick is not None else 90))
            p.setPen(QColor(255, 255, 255) if pick is not None else option.palette.text().color())
            p.drawText(band, Qt.AlignmentFlag.AlignCenter, index.data(Qt.ItemDataRole.DisplayRole) or "")
        p.restore()


def preview_split(lib, cluster_id: int, sides: list[list[int]]) -> dict[int, int]:
    """photo -> side (index into SIDES) for the split these picks make; raises the core's
    PhotoclustError on bad picks. Pure reads (a reader connection, in a worker thread)."""
    from photoclust_app.core.clustering.plan import compute_split_by_example

    plan = compute_split_by_example(lib, cluster_id, sides, namer=None)
    labels = {int(p): int(lab) for p, lab in zip(plan.photo_ids.tolist(), plan.labels.tolist())}
    side_of = {}
    for k, side in enumerate(s for s in sides if s):   # the core numbers the non-empty sides
        side_of.setdefault(labels[side[0]], k)
    kept = [k for k, s in enumerate(sides) if s]       # back to the dialog's own side numbers
    return {p: kept[side_of[lab]] for p, lab in labels.items() if lab in side_of}


class SplitByExampleDialog(QDialog):
    applied = Signal(int)   # the cluster whose split was handed to the window

    def __init__(self, win, cluster_id: int, *, preview_ms: int = PREVIEW_MS):
        super().__init__(win)
        self.win, self.cluster_id = win, cluster_id
        s = self.session = win.session
        name = s.cluster(cluster_id).display_name
        self.setWindowTitle(f"Split \u201c{name}\u201d by example")
        self.resize(860, 640)
        self.model = PickModel(s, s.members(cluster_id), win.thumbnails, self)
        self.n_sides = 2
        self.result: dict[int, int] | None = None
        self._stamp = 0
        self.runner = TaskRunner(self)
        self.runner.finished.connect(self._previewed)
        self.runner.failed.connect(self._failed)
        self.runner.idle.connect(self._idle)
        self._done_stamp = -1
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(preview_ms)
        self._timer.timeout.connect(self._start)

        intro = QLabel(f"Pick a few photos of \u201c{name}\u201d for each side: select them, then press the side's "
                       "button. Every other photo goes to the side it looks most like; the tint shows where.")
        intro.setWordWrap(True)
        self.view = QListView()
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setGridSize(CELL + QSize(4, 4))
        self.view.setUniformItemSizes(True)
        self.view.setItemDelegate(PickDelegate(self.view))
        self.view.setSpacing(2)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setModel(self.model)
        self.side_row = QHBoxLayout()
        self.side_buttons: list[QPushButton] = []
        self.add_side = QPushButton("+ Add a Side")
        self.add_side.clicked.connect(self.add_a_side)
        self.unpick = QPushButton("Unpick")
        self.unpick.setToolTip("Take the selected photos off their side")
        self.unpick.clicked.connect(lambda: self.pick(None))
        self.sort = QCheckBox("Group by side")
        self.sort.toggled.connect(self.model.sort_by_side)
        self.counts = QLabel()
        self.counts.setObjectName("split-preview")
        self.counts.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.apply_button = self.buttons.addButton("Apply Split", QDialogButtonBox.ButtonRole.AcceptRole)
        self.apply_button.setEnabled(False)
        self.buttons.accepted.connect(self.apply)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.view, 1)
        row = QHBoxLayout()
        row.addLayout(self.side_row)
        row.addWidget(self.add_side)
        row.addWidget(self.unpick)
        row.addStretch(1)
        row.addWidget(self.sort)
        lay.addLayout(row)
        lay.addWidget(self.counts)
        lay.addWidget(self.buttons)
        for _ in range(self.n_sides):
            self._add_button()
        self._show_counts()

    # -- picking ---------------------------------------------------------------------------
    def _add_button(self) -> None:
        k = len(self.side_buttons)
        b = QPushButton()
        b.setStyleSheet(f"QPushButton {{ border-left: 6px solid {side_colour(k).name()}; padding: 3px 8px; }}")
        b.setToolTip(f"Put the selected photos on side {k + 1}")
        b.clicked.connect(lambda checked=False, k=k: self.pick(k))
        self.side_buttons.append(b)
        self.side_row.addWidget(b)
        self._label_buttons()

    def _label_buttons(self) -> None:
        for k, b in enumerate(self.side_buttons):
            n = sum(1 for v in self.model.picks.values() if v == k)
            b.setText(f"Side {k + 1}" + (f" ({n})" if n else ""))

    def add_a_side(self) -> None:
        if self.n_sides < MAX_SIDES:
            self.n_sides += 1
            self._add_button()
        self.add_side.setEnabled(self.n_sides < MAX_SIDES)

    def selected(self) -> list[int]:
        return [self.model.ids[i.row()] for i in sorted(self.view.selectionModel().selectedIndexes(),
                                                       key=lambda i: i.row())]

    def pick(self, side: int | None, photo_ids: list[int] | None = None) -> None:
        """Put PHOTO_IDS (default: the selected photos) on SIDE (None: on no side)."""
        ids = self.selected() if photo_ids is None else list(photo_ids)
        if not ids:
            self.counts.setText("Select some photos first, then press a side's button.")
            return
        self.model.set_picks(ids, side)
        self._label_buttons()
        self.view.clearSelection()
        self._stamp += 1
        self.result = None
        self.apply_button.setEnabled(False)
        self._timer.start()

    # -- the preview -------------------------------------------------------------------------
    def busy(self) -> bool:
        return self.runner.is_running() or self._timer.isActive() or self._done_stamp != self._stamp

    def _gone(self) -> bool:
        """The window opened another folder (or the cluster went, by an undo): close."""
        if self.win.session is not self.session or self.cluster_id not in self.session.cluster_ids():
            self.reject()
            return True
        return False

    def _start(self) -> None:
        if self.runner.is_running():
            return   # _idle starts again
        if self._gone():
            return
        lib, cid, stamp, sides = self.win.library, self.cluster_id, self._stamp, self.model.sides(self.n_sides)
        if not any(sides):   # nothing to preview yet: say what is missing, without a task
            self._done_stamp = stamp
            self.model.set_preview({})
            self._show_counts()
            return

        def job(ctx):
            with lib.reader() as reader:
                return stamp, preview_split(reader, cid, sides)

        self.runner.start("split-preview", job)

    def _previewed(self, _name: str, result) -> None:
        stamp, division = result
        if stamp != self._stamp:
            return
        self._done_stamp = stamp
        self.result = division
        self.model.set_preview(division)
        if self.sort.isChecked():
            self.model.sort_by_side(True)
        self._show_counts()

    def _failed(self, _name: str, message: str) -> None:
        self._done_stamp = self._stamp
        self.result = None
        self.model.set_preview({})
        self.counts.setText(message)
        self.counts.setStyleSheet("color: #b00020;")
        self.apply_button.setEnabled(False)

    def _idle(self) -> None:
        if self._done_stamp != self._stamp and not self._timer.isActive():
            self._timer.start()

    def _show_counts(self) -> None:
        self.counts.setStyleSheet("")
        if self.result is None:
            picked = sum(1 for s in self.model.sides(self.n_sides) if s)
            self.counts.setText("Pick at least one photo for each of two sides to see the division."
                                if picked < 2 else "Working out the division\u2026")
            self.apply_button.setEnabled(False)
            return
        sizes = [sum(1 for v in self.result.values() if v == k) for k in range(self.n_sides)]
        parts = [f"<span style='color:{side_colour(k).name()}'>\u25a0</span> Side {k + 1}: "
                 f"<b>{n}</b> photo{'s' if n != 1 else ''}" for k, n in enumerate(sizes) if n]
        self.counts.setText("Preview \u2014 " + " \u00b7 ".join(parts) + ". Side 1 keeps the cluster's name.")
        self.apply_button.setEnabled(sum(1 for n in sizes if n) >= 2 and not self.win.session.readonly)

    # -- applying ---------------------------------------------------------------------------
    def apply(self) -> bool:
        """Hand the split to the window (the engine names the new pieces); closes on success."""
        w = self.win
        if self.result is None or self.busy() or self._gone():
            return False
        if w.runner.is_running():
            self.counts.setText("The window is busy with another task; apply again when it is done.")
            return False
        lib, engine, cid, device = w.library, w.engine, self.cluster_id, w.device
        sides = [s for s in self.model.sides(self.n_sides) if s]

        def job(ctx):
            ctx.progress(0, 0, "split")
            plan = engine.call("split_by_example", str(lib.folder), device, cid, sides,
                               progress=ctx.progress, cancel=ctx.cancelled)
            ctx.check_cancel()
            return plan

        if not w.runner.start("split", job):
            return False
        w.progress.begin("Splitting\u2026")
        w.actions.update()
        name = self.session.cluster(cid).display_name

        def said(task: str, outcome: str) -> None:
            if task == "split":
                w.taskEnded.disconnect(said)
                if outcome == "finished":
                    w.tell(f"Split \u201c{name}\u201d by your examples into {len(sides)}; Ctrl+Z puts it back.")

        w.taskEnded.connect(said)
        self.applied.emit(cid)
        self.accept()
        return True

    def done(self, r: int) -> None:
        self.runner.cancel()
        self.runner.wait(2000)
        super().done(r)


def open_split_dialog(win, cluster_id: int | None = None):
    """Split by Example for CLUSTER_ID (default: the one selected cluster); returns the dialog."""
    s = win.session
    if cluster_id is None:
        picked = [c for c in win.selected_clusters() if c is not None] if s is not None else []
        cluster_id = picked[0] if len(picked) == 1 else None
    if s is None or cluster_id is None or cluster_id not in s.cluster_ids():
        win.tell("Select one cluster first: Split by Example divides it by photos you pick for each side.")
        return None
    if s.cluster(cluster_id).size < 2:
        win.tell("A cluster needs at least two photos to split.")
        return None
    dialog = SplitByExampleDialog(win, cluster_id)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    win._split_dialog = dialog
    return dialog


def install_split_by_example(win) -> None:
    """Split by Example… in the Edit menu (after Split Cluster) and the cluster's context menu."""
    from PySide6.QtGui import QAction

    from photoclust_app.gui.corrections import window_menu

    action = QAction("Split by E&xample\u2026", win)
    action.setStatusTip("Pick a few photos for each side; every other photo goes to the side it looks most like")
    action.triggered.connect(lambda checked=False: open_split_dialog(win))
    win.split_by_example_action = action
    menu = window_menu(win, "Edit")
    if menu is not None:
        acts = menu.actions()
        at = acts.index(win.actions.split) + 1 if win.actions.split in acts else len(acts)
        menu.insertAction(acts[at] if at < len(acts) else None, action)

    def hook(menu, cluster_id, kind):
        if kind == "cluster" and cluster_id is not None:
            a = menu.addAction("Split by Example\u2026", lambda: open_split_dialog(win, cluster_id))
            a.setEnabled(win.session is not None and not win.session.readonly and not win.runner.is_running())

    win.actions.cluster_menu_hooks.append(hook)

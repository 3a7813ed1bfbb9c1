"""The duplicates review: groups side by side, the suggested keeper and its rule, keep-best.

A non-modal dialog over the window's Session. Finding runs as a task on its own read-only
connection (``library.reader()``: the worker never shares the window's); each group is a row
of cards (thumbnail, size, resolution, format, date, folder, sharpness) with the suggested
keeper checked and framed and the rule that chose it above; another card can be chosen as the
keeper. "Keep best" (all groups, or one) moves the other copies to the trash or a chosen
folder through core.dedupe (journalled; "Undo last removal" puts them back); the library then
forgets them on the window's connection and the session reloads. The near-identical slider
(embedding cosine) and the burst window re-run the search.
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Signal

from photoclust_app.core import dedupe
from photoclust_app.core.dedupe.find import BURST_WINDOW, Group
from photoclust_app.core.dedupe.keeper import BURST_RULE_TEXT, RULE_TEXT
from photoclust_app.core.display import printable_path
from photoclust_app.gui.tasks import TaskRunner

log = logging.getLogger(__name__)

THUMB = 150
MAX_SHOWN = 200       # groups laid out at once; the rest are counted
KIND_TEXT = {"identical": "Identical copies", "near": "Near-identical copies", "burst": "Burst"}


def human_size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def member_text(m: dedupe.Member) -> str:
    when = m.taken_at.replace("T", " ") if m.taken_at else time.strftime("%Y-%m-%d %H:%M", time.localtime(m.mtime_ns / 1e9))
    sharp = "n/a" if m.sharpness is None else f"{m.sharpness:.0f}"
    return "\n".join([f"{m.width}\u00d7{m.height} \u00b7 {m.format}", human_size(m.size), when,
                      printable_path(m.folder if m.folder != "." else "(top folder)"), f"sharpness {sharp}"])


class _Card(QtWidgets.QFrame):
    """One photo of a group: thumbnail, facts, and 'Keep this'."""

    def __init__(self, member: dedupe.Member, image: QtGui.QImage | None, keeper: bool, buttons: QtWidgets.QButtonGroup):
        super().__init__()
        self.member = member
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        pic = QtWidgets.QLabel()
        pic.setFixedSize(THUMB, THUMB)
        pic.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if image is not None and not image.isNull():
            pic.setPixmap(QtGui.QPixmap.fromImage(image.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                                                Qt.TransformationMode.SmoothTransformation)))
        else:
            pic.setText("(no thumbnail)")
        lay.addWidget(pic)
        name = QtWidgets.QLabel(printable_path(Path(member.relpath).name))
        name.setToolTip(printable_path(member.relpath))
        name.setMaximumWidth(THUMB)
        lay.addWidget(name)
        self.facts = QtWidgets.QLabel(member_text(member))
        lay.addWidget(self.facts)
        self.keep = QtWidgets.QRadioButton("Keep this")
        buttons.addButton(self.keep, member.id)
        self.keep.setChecked(keeper)
        lay.addWidget(self.keep)
        self.keep.toggled.connect(self._mark)
        self._mark(keeper)

    def _mark(self, on: bool) -> None:
        self.setStyleSheet("_Card { border: 3px solid #2e9d4f; border-radius: 4px; }" if on else
                           "_Card { border: 1px solid #999; border-radius: 4px; }")


class _GroupBox(QtWidgets.QGroupBox):
    keepBest = Signal(object)     # the group, with the keeper the user chose

    def __init__(self, group: Group, images: dict[int, QtGui.QImage | None]):
        super().__init__()
        self.group = group
        lay = QtWidgets.QVBoxLayout(self)
        freed = "" if group.kind == "burst" else f" \u2014 frees {human_size(sum(m.size for m in group.copies))}"
        keeper = printable_path(Path(group.members[0].relpath).name).replace("<", "&lt;")
        why = group.why.replace("<", "&lt;")
        head = QtWidgets.QLabel(f"<b>{KIND_TEXT[group.kind]}</b> ({len(group.members)}) \u2014 suggested keeper "
                                f"<b>{keeper}</b>: {why}{freed}")
        head.setWordWrap(True)
        head.setTextFormat(Qt.TextFormat.RichText)
        self.head = head
        row = QtWidgets.QHBoxLayout()
        row.addWidget(head, 1)
        self.keep_button = QtWidgets.QPushButton("Keep best in this group")
        self.keep_button.clicked.connect(lambda: self.keepBest.emit(self.chosen()))
        row.addWidget(self.keep_button)
        lay.addLayout(row)
        cards = QtWidgets.QHBoxLayout()
        self.buttons = QtWidgets.QButtonGroup(self)
        self.cards = [_Card(m, images.get(m.id), m.id == group.keeper, self.buttons) for m in group.members]
        for c in self.cards:
            cards.addWidget(c)
        cards.addStretch(1)
        lay.addLayout(cards)

    def chosen(self) -> Group:
        """The group with the keeper the user checked (first in members)."""
        pid = self.buttons.checkedId()
        if pid in (-1, self.group.keeper):
            return self.group
        ms = sorted(self.group.members, key=lambda m: m.id != pid)
        return replace(self.group, members=ms, keeper=pid, why="chosen by you")


class DuplicatesDialog(QtWidgets.QDialog):
    """Review duplicate groups of a session's library and keep the best copy of each."""

    groupsShown = Signal(int)
    removalFinished = Signal(object)   # RemovalReport
    undoFinished = Signal(object)      # RestoreReport

    def __init__(self, session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Duplicates and bursts")
        self.resize(1100, 760)
        self._session = session
        self._groups: list[Group] = []
        self._boxes: list[_GroupBox] = []
        self._manifest: Path | None = None
        self._dest: Path | None = None
        self._learned: list = []
        self._runner = TaskRunner(self)
        self._runner.finished.connect(self._on_finished)
        self._runner.failed.connect(lambda _n, msg: self._say(msg))
        self._runner.cancelled.connect(lambda _n, msg: self._say(msg))
        self._runner.progress.connect(self._on_progress)
        self._build()

    # -- layout --------------------------------------------------------------------------
    def _build(self) -> None:
        lay = QtWidgets.QVBoxLayout(self)
        bar = QtWidgets.QHBoxLayout()
        self.kind = QtWidgets.QComboBox()
        self.kind.addItem("Copies (identical and near-identical)", ("identical", "near"))
        self.kind.addItem("Bursts", ("burst",))
        self.kind.currentIndexChanged.connect(lambda _i: self.find())
        bar.addWidget(self.kind)
        bar.addWidget(QtWidgets.QLabel("  Near-identical from cosine"))
        self.threshold = QtWidgets.QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(70, 99)
        self.threshold.setFixedWidth(160)
        self.threshold.setValue(round(100 * dedupe.default_threshold(self._session.library.model)))
        self.threshold.setToolTip("How alike the embeddings of two photos must be to be checked as the same "
                                  "picture (with a perceptual hash); lower finds more, and more wrongly.")
        self.threshold_label = QtWidgets.QLabel()
        self.threshold.valueChanged.connect(self._threshold_moved)
        self.threshold.sliderReleased.connect(self.find)
        bar.addWidget(self.threshold)
        bar.addWidget(self.threshold_label)
        bar.addWidget(QtWidgets.QLabel("  Burst window"))
        self.window = QtWidgets.QDoubleSpinBox()
        self.window.setRange(0.1, 600)
        self.window.setDecimals(1)
        self.window.setSuffix(" s")
        self.window.setValue(BURST_WINDOW)
        self.window.editingFinished.connect(self.find)
        bar.addWidget(self.window)
        self.find_button = QtWidgets.QPushButton("Find")
        self.find_button.clicked.connect(self.find)
        bar.addWidget(self.find_button)
        bar.addStretch(1)
        lay.addLayout(bar)
        self._threshold_moved(self.threshold.value())

        self.summary = QtWidgets.QLabel("")
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        self.rule = QtWidgets.QLabel(f"Keeper rule: {RULE_TEXT}. Bursts: {BURST_RULE_TEXT}.")
        self.rule.setWordWrap(True)
        lay.addWidget(self.rule)

        self.scroll = QtWidgets.QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.inner = QtWidgets.QWidget()
        self.inner_lay = QtWidgets.QVBoxLayout(self.inner)
        self.inner_lay.addStretch(1)
        self.scroll.setWidget(self.inner)
        lay.addWidget(self.scroll, 1)

        self.progress = QtWidgets.QProgressBar()
        self.progress.hide()
        lay.addWidget(self.progress)
        foot = QtWidgets.QHBoxLayout()
        self.target = QtWidgets.QComboBox()
        self.target.addItem("Move the other copies to the Trash", "trash")
        self.target.addItem("Move the other copies to a folder\u2026", "folder")
        self.target.activated.connect(self._target_chosen)
        foot.addWidget(self.target)
        self.keep_all = QtWidgets.QPushButton("Keep best in all groups")
        self.keep_all.clicked.connect(lambda: self.keep_best([b.chosen() for b in self._boxes] + self._groups[MAX_SHOWN:]))
        foot.addWidget(self.keep_all)
        self.undo_button = QtWidgets.QPushButton("Undo last removal")
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(self.undo_last)
        foot.addWidget(self.undo_button)
        foot.addStretch(1)
        self.message = QtWidgets.QLabel("")
        self.message.setWordWrap(True)
        foot.addWidget(self.message, 2)
        close = QtWidgets.QPushButton("Close")
        close.clicked.connect(self.reject)
        foot.addWidget(close)
        lay.addLayout(foot)
        self._update_buttons()

    def _threshold_moved(self, v: int) -> None:
        self.threshold_label.setText(f"{v / 100:.2f}")

    def _target_chosen(self, index: int) -> None:
        if self.target.itemData(index) == "folder":
            d = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder for the removed copies", str(Path.home()))
            if d:
                self.set_destination(Path(d))
            else:
                self.target.setCurrentIndex(0)

    def set_destination(self, folder: Path | None) -> None:
        """Where keep-best moves copies: a folder, or None for the trash."""
        self._dest = folder
        self.target.setCurrentIndex(1 if folder else 0)
        if folder:
            self.target.setItemText(1, f"Move the other copies to {printable_path(str(folder))}")

    def _say(self, text: str) -> None:
        self.progress.hide()
        self.message.setText(text)
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self._runner.is_running()
        self.find_button.setEnabled(not busy)
        self.keep_all.setEnabled(not busy and any(g.copies for g in self._groups))
        self.undo_button.setEnabled(not busy and self._manifest is not None)
        for b in self._boxes:
            b.keep_button.setEnabled(not busy)

    def _on_progress(self, done: int, total: int, stage: str) -> None:
        self.progress.show()
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(f"{stage} %v/%m")

    # -- finding -------------------------------------------------------------------------
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.kind.currentData())

    def settings(self) -> dedupe.Settings:
        s = dedupe.Settings(near_threshold=self.threshold.value() / 100, kinds=self.kinds())
        s.burst_window = float(self.window.value())
        return s

    def find(self) -> bool:
        """Search again with the controls' settings (a task); False when one is running."""
        if self._runner.is_running():
            return False
        lib, settings = self._session.library, self.settings()

        learned = self._learned = []

        def job(ctx):
            reader = lib.reader()
            try:
                return dedupe.find_duplicates(reader, settings, progress=ctx.progress, cache=False, learned=learned)
            finally:
                reader.close()

        self.message.setText("Looking for duplicates\u2026")
        started = self._runner.start("find", job)
        self._update_buttons()
        return started

    def _on_finished(self, name: str, result) -> None:
        self.progress.hide()
        if name == "find":
            if self._learned:   # hashes worked out in the worker: cached on the window's connection
                self._session.library.set_photo_facts(self._learned)
                self._learned = []
            if set(self.kinds()) == {"identical", "near"}:   # the mosaic and export honour the last groups
                self._session.library.set_duplicate_groups((g.kind, g.keeper, [m.id for m in g.members])
                                                           for g in result)
                self._session.reload()
            self.show_groups(result)
            self.message.setText("")
        elif name == "remove":
            self._after_removal(result)
        elif name == "undo":
            self._manifest = None
            self._session.reload()
            self.message.setText(f"Put back {result.restored} copies"
                                 + (f"; {len(result.refused)} left alone" if result.refused else "")
                                 + ". Re-index to bring them into the library again.")
            self.undoFinished.emit(result)
            self.find()
        self._update_buttons()

    def _image(self, pid: int) -> QtGui.QImage | None:
        data = self._session.library.thumbnail(pid)
        if not data:
            return None
        img = QtGui.QImage()
        return img if img.loadFromData(data) else None

    def show_groups(self, groups: list[Group]) -> None:
        for b in self._boxes:
            b.setParent(None)
            b.deleteLater()
        self._groups = list(groups)
        self._boxes = []
        for g in self._groups[:MAX_SHOWN]:
            box = _GroupBox(g, {m.id: self._image(m.id) for m in g.members})
            box.keepBest.connect(lambda grp: self.keep_best([grp]))
            self.inner_lay.insertWidget(self.inner_lay.count() - 1, box)
            self._boxes.append(box)
        copies = sum(len(g.copies) for g in self._groups)
        freed = sum(m.size for g in self._groups for m in g.copies)
        more = f" (the first {MAX_SHOWN} are shown)" if len(self._groups) > MAX_SHOWN else ""
        if not self._groups:
            self.summary.setText("No duplicates found with these settings.")
        elif self.kinds() == ("burst",):
            self.summary.setText(f"{len(self._groups)} burst{'s' if len(self._groups) != 1 else ''}{more}; "
                                 "keeping the best frame of each moves "
                                 f"{copies} frames ({human_size(freed)}).")
        else:
            self.summary.setText(f"{len(self._groups)} group{'s' if len(self._groups) != 1 else ''}{more}: "
                                 f"{copies} extra cop{'ies' if copies != 1 else 'y'}, {human_size(freed)}.")
        self._update_buttons()
        self.groupsShown.emit(len(self._groups))

    # -- removing ------------------------------------------------------------------------
    def keep_best(self, groups: list[Group]) -> bool:
        """Move every copy but each group's keeper away (a task); the library forgets them."""
        groups = [g for g in groups if g.copies]
        if not groups or self._runner.is_running():
            return False
        lib = self._session.library
        try:
            plan = dedupe.plan_removal(lib.folder, groups, to=self._dest, to_trash=self._dest is None,
                                       home=lib.path.parent, all_relpaths=list(lib.relpaths().values()))
        except dedupe.RemovalRefused as err:
            self._say(str(err))
            return False

        def job(ctx):
            return dedupe.run_removal(plan, progress=ctx.progress)

        self.message.setText("Moving copies\u2026")
        self._runner.start("remove", job, discard_if_cancelled=False)
        self._update_buttons()
        return True

    def _after_removal(self, report) -> None:
        dedupe.forget_removed(self._session.library, report)
        self._session.reload()
        self._manifest = report.manifest if report.removed else None
        where = "the Trash" if self._dest is None else printable_path(str(self._dest))
        kept = f"; {len(report.kept)} left where they are ({report.kept[0][1]})" if report.kept else ""
        self.message.setText(f"Moved {len(report.removed)} copies ({human_size(report.freed)}) to {where}{kept}.")
        gone = {c.id for c, _, _ in report.removed}
        left = []
        for g in self._groups:
            ms = [m for m in g.members if m.id not in gone]
            if len(ms) > 1:
                left.append(replace(g, members=ms))
        self.show_groups(left)
        self.removalFinished.emit(report)

    def undo_last(self) -> bool:
        if self._manifest is None or self._runner.is_running():
            return False
        manifest = self._manifest

        def job(ctx):
            return dedupe.undo_removal(manifest, progress=ctx.progress)

        self._runner.start("undo", job, discard_if_cancelled=False)
        self._update_buttons()
        return True

    def is_running(self) -> bool:
        return self._runner.is_running()

    def reject(self) -> None:
        if self._runner.is_running():
            self._runner.cancel()
            self._runner.wait(5000)
        super().reject()

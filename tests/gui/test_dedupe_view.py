"""The duplicates review over a Session: groups side by side with their facts, the suggested
keeper and its rule, a keeper chosen by hand, keep-best per group and for all, the threshold
slider and burst window, and undo."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil  # noqa: E402

import pytest  # noqa: E402

from photoclust_app.core.editing.session import Session  # noqa: E402
from photoclust_app.core.store.library import Library  # noqa: E402
from photoclust_app.gui.dedupe_view import DuplicatesDialog  # noqa: E402
from tests.unit.test_dedupe import build_library  # noqa: E402


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    root = tmp_path_factory.mktemp("review") / "photos"
    root.mkdir()
    build_library(root)
    return root


@pytest.fixture
def dialog(template, tmp_path, qtbot, monkeypatch):
    folder = tmp_path / "photos"
    shutil.copytree(template, folder, copy_function=shutil.copy2)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    lib = Library.open(folder)
    session = Session(lib)
    dlg = DuplicatesDialog(session)
    qtbot.addWidget(dlg)
    yield dlg
    dlg.reject()
    lib.close()


def _found(dlg, qtbot):
    with qtbot.waitSignal(dlg.groupsShown, timeout=30_000):
        assert dlg.find()
    qtbot.waitUntil(lambda: not dlg.is_running(), timeout=10_000)
    return dlg._boxes


def test_groups_side_by_side_with_facts_and_the_suggested_keeper(dialog, qtbot):
    boxes = _found(dialog, qtbot)
    kinds = sorted(b.group.kind for b in boxes)
    assert kinds == ["identical", "near"]
    near = next(b for b in boxes if b.group.kind == "near")
    assert len(near.cards) == 4
    first = near.cards[0]
    assert first.member.relpath == "a/two.jpg" and first.keep.isChecked()
    assert sum(c.keep.isChecked() for c in near.cards) == 1
    assert "320\u00d7240 \u00b7 JPG" in first.facts.text() and "sharpness" in first.facts.text()
    assert any("160\u00d7120" in c.facts.text() for c in near.cards)
    assert "b" in near.cards[1].facts.text().splitlines()[3]          # the folder
    assert "suggested keeper" in near.head.text() and "earliest" in near.head.text()
    assert "Keeper rule:" in dialog.rule.text()
    assert "2 groups: 4 extra copies" in dialog.summary.text()


def test_slider_and_burst_window_search_again(dialog, qtbot):
    _found(dialog, qtbot)
    dialog.kind.setCurrentIndex(1)                       # bursts (starts a search itself)
    qtbot.waitUntil(lambda: not dialog.is_running() and dialog._groups and dialog._groups[0].kind == "burst",
                    timeout=30_000)
    assert [len(g.members) for g in dialog._groups] == [3]
    dialog.window.setValue(0.5)
    boxes = _found(dialog, qtbot)
    assert boxes == [] and "No duplicates" in dialog.summary.text()
    dialog.kind.setCurrentIndex(0)
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=30_000)
    dialog.threshold.setValue(99)
    assert dialog.settings().near_threshold == 0.99 and dialog.threshold_label.text() == "0.99"


def test_keep_best_in_one_group_with_a_hand_chosen_keeper_then_undo(dialog, qtbot, tmp_path):
    folder = dialog._session.folder
    boxes = _found(dialog, qtbot)
    near = next(b for b in boxes if b.group.kind == "near")
    png = next(c for c in near.cards if c.member.relpath == "b/two.png")
    png.keep.setChecked(True)                            # the user prefers the PNG
    with qtbot.waitSignal(dialog.removalFinished, timeout=30_000) as sig:
        near.keep_button.click()
    report = sig.args[0]
    assert {c.relpath for c, _, _ in report.removed} == {"a/two.jpg", "b/two small.jpg", "b/two q60.jpg"}
    assert (folder / "b" / "two.png").exists() and not (folder / "a" / "two.jpg").exists()
    assert len(list((tmp_path / "xdg" / "Trash" / "files").iterdir())) == 3
    assert "a/two.jpg" not in set(dialog._session.library.relpaths().values())
    assert [b.group.kind for b in dialog._boxes] == ["identical"]      # the handled group is gone
    assert dialog.undo_button.isEnabled()
    with qtbot.waitSignal(dialog.undoFinished, timeout=30_000):
        dialog.undo_button.click()
    assert (folder / "a" / "two.jpg").exists() and (folder / "b" / "two q60.jpg").exists()


def test_keep_best_in_all_groups_to_a_folder(dialog, qtbot, tmp_path):
    folder = dialog._session.folder
    _found(dialog, qtbot)
    dialog.set_destination(tmp_path / "dupes")
    with qtbot.waitSignal(dialog.removalFinished, timeout=30_000) as sig:
        dialog.keep_all.click()
    assert len(sig.args[0].removed) == 4
    assert sorted(p.name for p in (tmp_path / "dupes" / "b").iterdir()) == ["one copy.jpg", "two q60.jpg",
                                                                           "two small.jpg", "two.png"]
    assert (folder / "a" / "one.jpg").exists() and (folder / "a" / "two.jpg").exists()
    assert dialog._boxes == [] and "Moved 4 copies" in dialog.message.text()


def test_hashes_worked_out_in_the_worker_are_cached(dialog, qtbot):
    lib = dialog._session.library
    ids = list(lib.relpaths())
    assert lib.photo_facts(ids) == {} or all(f.phash is None for f in lib.photo_facts(ids).values())
    _found(dialog, qtbot)
    facts = lib.photo_facts(ids)
    assert len(facts) == len(ids) and all(f.phash for f in facts.values())
    assert lib.duplicate_groups()          # and the groups, for the mosaic and export

"""Clusters → Write Tags to XMP Sidecars and Undo Last Tagging, through the window (core/tags does the work)."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def test_the_clusters_menu_writes_tags_and_undoes_them(opened, qtbot):
    from conftest import wait_idle
    from photoclust_app.core.tags import xmp

    win = opened
    s = win.session
    cid = s.cluster_ids()[0]
    photo = s.photo_path(s.members(cid)[0])
    win.actions.write_tags.trigger()
    wait_idle(qtbot, win)
    side = photo.with_name(photo.name + ".xmp")
    assert xmp.ours(side.read_bytes()) == [s.cluster(cid).display_name]
    assert "Tags written: 36 XMP sidecars" in win.statusBar().currentMessage()
    win.actions.undo_tags.trigger()
    wait_idle(qtbot, win)
    assert not side.exists() and not list(win.library.folder.rglob("*.xmp"))

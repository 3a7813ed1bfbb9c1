"""Exporting again into a folder that holds an earlier export of the same photo folder.

An update adds only what is new: a photo an earlier export already placed in DEST (its
manifest says so, and the file there is still the one it made) is not exported again, so
nothing is doubled; a cluster's new photos go into the folder where the earlier export put
most of its photos, so a renamed cluster does not split into two folders. What an update
does not change yet is said, not done: photos an earlier export put in another cluster's
folder, photos no longer in any exported cluster, and folders whose cluster was renamed
stay as they are and are listed (``UpdateInfo``). The additions are an ordinary export
(plan_export, run_export): one manifest, and Undo export removes exactly them.
"""
from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from photoclust_app.core.errors import ExportConflict
from photoclust_app.core.export.bind import bind
from photoclust_app.core.export.guard import lstat_or_none
from photoclust_app.core.export.journal import MANIFEST_PREFIX, MANIFEST_SUFFIX, read_manifest
from photoclust_app.core.export.names import name_key, sanitize_folder_name
from photoclust_app.core.export.plan import ExportPlan, plan_export

log = logging.getLogger(__name__)


@dataclass
class UpdateInfo:
    earlier: int = 0                                              # earlier exports of this folder in DEST
    already: int = 0                                              # photos already in their cluster's folder
    added: int = 0                                                # photos this update adds
    moved: list[tuple[Path, Path]] = field(default_factory=list)  # (src, where an earlier export put it)
    gone: list[tuple[Path, Path]] = field(default_factory=list)   # (src, dst): no longer in an exported cluster
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (folder in DEST, the cluster's name now)

    def lines(self) -> list[str]:
        """What the update will do and what it leaves, for the CLI and the dialog."""
        out = [f"Updating {self.earlier} earlier export{'s' if self.earlier != 1 else ''} here: "
               f"{self.added} new photo{'s' if self.added != 1 else ''} to add, {self.already} already there."]
        left = []
        if self.moved:
            left.append(f"{len(self.moved)} now in another cluster")
        if self.gone:
            left.append(f"{len(self.gone)} no longer in an exported cluster")
        if self.renamed:
            left.append(", ".join(f"folder \u201c{a}\u201d (now \u201c{b}\u201d)" for a, b in self.renamed[:3])
                        + (" and more" if len(self.renamed) > 3 else ""))
        if left:
            out.append("Left as they are: " + "; ".join(left) + ". A separate export shows the clusters as they are now.")
        return out


@dataclass
class UpdatePlan:
    plan: ExportPlan | None     # the additions (None: nothing new to add)
    info: UpdateInfo


def earlier_exports(dest: Path | str, source_root: Path | str) -> tuple[int, dict[Path, list[Path]]]:
    """(how many earlier exports of source_root DEST holds, src -> the files in DEST that earlier exports of source_root made for it and that are
    still there as made (the recorded inode). Unreadable, foreign or unbound manifests are
    passed over."""
    dest = Path(os.path.realpath(Path(dest).expanduser()))
    root = Path(os.path.abspath(source_root))
    placed: dict[Path, list[Path]] = {}
    try:
        manifests = sorted(dest.glob(f"{MANIFEST_PREFIX}*{MANIFEST_SUFFIX}"))
    except OSError:
        return 0, placed
    count = 0
    for path in manifests:
        try:
            m = read_manifest(path)
            bind(m)
        except (ExportConflict, OSError) as why:
            log.info("update passes over %s: %s", path, why)
            continue
        if Path(m.header["source_root"]) != root:
            continue
        count += 1
        for st in m.done:
            rec = st.record or {}
            d = lstat_or_none(st.dst)
            if d is not None and st.dst.parent.parent == dest and (d.st_dev, d.st_ino) == tuple(rec.get("id", ())):
                placed.setdefault(st.src, []).append(st.dst)
    return count, placed


def plan_update(groups: list[tuple[str, list[Path]]], dest: Path | str, *, mode: str = "copy",
                source_root: Path, others: list[Path] = ()) -> UpdatePlan | None:
    """The update of an earlier export in DEST (see the module doc), or None when DEST holds
    no earlier export of source_root (then it is an ordinary export). Creates nothing."""
    if not str(dest).strip():
        return None   # plan_export says why an empty destination is refused
    count, placed = earlier_exports(dest, source_root)
    if not count:
        return None
    info = UpdateInfo(earlier=count)
    exported: set[Path] = set()
    adds: list[tuple[str, list[Path]]] = []
    for name, paths in groups:
        paths = [Path(os.path.abspath(p)) for p in paths]
        exported |= set(paths)
        folders = Counter(d.parent.name for p in paths for d in placed.get(p, ()))
        folder = folders.most_common(1)[0][0] if folders else sanitize_folder_name(name)
        if folders and name_key(folder) != name_key(sanitize_folder_name(name)):
            info.renamed.append((folder, name))
        new = []
        for p in paths:
            there = placed.get(p, [])
            if not there:
                new.append(p)
            elif any(name_key(d.parent.name) == name_key(folder) for d in there):
                info.already += 1
            else:
                info.moved.append((p, there[0]))
        if new:
            adds.append((folder, new))
    info.gone = [(src, ds[0]) for src, ds in placed.items() if src not in exported]
    if not adds:
        return UpdatePlan(None, info)
    plan = plan_export(adds, dest, mode=mode, source_root=source_root, others=others)
    info.added = len(plan.items)
    return UpdatePlan(plan, info)

"""Exporting again into a folder that holds an earlier export of the same photo folder.

An update brings DEST in line with the clusters: a photo an earlier export already placed
in its cluster's folder (its manifest says so, and the file there is still the one it made)
is left alone, so nothing is doubled; a cluster's new photos go into the folder where the
earlier export put most of its photos, so a renamed cluster keeps its folder. A copy an
earlier export put in another cluster's folder is copied into the right one and the old
copy removed; a copy of a photo no longer in any exported cluster is removed. Removing
goes through the earlier manifest's own undo checks (only a file still exactly as that
export made it, while the original is still there with the same bytes), and is noted in
both manifests. The additions are an ordinary export (plan_export, run_export) with its
own manifest; its undo also makes the removed copies again (undo.py). Links, moved photos,
and removals when nothing is to be added, are listed, not changed (``UpdateInfo``).
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
    moved: list[tuple[Path, Path]] = field(default_factory=list)  # (src, old dst): copied to its cluster's folder
    gone: list[tuple[Path, Path]] = field(default_factory=list)   # (src, dst): copy removed, in no exported cluster
    stray: list[tuple[Path, Path]] = field(default_factory=list)  # (src, dst): a second copy in another folder
    left: list[tuple[Path, Path, str]] = field(default_factory=list)  # (src, dst, why): not changed
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (folder in DEST, the cluster's name now)

    def lines(self) -> list[str]:
        """What the update will do and what it leaves, for the CLI and the dialog."""
        new = self.added - len(self.moved)
        out = [f"Updating {self.earlier} earlier export{'s' if self.earlier != 1 else ''} here: "
               f"{new} new photo{'s' if new != 1 else ''} to add, {self.already} already there"
               + (f", {len(self.moved)} to move to their cluster's folder" if self.moved else "")
               + (f", {len(self.gone)} no longer in a cluster to remove" if self.gone else "")
               + (f", {len(self.stray)} stray second copies to remove" if self.stray else "") + "."]
        left = []
        if self.left:
            left.append(f"{len(self.left)} in the wrong folder ({self.left[0][2]})")
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
    supersede: list[tuple[Path, int]] = field(default_factory=list)   # (earlier manifest, item) to remove


@dataclass
class Placed:
    dst: Path
    manifest: Path
    i: int
    mode: str


def earlier_exports(dest: Path | str, source_root: Path | str) -> tuple[int, dict[Path, list[Placed]]]:
    """(how many earlier exports of source_root DEST holds, src -> the files in DEST that earlier exports of source_root made for it and that are
    still there as made (the recorded inode). Unreadable, foreign or unbound manifests are
    passed over."""
    dest = Path(os.path.realpath(Path(dest).expanduser()))
    root = Path(os.path.abspath(source_root))
    placed: dict[Path, list[Placed]] = {}
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
                placed.setdefault(st.src, []).append(Placed(st.dst, path, st.i, m.mode))
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
    supersede: list[tuple[Path, int]] = []
    stray: list[tuple[Path, Placed]] = []
    for name, paths in groups:
        paths = [Path(os.path.abspath(p)) for p in paths]
        exported |= set(paths)
        folders = Counter(d.dst.parent.name for p in paths for d in placed.get(p, ()))
        folder = folders.most_common(1)[0][0] if folders else sanitize_folder_name(name)
        if folders and name_key(folder) != name_key(sanitize_folder_name(name)):
            info.renamed.append((folder, name))
        new = []
        for p in paths:
            there = placed.get(p, [])
            if not there:
                new.append(p)
            elif any(name_key(d.dst.parent.name) == name_key(folder) for d in there):
                info.already += 1   # (a copy also elsewhere: from a separate export, or a cancelled update)
                stray += [(p, d) for d in there if name_key(d.dst.parent.name) != name_key(folder)
                          and d.mode == "copy"]
            elif all(d.mode == "copy" for d in there):
                new.append(p)                       # copied into its folder, the old copies go
                info.moved.append((p, there[0].dst))
                supersede += [(d.manifest, d.i) for d in there]
            else:
                info.left.append((p, there[0].dst, "links and moved photos stay where they are"))
        if new:
            adds.append((folder, new))
    gone = [(src, ds) for src, ds in placed.items() if src not in exported]
    for src, ds in gone:
        if adds and all(d.mode == "copy" for d in ds):
            info.gone.append((src, ds[0].dst))
            supersede += [(d.manifest, d.i) for d in ds]
        else:
            info.left.append((src, ds[0].dst, "no longer in a cluster; links, moved photos and an update "
                                              "with nothing to add leave them"))
    if adds:
        info.stray = [(p, d.dst) for p, d in stray]
        supersede += [(d.manifest, d.i) for _, d in stray]
    else:
        info.left += [(p, d.dst, "a second copy; an update with nothing to add leaves it") for p, d in stray]
        return UpdatePlan(None, info)
    plan = plan_export(adds, dest, mode=mode, source_root=source_root, others=others)
    info.added = len(plan.items)
    return UpdatePlan(plan, info, supersede)


def run_update(up: UpdatePlan, *, progress=None, cancel=None) -> tuple[Path, list[tuple[Path, str]]]:
    """Export the additions, then remove the copies they replace (see supersede_items).
    Returns the update's manifest and what was left alone, with the reason."""
    from photoclust_app.core.export.run import run_export
    from photoclust_app.core.export.undo import supersede_items

    manifest = run_export(up.plan, progress=progress, cancel=cancel)
    # A copy whose photo was refused by this export stays: it would be the only one in DEST.
    return manifest, supersede_items(manifest, up.supersede, keep={Path(s) for s, _ in up.plan.skipped})

"""Export "one per duplicate group": which copies an export leaves out, and for which photo."""
from __future__ import annotations

from pathlib import Path


def one_per_group(groups: list[tuple[str, list[Path]]], duplicates: list[tuple[str, int, list[int]]],
                  paths: dict[int, Path]) -> tuple[list[tuple[str, list[Path]]], list[tuple[Path, str]]]:
    """(the export groups with one photo per duplicate group, [(copy left out, why)]).

    DUPLICATES: (kind, keeper id, member ids) of identical / near-identical groups; PATHS:
    photo id -> absolute path. The photo exported is the group's keeper when the export takes
    it, else the group's first photo the export takes: a picture is never left out entirely."""
    exported = [p for _, ps in groups for p in ps]
    taken = set(exported)
    order = {p: i for i, p in reversed(list(enumerate(exported)))}
    leave: dict[Path, str] = {}
    for _, keeper, members in duplicates:
        inside = [paths[m] for m in members if m in paths and paths[m] in taken]
        if len(inside) < 2:
            continue
        kp = paths.get(keeper)
        kept = kp if kp in taken else min(inside, key=order.__getitem__)
        for p in inside:
            if p != kept:
                leave[p] = f"a copy of {kept} (one per duplicate group)"
    out = [(name, [p for p in ps if p not in leave]) for name, ps in groups]
    return [(n, ps) for n, ps in out if ps], sorted(leave.items())

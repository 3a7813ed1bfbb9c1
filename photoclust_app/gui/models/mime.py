"""Drag-and-drop payloads: our own MIME types, plus text/uri-list so photos dragged out of the
grid land as files in a file manager or another app (as MusicBrainz Picard does)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from PySide6.QtCore import QMimeData, QUrl

PHOTO_MIME = "application/x-photoclust-photo-ids"
CLUSTER_MIME = "application/x-photoclust-cluster-ids"
URI_LIST = "text/uri-list"


def _encode(folder: Path, ids: Iterable[int]) -> bytes:
    # The folder travels along so a drop into another window's library is refused.
    return json.dumps({"folder": str(folder), "ids": [int(i) for i in ids]}).encode()


def _decode(mime: QMimeData, kind: str, folder: Path | None) -> list[int]:
    if mime is None or not mime.hasFormat(kind):
        return []
    try:
        data = json.loads(bytes(mime.data(kind).data()).decode())
    except (ValueError, UnicodeDecodeError):
        return []
    if folder is not None and data.get("folder") != str(folder):
        return []
    return [int(i) for i in data.get("ids", [])]


def photo_mime(folder: Path, photo_ids: Iterable[int], paths: Iterable[Path]) -> QMimeData:
    mime = QMimeData()
    mime.setData(PHOTO_MIME, _encode(folder, photo_ids))
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def cluster_mime(folder: Path, cluster_ids: Iterable[int]) -> QMimeData:
    mime = QMimeData()
    mime.setData(CLUSTER_MIME, _encode(folder, cluster_ids))
    return mime


def photo_ids(mime: QMimeData, folder: Path | None = None) -> list[int]:
    return _decode(mime, PHOTO_MIME, folder)


def cluster_ids(mime: QMimeData, folder: Path | None = None) -> list[int]:
    return _decode(mime, CLUSTER_MIME, folder)

"""The map pane: the MapView (gui/map_view.py) when it is available, else a placeholder with
the same small API, so the window works (without a map) in any build."""
from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel

log = logging.getLogger(__name__)


class _MapPlaceholder(QLabel):
    """Stands in for the map until gui/map_view.py is available."""

    selectionChanged = Signal(list)
    hoverPhoto = Signal(int)
    photoActivated = Signal(int)

    def __init__(self, parent=None):
        super().__init__("The map is not available in this build.", parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumbnail_provider = self.name_provider = None

    def set_points(self, photo_ids, xy, cluster_ids) -> None:
        pass

    def update_clusters(self, photo_ids, cluster_ids) -> None:
        pass

    def hovered_id(self) -> int:
        return -1

    def refresh_hover(self) -> None:
        pass

    def set_selection(self, photo_ids) -> None:
        pass


def make_map(parent):
    try:
        from photoclust_app.gui.map_view import MapView
    except ImportError as err:
        log.warning("No map view: %s", err)
        return _MapPlaceholder(parent)
    return MapView(parent)


def map_colors(map_view):
    """The map's colour per cluster id, so the list shows the same colours; None without a map."""
    if isinstance(map_view, _MapPlaceholder):
        return None
    try:
        from photoclust_app.gui.map_items import cluster_color
    except ImportError:
        return None
    return cluster_color

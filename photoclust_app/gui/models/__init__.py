"""Qt item models: thin adapters over a core Session (no state of their own beyond row order)."""
from photoclust_app.gui.models.cluster_list_model import ClusterListModel
from photoclust_app.gui.models.photo_grid_model import PhotoGridModel

__all__ = ["ClusterListModel", "PhotoGridModel"]

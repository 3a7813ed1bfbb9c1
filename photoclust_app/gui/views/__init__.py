"""Views and delegates: painting only; every edit goes through the models to the session."""
from .cluster_list_view import ClusterListView
from .photo_grid_view import PhotoGridView

__all__ = ["ClusterListView", "PhotoGridView"]

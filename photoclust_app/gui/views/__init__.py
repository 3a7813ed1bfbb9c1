"""Views and delegates: painting only; every edit goes through the models to the session."""
from photoclust_app.gui.views.cluster_list_view import ClusterListView
from photoclust_app.gui.views.filter_edit import FilterEdit
from photoclust_app.gui.views.photo_grid_view import PhotoGridView

__all__ = ["ClusterListView", "FilterEdit", "PhotoGridView"]

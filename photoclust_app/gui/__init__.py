"""The PySide6 desktop app: thin Qt adapters over the Qt-free core (photoclust_app.core).

Nothing here imports torch, open_clip, umap or hdbscan: heavy work runs in the engine
process (photoclust_app/engine/), so the window shows before any of it loads. Background
work in this process goes through one task runner (gui/tasks/).
"""

"""photoclust: group a photo folder by what the photos show."""

__version__ = "0.1.0"

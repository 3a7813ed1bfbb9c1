"""Finding photos: free text (CLIP's text tower, or the offline label vocabulary), file
name / folder / date filters, more like this, colour and dates. Qt-free; the window and
the command line both call ``Searcher``."""
from photoclust_app.core.search.filters import BadQuery, parse_query
from photoclust_app.core.search.query import Hit, Searcher, SearchResult

__all__ = ["BadQuery", "Hit", "SearchResult", "Searcher", "parse_query"]

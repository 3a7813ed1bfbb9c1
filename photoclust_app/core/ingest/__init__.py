"""Folder -> photo records -> decoded pixels, thumbnails and EXIF: scan, quick hash, decode (in worker processes) and the incremental index."""

"""Qt-free core, one package per stage: ingest -> embed -> store -> clustering -> editing -> export; pipeline.py orchestrates."""

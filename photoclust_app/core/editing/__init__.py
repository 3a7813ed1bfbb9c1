"""The editing session over a library: undoable edits, persistent history, listeners."""

"""The library store: one SQLite file per photo folder. The only code that speaks SQL."""

"""Tests that check what the library file holds read it with their own SQLite connection:
the Library keeps its connection private (only the store speaks SQL)."""
import sqlite3


def sql(lib, query: str, params=()) -> list[tuple]:
    """Rows of QUERY on LIB's database file (a Library or a path), on a fresh connection."""
    conn = sqlite3.connect(getattr(lib, "path", lib))
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()

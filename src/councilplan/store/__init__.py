"""The councils' database: ``open_store(url)`` gives a SQLite or a PostgreSQL store
(``store/engine.py``; each database in its own module, what they share in ``store/sql.py``)."""

from councilplan.store.engine import DEFAULT_SQLITE, default_url, make_engine, open_store, store_for

__all__ = ["DEFAULT_SQLITE", "default_url", "make_engine", "open_store", "store_for"]

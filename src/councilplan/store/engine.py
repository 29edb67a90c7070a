"""Opening a councilplan database: its URL, its engine, and the store for its dialect
(``sqlite.SqliteStore`` or ``postgres.PostgresStore``)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

import councilplan.store.migrate as migrate
from councilplan.store.postgres import PostgresStore, postgres_engine
from councilplan.store.sql import SqlStore
from councilplan.store.sqlite import SqliteStore, sqlite_engine

DEFAULT_SQLITE = "councilplan.sqlite"


def default_url(data_dir: str | Path | None = None) -> str:
    """The embedded default: a SQLite file ``councilplan.sqlite`` in ``data_dir`` (or here)."""
    path = Path(data_dir or ".") / DEFAULT_SQLITE
    return f"sqlite:///{path.resolve()}"


def make_engine(url: str, *, schema: str | None = None, pool_size: int = 10) -> Engine:
    """An engine for ``url`` set up for councilplan (SQLite locking, PostgreSQL pool, schema)."""
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        return sqlite_engine(url)
    return postgres_engine(url, schema=schema, pool_size=pool_size)


def open_store(
    url: str | None = None, *, upgrade: bool = True, schema: str | None = None, pool_size: int = 20
) -> SqlStore:
    """Open the database at ``url`` (default: ./councilplan.sqlite), migrating it to the newest
    schema (and recording the tables of a database older than the state record) unless
    ``upgrade`` is False."""
    engine = make_engine(url or default_url(), schema=schema, pool_size=pool_size)
    if not upgrade:
        return store_for(engine, schema=schema)
    migrate.upgrade(engine)
    store = store_for(engine, schema=schema)
    store.begin_record()  # a database older than the state record: record its tables once
    return store


def store_for(engine: Engine, *, schema: str | None = None) -> SqlStore:
    """The store for ``engine``'s database, by its dialect."""
    if engine.dialect.name == "sqlite":
        return SqliteStore(engine, schema=schema)
    if engine.dialect.name == "postgresql":
        return PostgresStore(engine, schema=schema)
    raise ValueError(
        f"councilplan stores its data in SQLite or PostgreSQL, not {engine.dialect.name} "
        f"({engine.url.render_as_string(hide_password=True)})"
    )

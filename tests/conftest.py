"""Shared test fixtures: where the real data is, and which database the store tests use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if "COUNCILPLAN_SHARED_DATA" in os.environ:
    SHARED_DATA = Path(os.environ["COUNCILPLAN_SHARED_DATA"])


@pytest.fixture(scope="session", autouse=True)
def _audit_key(tmp_path_factory):
    """The service's audit key for this test session, in a file of its own (a user's service
    keeps it beside a SQLite database or in ~/.config/councilplan, which tests leave alone)."""
    if "COUNCILPLAN_AUDIT_KEY_FILE" in os.environ:
        yield
        return
    os.environ["COUNCILPLAN_AUDIT_KEY_FILE"] = str(tmp_path_factory.mktemp("key") / "audit.key")
    try:
        yield
    finally:
        del os.environ["COUNCILPLAN_AUDIT_KEY_FILE"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data in ../shared/data; skips the test when it is absent (a user's machine)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (../shared/data is only present in CI)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def bea_dir(shared_data: Path) -> Path:
    path = shared_data / "bea"
    if not path.is_dir():
        pytest.skip(f"BEA tables not found at {path}")
    return path


@pytest.fixture(scope="session")
def pequod_dir(shared_data: Path) -> Path:
    path = shared_data / "pequod"
    if not path.is_dir():
        pytest.skip(f"pequod experiments not found at {path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL URL from COUNCILPLAN_TEST_DATABASE_URL; skips the test when unset."""
    url = os.environ.get("COUNCILPLAN_TEST_DATABASE_URL")
    if not url:
        pytest.skip("COUNCILPLAN_TEST_DATABASE_URL is not set: no PostgreSQL to test against")
    return url


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory):
    """A SQLite file migrated once per session; council_store copies it for each test."""
    from councilplan.store import open_store

    path = tmp_path_factory.mktemp("councils") / "template.sqlite"
    open_store(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def council_store(request, tmp_path):
    """A fresh, migrated councils store: SQLite in a tmp file, and PostgreSQL in a schema of its
    own, dropped afterwards (the PostgreSQL case skips when COUNCILPLAN_TEST_DATABASE_URL is
    unset)."""
    import shutil

    from councilplan.store import open_store
    from councilplan.store.tables import metadata

    if request.param == "sqlite":
        path = tmp_path / "councilplan.sqlite"
        shutil.copyfile(request.getfixturevalue("_migrated_sqlite"), path)
        store = open_store(f"sqlite:///{path}", upgrade=False)
        yield store
        store.dispose()
        return
    url, schema = request.getfixturevalue("_migrated_postgres_schema")
    store = open_store(url, schema=schema, pool_size=5, upgrade=False)
    # Empty every table of the session's schema: cheaper than migrating a schema per test.
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        conn.exec_driver_sql(f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{'0' * 64}')")
    try:
        yield store
    finally:
        store.dispose()


@pytest.fixture(scope="session")
def _migrated_postgres_schema(postgres_url):
    """A PostgreSQL schema of this test session's own, migrated once, dropped at the end."""
    import uuid

    import sqlalchemy

    from councilplan.store import open_store

    schema = f"cp_test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(postgres_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        open_store(postgres_url, schema=schema, pool_size=1).dispose()
        yield postgres_url, schema
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def town(tmp_path: Path) -> Path:
    """A writable copy of the demo bundle."""
    import shutil

    from councilplan.economy.bundle import DEMO_BUNDLE

    return Path(shutil.copytree(DEMO_BUNDLE, tmp_path / "town"))

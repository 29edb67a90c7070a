"""Shared test fixtures: where the real data is, and which database the store tests use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if "COUNCILPLAN_SHARED_DATA" in os.environ:
    SHARED_DATA = Path(os.environ["COUNCILPLAN_SHARED_DATA"])


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

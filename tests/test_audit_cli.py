"""``councilplan audit verify`` and ``db upgrade``: exit 0 when the record is intact, 1 naming
the first entry altered, removed or reordered."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from council_setup import database_before_the_state_record
from councilplan.cli import app
from councilplan.councils import service as s

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
runner = CliRunner()


def url_of(store) -> str:
    url = store.engine.url.render_as_string(hide_password=False)
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect() as conn:
            schema = conn.exec_driver_sql("SHOW search_path").scalar()
        url += f"?options=-csearch_path%3D{schema}"
    return url


def fill(store) -> None:
    ids = [
        s.register_account(store, username=f"m{i}", display_name="M", password_hash="h", now=T0)
        for i in range(4)
    ]
    c = s.create_council(store, name="Works", kind="workplace", founder_id=ids[0], now=T0)
    for a in ids[1:]:
        s.join_council(store, council_id=c.id, account_id=a, now=T0)


def tamper(store, *statements: str) -> None:
    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_log_append_only_update")
            conn.exec_driver_sql("DROP TRIGGER audit_log_append_only_delete")
        for statement in statements:
            conn.execute(sa.text(statement))
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


def test_db_upgrade_on_a_new_sqlite_file(tmp_path):
    result = runner.invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "councilplan.sqlite").exists()
    result = runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0 and "0 entries" in result.output


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        ([], None),
        (
            ["UPDATE audit_log SET payload = replace(payload, 'm2', 'mx') WHERE seq = 3"],
            "entry 3 (altered)",
        ),
        (["DELETE FROM audit_log WHERE seq = 5"], "entry 5 (removed)"),
        (
            [
                "UPDATE audit_log SET seq = -2 WHERE seq = 2",
                "UPDATE audit_log SET seq = 2 WHERE seq = 6",
                "UPDATE audit_log SET seq = 6 WHERE seq = -2",
            ],
            "entry 2 (reordered)",
        ),
    ],
    ids=["intact", "edited", "deleted", "swapped"],
)
def test_audit_verify_exit_codes(council_store, statements, expected):
    fill(council_store)
    tamper(council_store, *statements)
    result = runner.invoke(app, ["audit", "verify", "--database-url", url_of(council_store)])
    if expected is None:
        assert result.exit_code == 0, result.output
        assert "intact" in result.output
    else:
        assert result.exit_code == 1, result.output
        assert expected in " ".join(result.output.split())


def test_audit_verify_names_a_row_changed_behind_the_records_back(council_store):
    """The chain is intact, a table is not: exit 1 naming the row and the entry that made it."""
    founder = s.register_account(
        council_store, username="ada", display_name="Ada", password_hash="h", now=T0
    )
    s.create_council(council_store, name="Works", kind="workplace", founder_id=founder, now=T0)
    url = url_of(council_store)
    result = runner.invoke(app, ["audit", "verify", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "tables follow from the record" in result.output
    with council_store.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE accounts SET password_hash = 'mine' WHERE id = :a"), {"a": founder}
        )
    result = runner.invoke(app, ["audit", "verify", "--database-url", url])
    assert result.exit_code == 1, result.output
    assert "audit log intact" in result.output  # the chain alone cannot tell
    assert f"accounts id={founder}: password_hash" in result.output


def test_db_upgrade_records_an_older_database_as_it_stands(tmp_path):
    """A database from before the state record: `db upgrade` records its tables once, and
    `audit verify` then replays from there."""
    url = f"sqlite:///{tmp_path / 'councilplan.sqlite'}"
    database_before_the_state_record(url)
    result = runner.invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0 and "record.began" in result.output, result.output
    result = runner.invoke(app, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0 and "2 entries" in result.output, result.output
    result = runner.invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0 and "record.began" not in result.output  # once only

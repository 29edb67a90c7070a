"""The councils database: which one a command works on, and `councilplan db upgrade`."""

from __future__ import annotations

from pathlib import Path

import typer

from councilplan.cli.common import console, fail, reason

db_app = typer.Typer(
    help="The councils database: migrations.", no_args_is_help=True, rich_markup_mode=None
)

DB_URL_HELP = "SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db (default: SQLite file)"


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for other databases (PostgreSQL) and in-memory SQLite."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except Exception:  # noqa: BLE001 - not a URL we can read: left to the driver to report
        return None
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else Path(database)


def shown_url(url: str) -> str:
    """``url`` to print: its password, if any, hidden."""
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url


def resolve_database_url(database_url: str | None, data_dir: Path | None, *, create: bool) -> str:
    """The database a command works on: ``--database-url``, or councilplan.sqlite in
    ``--data-dir`` (default: here).

    Only a command that creates the database (``create``: db upgrade) makes a missing SQLite
    file and its folder; the others refuse it, naming the file, and create nothing. A
    PostgreSQL URL is not a file: it is left to connect (and to fail) as it will.
    """
    from councilplan.store import DEFAULT_SQLITE, default_url

    if database_url:
        url, file, flag = (
            database_url,
            _sqlite_file(database_url),
            f" --database-url {database_url}",
        )
    else:
        url, file = default_url(data_dir), Path(data_dir or ".") / DEFAULT_SQLITE
        flag = "" if data_dir is None else f" --data-dir {data_dir}"
    if file is None:
        return url
    if create:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            fail(f"cannot create the database {file}: {reason(error)}")
    elif not file.is_file():
        fail(
            f"no database at {file}: create one with `councilplan db upgrade{flag}` "
            "(or run `councilplan demo` for the demo town's)"
        )
    return url


@db_app.command("upgrade")
def db_upgrade(
    database_url: str = typer.Option(
        None, "--database-url", envvar="COUNCILPLAN_DATABASE_URL", help=DB_URL_HELP
    ),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder for councilplan.sqlite"),
) -> None:
    """Create or migrate the councils database to the newest schema."""
    from councilplan.store import make_engine, migrate, store_for

    url = resolve_database_url(database_url, data_dir, create=True)
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        revision = migrate.current_revision(engine)
        console.print(f"database at revision {revision}: {shown_url(url)}")
        if store_for(engine).begin_record():
            console.print(
                "recorded the tables as they stand (record.began): this database's entries "
                "kept no states before; `councilplan audit verify` replays from here"
            )
    except Exception as error:  # noqa: BLE001
        fail(f"cannot migrate {shown_url(url)}: {reason(error)}")
    finally:
        engine.dispose()

"""`councilplan serve`: the JSON API over the councils database."""

from __future__ import annotations

from pathlib import Path

import typer

from councilplan.cli.common import console, fail, reason
from councilplan.cli.db import DB_URL_HELP, resolve_database_url, shown_url


def serve(
    database_url: str = typer.Option(
        None, "--database-url", envvar="COUNCILPLAN_DATABASE_URL", help=DB_URL_HELP
    ),
    data_dir: Path = typer.Option(None, "--data-dir", help="Folder for councilplan.sqlite"),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int = typer.Option(8000, "--port", help="Port to listen on"),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        help="Worker processes; on Linux each listens on a socket of its own (SO_REUSEPORT), "
        "so that connections are spread over them",
    ),
    keep_alive: int = typer.Option(
        5, "--keep-alive", min=1, help="Seconds an idle HTTP connection is kept open"
    ),
) -> None:
    """Run the JSON API (OpenAPI at /docs), migrating the database first."""
    import os

    import uvicorn

    from councilplan.store import open_store
    from councilplan.web import serving

    url = resolve_database_url(database_url, data_dir, create=False)
    try:
        open_store(url).dispose()  # runs the migrations once, before the workers start
    except Exception as error:  # noqa: BLE001 - shown to the user, with the URL
        fail(f"cannot open the database {shown_url(url)}: {reason(error)}")
    os.environ["COUNCILPLAN_DATABASE_URL"] = url
    options = {
        "log_level": "warning",
        "access_log": False,
        "timeout_keep_alive": keep_alive,
        "server_header": False,
    }
    if workers == 1 or not serving.spreads_connections():
        console.print(f"councilplan API on http://{host}:{port}/docs  (database: {shown_url(url)})")
        uvicorn.run(serving.APP, host=host, port=port, workers=workers, **options)
        return
    try:
        sockets = serving.listening_sockets(host, port, workers)
    except OSError as error:
        fail(str(error.strerror or error))
    port = sockets[0].getsockname()[1]
    console.print(
        f"councilplan API on http://{host}:{port}/docs  "
        f"(database: {shown_url(url)}; {workers} workers)"
    )
    raise typer.Exit(serving.run_workers(sockets, options))

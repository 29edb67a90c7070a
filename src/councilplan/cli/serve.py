"""`councilplan serve`: the JSON API over the councils database, and one worker thread that
computes the plan variants the API queues."""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path

import typer

from councilplan.cli.common import console, err_console, fail, reason
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
    variant_worker: bool = typer.Option(
        True,
        "--worker/--no-worker",
        help="Run one job-runner thread computing the plan variants asked for (not an HTTP "
        "worker); --no-worker where `councilplan period work` processes do it",
    ),
) -> None:
    """Run the JSON API (OpenAPI at /docs), migrating the database first, with one worker
    thread computing the plan variants asked for. Larger deployments serve with --no-worker
    and run `councilplan period work` as separate processes, as many as the machines hold."""
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
    one = workers == 1 or not serving.spreads_connections()
    sockets = []
    if not one:
        try:
            sockets = serving.listening_sockets(host, port, workers)
        except OSError as error:
            fail(str(error.strerror or error))
        port = sockets[0].getsockname()[1]
    processes = "" if one else f"; {workers} workers"
    jobs = "; computing plan variants" if variant_worker else ""
    console.print(
        f"councilplan API on http://{host}:{port}/docs  (database: {shown_url(url)}{processes}"
        f"{jobs})"
    )
    with _variant_worker(url) if variant_worker else contextlib.nullcontext():
        if one:
            uvicorn.run(serving.APP, host=host, port=port, workers=workers, **options)
            return
        raise typer.Exit(serving.run_workers(sockets, options))


class _variant_worker:
    """One thread computing queued plan variants (cli.period.work: the job runner's loop) on a
    store of its own, for as long as the server runs.

    Ctrl-C or SIGTERM stops the server, then the thread once the variant it is computing is
    kept: the handler installed here only notes the signal (uvicorn, which takes the signals
    while it serves, raises them again when it has stopped), and a second Ctrl-C while the
    thread finishes stops at once, leaving that variant "running" on the record. On SQLite
    the thread and the requests share the one writer: each waits its turn (the store's busy
    timeout), and a job writes only briefly (its claim, its progress, its result).
    """

    def __init__(self, url: str):
        self.url = url
        self.stop = threading.Event()

    def __enter__(self) -> None:
        from councilplan.cli.period import default_worker_name, variant_line
        from councilplan.councils.service import run_jobs
        from councilplan.store import open_store

        store = open_store(self.url, upgrade=False)
        name = f"serve@{default_worker_name()}"

        def report_error(error: BaseException) -> None:
            err_console.print(f"variant worker: the database failed: {reason(error)}; retrying")

        def run() -> None:
            try:
                run_jobs(
                    store,
                    worker=name,
                    stop=self.stop,
                    on_computed=lambda v, s: console.print(variant_line(v, s), highlight=False),
                    on_error=report_error,
                )
            finally:
                store.dispose()

        self.thread = threading.Thread(target=run, name="councilplan-variants", daemon=True)
        self.thread.start()
        self.previous = {
            s: signal.signal(s, lambda *_: None) for s in (signal.SIGINT, signal.SIGTERM)
        }

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        self.thread.join(0.5)
        if self.thread.is_alive():
            err_console.print("finishing the plan variant being computed (Ctrl-C to stop now)")
            self.thread.join()

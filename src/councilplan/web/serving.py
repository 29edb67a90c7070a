"""``councilplan serve`` with several worker processes, each with a listening socket of its own.

uvicorn's ``--workers`` shares one listening socket, and clients that connect together mostly
land on whichever worker wakes first. With SO_REUSEPORT each worker listens on a socket of its
own, bound to the same address, and Linux spreads new connections over them. uvicorn has no
option for this, so this module is the small supervisor that does it: bind, start the workers,
stop them all when one stops or on Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

APP = "councilplan.web.main:app"


def spreads_connections() -> bool:
    """Whether this platform spreads connections over SO_REUSEPORT sockets (Linux does; the BSDs
    and macOS give them all to the last socket bound)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets listening on (host, port) with SO_REUSEPORT; raises OSError naming the
    address when it cannot be had (in use, not this machine's). Port 0: one free port for all."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            try:
                sock.bind((host, port))
            except OSError as error:
                message = f"cannot listen on {host}:{port}: {error.strerror}"
                raise OSError(error.errno, message) from error
            port = sock.getsockname()[1]
            sock.listen(2048)  # uvicorn's default backlog
            sock.set_inheritable(True)
        return sockets
    except BaseException:
        for sock in sockets:
            sock.close()
        raise


def _worker(sock: socket.socket, options: dict[str, Any], parent: int) -> None:
    import uvicorn

    threading.Thread(target=_stop_with, args=(parent,), daemon=True).start()
    uvicorn.Server(uvicorn.Config(APP, **options)).run(sockets=[sock])


def _stop_with(parent: int) -> None:
    """Stop this worker (SIGTERM: uvicorn's graceful shutdown) once its supervisor is gone,
    even killed outright: else it would go on serving, its port held, with no one to stop it."""
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)


def run_workers(sockets: list[socket.socket], options: dict[str, Any]) -> int:
    """One uvicorn server per socket, each in a process of its own; returns when all have
    stopped: on Ctrl-C or SIGTERM (passed on to every worker), or when any one of them exits
    (the rest are then stopped too). The exit status: the first nonzero one of the workers."""
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(
            target=_worker, args=(sock, options, os.getpid()), name=f"councilplan-worker-{i}"
        )
        for i, sock in enumerate(sockets)
    ]
    stopping = threading.Event()

    def stop(*_: Any) -> None:
        stopping.set()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.start()
        for sock in sockets:
            sock.close()  # the workers hold their own copies
        while not stopping.wait(0.5):
            if any(p.exitcode is not None for p in processes):
                break
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join()
        for s, handler in previous.items():
            signal.signal(s, handler)
    codes = [p.exitcode for p in processes if p.exitcode not in (0, -signal.SIGTERM)]
    return abs(codes[0]) if codes else 0

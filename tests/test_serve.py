"""``councilplan serve`` as a person starts it: a real process on a real port. With several
workers (on Linux) each listens on a socket of its own, so that connections opened together are
spread over them; Ctrl-C or SIGTERM stops them all; a port in use is named. Its worker thread
computes the plan variants queued while the API answers requests that write to the same SQLite
file; --no-worker leaves them to `councilplan period work`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from councilplan.cli import app
from councilplan.web import serving

pytestmark = pytest.mark.skipif(
    not serving.spreads_connections(), reason="SO_REUSEPORT spreads connections on Linux only"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(tmp_path: Path, port: int, workers: int, *options: str) -> subprocess.Popen:
    if not (tmp_path / "councilplan.sqlite").exists():  # serve reads a database; it makes none
        created = CliRunner().invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path)])
        assert created.exit_code == 0, created.output
    return subprocess.Popen(
        [sys.executable, "-m", "councilplan", "serve", "--data-dir", str(tmp_path)]
        + ["--port", str(port), "--workers", str(workers), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "COUNCILPLAN_DATABASE_URL"},
    )


def wait_until_up(proc: subprocess.Popen, port: int, workers: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        listening = _listening_pids(proc, port)
        if len(listening) == workers:
            return
        time.sleep(0.2)
    raise AssertionError(f"{workers} workers were not listening on {port} within a minute")


def _workers(proc: subprocess.Popen) -> list[psutil.Process]:
    return psutil.Process(proc.pid).children(recursive=True)


def _listening_pids(proc: subprocess.Popen, port: int) -> set[int]:
    return {
        w.pid
        for w in _workers(proc)
        for c in _connections(w)
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    }


def _connections(process: psutil.Process) -> list:
    try:
        return process.net_connections("tcp")
    except psutil.Error:
        return []


@pytest.mark.slow
def test_workers_each_listen_and_share_the_connections(tmp_path):
    port = free_port()
    proc = start(tmp_path, port, workers=2)
    try:
        wait_until_up(proc, port, workers=2)
        # 40 keep-alive connections opened together, as a script's or a benchmark's clients do.
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        for client in clients:
            client.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: councilplan\r\n\r\n")
            assert client.recv(12) == b"HTTP/1.1 200"
        ports = {client.getsockname()[1] for client in clients}
        served_by = {
            w.pid: sum(1 for c in _connections(w) if c.raddr and c.raddr.port in ports)
            for w in _workers(proc)
            if w.pid in _listening_pids(proc, port)
        }
        assert sum(served_by.values()) == 40
        # Each worker holds some; with one shared socket one worker would take nearly all.
        assert min(served_by.values()) >= 5, served_by
        for client in clients:
            client.close()
        workers = _workers(proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        gone, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_workers_stop_when_their_supervisor_is_killed(tmp_path):
    port = free_port()
    proc = start(tmp_path, port, workers=2)
    try:
        wait_until_up(proc, port, workers=2)
        workers = _workers(proc)
    finally:
        proc.kill()  # SIGKILL: no chance to stop the workers itself
        proc.wait()
    gone, alive = psutil.wait_procs(workers, timeout=20)
    for p in alive:
        p.kill()
    assert not alive


def test_a_port_in_use_is_named(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start(tmp_path, port, workers=2)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in err


def wait_until_answering(proc: subprocess.Popen, port: int) -> None:
    """One worker: the server is this process itself, up once it accepts a connection."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing answered on {port} within a minute")


def _variants(tmp_path: Path, period_id: int) -> dict[str, str]:
    from councilplan.councils import service
    from councilplan.store import default_url, open_store

    store = open_store(default_url(tmp_path), upgrade=False)
    try:
        return {v.name: v.status for v in service.list_variants(store, period_id)}
    finally:
        store.dispose()


def test_the_worker_thread_computes_while_the_api_writes_and_stops_on_ctrl_c(tmp_path):
    import httpx

    from test_cli_period import build_world

    world = build_world(tmp_path)
    port = free_port()
    proc = start(tmp_path, port, 1)
    try:
        wait_until_answering(proc, port)
        codes = []
        unasked = ["a", "b", "c"]
        deadline = time.monotonic() + 120
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            # The variants are asked for one at a time between logins, which write (a token and
            # its record entry) while the worker thread writes its claims, progress and results
            # to the same SQLite file: the two interleave however fast the worker is.
            while unasked or set(_variants(tmp_path, world.proposing).values()) != {"done"}:
                assert time.monotonic() < deadline, _variants(tmp_path, world.proposing)
                r = client.post("/api/tokens", json={"username": "kim", "password": "demo"})
                codes.append(r.status_code)
                if unasked:
                    r = client.post(
                        f"/api/periods/{world.proposing}/variants",
                        json={"name": unasked.pop(0)},
                        headers={"Authorization": f"Bearer {world.delegate_token}"},
                    )
                    codes.append(r.status_code)
        assert set(codes) == {201, 202}, codes
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the server stops, then its worker thread
        assert proc.wait(timeout=30) == 0
        out = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "computing plan variants" in out
    for name in ("a", "b", "c"):
        assert f"'{name}': done" in out, out


def test_no_worker_leaves_the_queue_to_period_work(tmp_path):
    import httpx

    from test_cli_period import build_world

    world = build_world(tmp_path, variants_in_proposing=("a",))
    port = free_port()
    proc = start(tmp_path, port, 1, "--no-worker")
    try:
        wait_until_answering(proc, port)
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=60).status_code == 200
        time.sleep(3)  # a worker thread would have claimed it at once (it computes in ~0.2 s)
        assert _variants(tmp_path, world.proposing) == {"a": "queued"}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    worked = CliRunner().invoke(app, ["period", "work", "--once", "--data-dir", str(tmp_path)])
    assert worked.exit_code == 0, worked.output
    assert _variants(tmp_path, world.proposing) == {"a": "done"}

"""How fast the HTML pages answer on the demo town, against the JSON API beside them.

    python benchmarks/pages.py                # 30 requests a page
    python benchmarks/pages.py --repeat 100

Builds the demo town (`councilplan demo` in a temporary folder, SQLite), starts one
`councilplan serve` on 127.0.0.1 (no variant worker), signs in as members of the demo and asks
each page ``--repeat`` times, one request at a time over one keep-alive connection, after two
untimed warm-up requests. The time is the client's wall time from sending to the last byte of
the answer. The goal: under 100 ms at the median for every page. The JSON endpoints that read
the same things (my account, a council's ballots, a ballot) are timed the same way, as the peer.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

GOAL_MS = 100.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def signed_in(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    page = client.get("/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/signin", data={"csrf": csrf, "username": username, "password": "demo"})
    assert r.status_code in (200, 303) and "councilplan_session" in client.cookies, r.text
    return client


def timed(client: httpx.Client, path: str, repeat: int) -> list[float]:
    for _ in range(2):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "COUNCILPLAN_DATABASE_URL"}
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        subprocess.run(
            [sys.executable, "-m", "councilplan", "demo", "--data-dir", str(data)],
            check=True,
            capture_output=True,
            env=env,
        )
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "councilplan", "serve", "--data-dir", str(data)]
            + ["--port", str(port), "--no-worker"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    httpx.get(base + "/static/site.css", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            run(base, args.repeat)
        finally:
            server.terminate()
            server.wait(timeout=10)


def run(base: str, repeat: int) -> None:
    ada, bea, ivy = (signed_in(base, who) for who in ("ada", "bea", "ivy"))
    councils = ada.get("/api/councils").json()
    by_name = {c["name"]: c["id"] for c in councils}
    hood, bakery = by_name["Riverside neighbourhood"], by_name["Bakery workers"]
    federation = by_name["Town planning federation"]
    ballots = ada.get(f"/api/councils/{federation}/ballots").json()
    adoption = next(b["id"] for b in ballots if b["purpose"] == "adoption")
    motion = next(
        b["id"] for b in ada.get(f"/api/councils/{hood}/ballots").json() if b["purpose"] == "motion"
    )
    delegate = ada.get("/api/delegates", params={"council_id": hood}).json()[0]["id"]
    rows = [
        ("sign-in page (signed out)", httpx.Client(base_url=base), "/"),
        ("my councils", ada, "/"),
        ("a council", ada, f"/councils/{hood}"),
        ("a yes/no ballot's result", ada, f"/ballots/{motion}"),
        ("a Schulze count, step by step", ada, f"/ballots/{adoption}"),
        ("a delegate (recall)", ada, f"/delegates/{delegate}"),
        ("my account (ledger, levy)", bea, "/account"),
        ("record hours", ada, f"/councils/{bakery}/hours"),
        ("disputes", bea, "/disputes"),
        ("the plan", ivy, "/plan/1"),
        ("the record (50 acts)", ada, "/record"),
        ("profile", ada, "/profile"),
        ("chart: labour by kind (SVG, cached)", ivy, "/plan/1/charts/labour.svg"),
        ("API peer: GET /api/me", ada, "/api/me"),
        ("API peer: GET /api/councils/{id}/ballots", ada, f"/api/councils/{hood}/ballots"),
        ("API peer: GET /api/ballots/{id}", ada, f"/api/ballots/{adoption}"),
    ]
    print(f"{'page':44} {'median ms':>10} {'p90 ms':>8} {'max ms':>8}  goal < {GOAL_MS:.0f} ms")
    medians = []
    for name, client, path in rows:
        times = sorted(timed(client, path, repeat))
        median = statistics.median(times)
        p90 = times[int(0.9 * (len(times) - 1))]
        if not name.startswith("API"):
            medians.append(median)
        verdict = "" if name.startswith("API") else ("ok" if median < GOAL_MS else "OVER")
        print(f"{name:44} {median:10.1f} {p90:8.1f} {times[-1]:8.1f}  {verdict}")
    print(
        f"pages: median of the medians {statistics.median(medians):.1f} ms, "
        f"slowest median {max(medians):.1f} ms ({repeat} requests a page, one at a time)"
    )


if __name__ == "__main__":
    main()

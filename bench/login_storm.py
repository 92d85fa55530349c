"""A signed-in page while sixteen people log in at once.

    .venv/bin/python bench/login_storm.py [--seconds 5] [--rounds 3] [--logins 16]

Liveroom runs under gunicorn with the shipped gunicorn.conf.py (gevent workers, one
per core) on a fresh SQLite database whose users have real scrypt password hashes.
One signed-in client asks for its channel list (``/channels/``) over and over, alone,
then while ``--logins`` clients log in again and again at once (log-in page, CSRF
token, form post: a correct password each time, so no throttling), in alternating
rounds. Prints p50/p95/max latency of the signed-in page in each phase, and the
log-ins' own latency and rate, for three servers in one run:

- ``hash on the loop``: ``LIVEROOM_HASH_IN_THREADPOOL=0``, how log-ins worked before:
  the scrypt hash runs on the worker's event loop and every other request of that
  worker waits for it;
- ``threadpool, N at once``: the shipped way, the hash runs in gevent's threadpool
  (scrypt releases the GIL), at most N per worker
  (``LIVEROOM_PASSWORD_CHECKS_AT_ONCE``, 1 by default).

Figures depend on the machine (the clients share its cores with the server): compare
the rows of one run, and each row's storm with its own "alone".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
PASSWORD = "storm-password"
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


# (name, hash in gevent's threadpool, LIVEROOM_PASSWORD_CHECKS_AT_ONCE)
RUNS = [
    ("hash on the loop", False, 1),
    ("threadpool, 1 at once", True, 1),  # as shipped
    ("threadpool, 2 at once", True, 2),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_database(path: Path, logins: int) -> None:
    """A channel with a reader and ``logins`` members, all with scrypt hashes."""
    from werkzeug.security import generate_password_hash

    from liveroom import create_app
    from liveroom.extensions import db
    from liveroom.models import Channel, Membership, User
    from liveroom.roles import AppRole, ChannelRole

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "SECRET_KEY": "bench",
            "INSTANCE_PATH": str(path.parent),
        }
    )
    # The production hash, computed once: every log-in of the storm pays for it.
    real_hash = generate_password_hash(PASSWORD)
    assert real_hash.startswith("scrypt:")
    with app.app_context():
        db.create_all()
        channel = Channel(name="Bench 101")
        db.session.add(channel)
        names = ["reader"] + [f"storm{n}" for n in range(logins)]
        for name in names:
            user = User(
                username=name,
                display_name=name.title(),
                role=AppRole.VIEWER,
                password_hash=real_hash,
            )
            db.session.add(Membership(channel=channel, user=user, role=ChannelRole.MEMBER))
        db.session.commit()


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def serve(database: Path, in_threadpool: bool, at_once: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "LIVEROOM_DATABASE_URL": f"sqlite:///{database}",
        "LIVEROOM_SECRET_KEY": "bench-secret",
        "LIVEROOM_ACCESS_LOG": "",
        "LIVEROOM_HASH_IN_THREADPOOL": "1" if in_threadpool else "0",
        "LIVEROOM_PASSWORD_CHECKS_AT_ONCE": str(at_once),
    }
    env.pop("LIVEROOM_REDIS_URL", None)
    process = subprocess.Popen(
        [BIN / "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process, port


async def log_in(
    base: str, username: str, connector: aiohttp.BaseConnector
) -> aiohttp.ClientSession:
    # unsafe=True: keep cookies from an IP address (127.0.0.1), as a browser does.
    http = aiohttp.ClientSession(
        connector=connector, connector_owner=False, cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    page = await (await http.get(f"{base}/login")).text()
    token = TOKEN.search(page).group(1)
    response = await http.post(
        f"{base}/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    await response.read()
    assert response.status == 302, f"log-in of {username} answered {response.status}"
    return http


async def read_page(http: aiohttp.ClientSession, url: str, seconds: float) -> list[float]:
    """Ask for ``url`` one request after another for ``seconds``; latencies in ms."""
    latencies = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        async with http.get(url, allow_redirects=False) as response:
            await response.read()
            assert response.status == 200, response.status
        latencies.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(0.02)
    return latencies


async def storm(
    base: str, n: int, connector: aiohttp.BaseConnector, stop: asyncio.Event
) -> list[float]:
    """``n`` clients logging in again and again until ``stop``; log-in latencies in ms."""
    latencies: list[float] = []

    async def one(k: int) -> None:
        while not stop.is_set():
            start = time.perf_counter()
            http = await log_in(base, f"storm{k}", connector)
            latencies.append((time.perf_counter() - start) * 1000)
            await http.close()

    await asyncio.gather(*(one(k) for k in range(n)))
    return latencies


async def run(base: str, logins: int, seconds: float, rounds: int) -> dict:
    """Rounds of "alone" then "storm", so load from outside the benchmark (the machine
    is shared) falls on both phases alike."""
    connector = aiohttp.TCPConnector(limit=0)
    reader = await log_in(base, "reader", connector)
    url = f"{base}/channels/"
    await read_page(reader, url, 1.0)  # warm up: caches, connections
    alone: list[float] = []
    under_storm: list[float] = []
    login_latencies: list[float] = []
    storm_seconds = 0.0
    for _ in range(rounds):
        alone += await read_page(reader, url, seconds)
        stop = asyncio.Event()
        started = time.perf_counter()
        storming = asyncio.create_task(storm(base, logins, connector, stop))
        await asyncio.sleep(0.5)  # the storm is under way
        under_storm += await read_page(reader, url, seconds)
        stop.set()
        login_latencies += await storming  # the log-ins under way finish
        storm_seconds += time.perf_counter() - started
    await reader.close()
    await connector.close()
    return {
        "alone": alone,
        "storm": under_storm,
        "logins": login_latencies,
        "logins_per_s": len(login_latencies) / storm_seconds,
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(
    database: Path, in_threadpool: bool, at_once: int, logins: int, seconds: float, rounds: int
) -> dict:
    process, port = serve(database, in_threadpool, at_once)
    try:
        return asyncio.run(run(f"http://127.0.0.1:{port}", logins, seconds, rounds))
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=3, help="alone/storm rounds per server")
    parser.add_argument("--logins", type=int, default=16, help="clients logging in at once")
    args = parser.parse_args()
    print(
        f"{os.cpu_count()} cores; /channels/ alone, then while {args.logins} clients log in "
        f"at once; {args.rounds} rounds of {args.seconds:g} s each\n"
    )
    header = (
        f"{'server':<24}{'page p50':>9}{'p95':>8}{'max':>8}"
        f"{'storm p50':>11}{'p95':>8}{'max':>8}{'p95 x':>8}"
        f"{'log-in p50':>12}{'p95':>8}{'log-ins/s':>11}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp_dir:
        for name, in_threadpool, at_once in RUNS:
            database = Path(tmp_dir) / f"storm-{in_threadpool}-{at_once}.sqlite"
            prepare_database(database, args.logins)
            result = measure(
                database, in_threadpool, at_once, args.logins, args.seconds, args.rounds
            )
            alone, under, logins = result["alone"], result["storm"], result["logins"]
            print(
                f"{name:<24}{statistics.median(alone):>9.1f}{percentile(alone, 95):>8.1f}"
                f"{max(alone):>8.1f}{statistics.median(under):>11.1f}"
                f"{percentile(under, 95):>8.1f}{max(under):>8.1f}"
                f"{percentile(under, 95) / percentile(alone, 95):>7.1f}x"
                f"{statistics.median(logins):>12.0f}{percentile(logins, 95):>8.0f}"
                f"{result['logins_per_s']:>11.1f}",
                flush=True,
            )
    print("\nlatencies in ms; 'p95 x': the page's p95 under the storm over its p95 alone")


if __name__ == "__main__":
    main()

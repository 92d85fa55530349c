"""Chat delivery in one live room: latency, loss and server memory.

    .venv/bin/python bench/sse_bench.py [--sizes 200,1000] [--seconds 30] [--rate 2]

For each room size it signs in N simulated participants (real HTTP: log-in page,
CSRF token, Join Meeting, then a Server-Sent Events stream each, with aiohttp), lets
the instructor post ``rate`` messages a second for ``seconds`` seconds, and records
when each participant's stream delivers each message. Liveroom runs under gunicorn
with the shipped gunicorn.conf.py on SQLite, then again with Redis
(LIVEROOM_REDIS_URL), and the same clients measure the floor (bench/floor_app.py, a
bare gevent fan-out) in the same run. Prints p50/p95/p99 latency (post sent to event
received), messages lost, the RSS of the server's processes, and p95 as a multiple
of the floor's. Figures are machine-dependent: compare ratios from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    BACKENDS,
    ROOT,
    children,
    free_port,
    percentile,
    postgres_database,
    rss_kib,
    seed_class,
    wait_for_port,
)
from common import serve as serve_gunicorn  # noqa: E402
from common import sign_in as sign_in_browser  # noqa: E402


@dataclass
class Client:
    http: aiohttp.ClientSession
    csrf: str = ""
    received: dict[int, float] = field(default_factory=dict)
    connected: asyncio.Event = field(default_factory=asyncio.Event)


async def sign_in(base: str, username: str, connector: aiohttp.BaseConnector) -> Client:
    browser = await sign_in_browser(base, username, connector)
    return Client(browser.http, browser.csrf)


def headers(client: Client) -> dict:
    return {"X-CSRFToken": client.csrf, "HX-Request": "true"}


MARK = re.compile(rb"bench-(\d+)-")


async def listen(client: Client, url: str) -> None:
    async with client.http.get(
        url, timeout=aiohttp.ClientTimeout(total=None, sock_read=None)
    ) as response:
        client.connected.set()
        async for line in response.content:
            if line.startswith(b"data:"):
                now = time.perf_counter()
                for match in MARK.finditer(line):
                    client.received.setdefault(int(match.group(1)), now)


async def run_clients(base: str, n: int, seconds: float, rate: float, floor: bool) -> dict:
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    semaphore = asyncio.Semaphore(40)
    clients: list[Client] = []
    room = session_id = None

    if floor:
        for _ in range(n):
            clients.append(
                Client(aiohttp.ClientSession(connector=connector, connector_owner=False))
            )
        stream_url = f"{base}/stream"
        poster = clients[0].http
    else:
        teacher = await sign_in(base, "teacher", connector)
        channel = await (await teacher.http.get(f"{base}/channels/1")).text()
        room = re.search(r"/rooms/([\w-]+)/start", channel).group(1)
        started = await (
            await teacher.http.post(f"{base}/rooms/{room}/start", headers=headers(teacher))
        ).text()
        session_id = re.search(r"session=(\d+)", started).group(1)

        async def join(k: int) -> Client:
            async with semaphore:
                client = await sign_in(base, f"p{k}", connector)
                response = await client.http.post(
                    f"{base}/rooms/{room}/join", headers=headers(client)
                )
                assert response.status == 200, await response.text()
                await response.read()
                return client

        clients = list(await asyncio.gather(*(join(k) for k in range(n))))
        # Streams resume after the last join: the room's steady state, not its joining.
        last = await (await teacher.http.get(f"{base}/rooms/{room}")).text()
        cursor = re.search(r"last_event_id=(\d+)", last).group(1)
        stream_url = f"{base}/live/rooms/{room}/stream?session={session_id}&last_event_id={cursor}"
        poster = teacher
        # The instructor's own page is open too (its stream keeps them present).
        teacher_stream = asyncio.create_task(listen(teacher, stream_url))

    tasks = [asyncio.create_task(listen(c, stream_url)) for c in clients]
    await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in clients)), 120)
    await asyncio.sleep(2)

    sent: dict[int, float] = {}
    total = int(seconds * rate)
    start = time.perf_counter()
    for seq in range(total):
        await asyncio.sleep(max(0.0, start + seq / rate - time.perf_counter()))
        body = f"bench-{seq}- the quick brown fox jumps over the lazy dog"
        sent[seq] = time.perf_counter()
        if floor:
            await (await poster.post(f"{base}/post", data=body)).read()
        else:
            response = await poster.http.post(
                f"{base}/rooms/{room}/chat", data={"body": body}, headers=headers(poster)
            )
            assert response.status == 200, await response.text()
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline and sum(len(c.received) for c in clients) < n * total:
        await asyncio.sleep(0.1)

    latencies = [
        (c.received[seq] - sent[seq]) * 1000 for c in clients for seq in sent if seq in c.received
    ]
    missing: dict[int, int] = {}
    for c in clients:
        for seq in sent:
            if seq not in c.received:
                missing[seq] = missing.get(seq, 0) + 1
    broken = sum(1 for t in tasks if t.done() and not t.cancelled() and t.exception())
    if missing or broken:
        print(f"  missing per message: {missing}; streams that failed: {broken}", flush=True)
        for t in tasks:
            if t.done() and not t.cancelled() and t.exception():
                print(f"  first stream failure: {t.exception()!r}", flush=True)
                break
    if not floor:
        tasks.append(teacher_stream)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for c in clients:
        await c.http.close()
    if not floor:
        await poster.http.close()
    await connector.close()
    return {"latencies": latencies, "expected": n * total}


def serve_liveroom(
    tmp: Path, n: int, database_url: str, redis_url: str | None
) -> tuple[subprocess.Popen, int]:
    seed_class(database_url, tmp, n)
    # All participants join first and open their streams after: without a stream
    # nobody counts as present for longer than the presence timeout, so give the
    # joining phase of a 1,000-person room time. (Chat delivery is what is timed.)
    server = serve_gunicorn(
        database_url, tmp / "server.log", redis_url, {"LIVEROOM_PRESENCE_TIMEOUT": "900"}
    )
    return server.process, server.port


def serve_floor() -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "floor_app.py"), str(port)])
    wait_for_port(port)
    return process, port


def measure(
    kind: str,
    n: int,
    seconds: float,
    rate: float,
    tmp: Path,
    database_url: str = "",
    redis_url: str | None = None,
) -> dict:
    if kind == "floor":
        process, port = serve_floor()
    else:
        (tmp / "server.log").write_bytes(b"")
        process, port = serve_liveroom(tmp, n, database_url, redis_url)
    try:
        result = asyncio.run(
            run_clients(f"http://127.0.0.1:{port}", n, seconds, rate, kind == "floor")
        )
        pids = [process.pid, *children(process.pid)]
        result["rss_mib"] = sum(rss_kib(pid) for pid in pids) / 1024
        result["workers"] = len(pids) - 1
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    if kind != "floor":
        log = (tmp / "server.log").read_text(errors="replace")
        result["pool_timeouts"] = log.count("QueuePool limit")
        result["errors"] = log.count("Traceback")
        if result["errors"]:
            keep = ROOT / "bench" / f"server-{n}-{int(time.time())}.log"
            keep.write_text(log)
            print(f"  server errors: {result['errors']}, log kept in {keep}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="200,1000")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=2)
    parser.add_argument(
        "--backends",
        default="sqlite,sqlite+redis",
        help=f"comma-separated, from {', '.join(BACKENDS)}",
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--no-redis", action="store_true", help="skip the +redis backends")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "LIVEROOM_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
        ),
        help="PostgreSQL server URL (a throwaway database is created on it)",
    )
    parser.add_argument("--no-floor", action="store_true", help="skip the bare gevent floor")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = [b for b in args.backends.split(",") if not (args.no_redis and "redis" in b)]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    print(f"{os.cpu_count()} cores; {args.rate:g} messages/s for {args.seconds:g} s per run\n")
    header = (
        f"{'run':<26}{'clients':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'lost':>7}"
        f"{'RSS MiB':>9}{'p95/floor':>11}{'pool t/o':>10}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for n in sizes:
            runs = []
            floor_p95 = float("nan")
            if not args.no_floor:
                floor = measure("floor", n, args.seconds, args.rate, tmp)
                floor_p95 = percentile(floor["latencies"], 95)
                runs.append(("floor (bare gevent)", floor))
                report(runs[-1], n, floor_p95)
            for backend in backends:
                database, _, bus = backend.partition("+")
                if database == "postgres":
                    name = f"liveroom_bench_{os.getpid()}"
                    url = postgres_database(args.postgres, name)
                else:
                    url = f"sqlite:///{tmp / f'bench-{n}-{backend}.sqlite'}"
                try:
                    result = measure(
                        "liveroom",
                        n,
                        args.seconds,
                        args.rate,
                        tmp,
                        url,
                        args.redis if bus else None,
                    )
                finally:
                    if database == "postgres":
                        postgres_database(args.postgres, name, drop_only=True)
                runs.append((f"liveroom {backend}", result))
                report(runs[-1], n, floor_p95)


def report(run: tuple[str, dict], n: int, floor_p95: float) -> None:
    name, result = run
    lat = result["latencies"]
    lost = result["expected"] - len(lat)
    ratio = percentile(lat, 95) / floor_p95 if floor_p95 else float("nan")
    print(
        f"{name:<26}{n:>8}{percentile(lat, 50):>9.1f}{percentile(lat, 95):>9.1f}"
        f"{percentile(lat, 99):>9.1f}{lost:>7}{result['rss_mib']:>9.0f}{ratio:>10.2f}x"
        f"{result.get('pool_timeouts', 0):>10}",
        flush=True,
    )


if __name__ == "__main__":
    main()

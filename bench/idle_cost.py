"""What doing nothing costs: CPU per gunicorn worker while nothing happens.

    .venv/bin/python bench/idle_cost.py [--people 1000] [--seconds 30]
        [--backends sqlite] (or postgres+redis, or both)

gunicorn with the shipped gunicorn.conf.py on a fresh database (one channel, its
Manager, N members, all signed in over real HTTP beforehand). Three phases, each
measured over ``--seconds`` from /proc (user + system time of each process):

1. **nothing connected**: the server alone, its hubs idle;
2. **N channel pages open**: each client reads the channel page and does what the
   page says: if it names a stream (``sse-connect="…"``) it holds that stream open;
   otherwise it polls the ``hx-get`` URL of the element whose ``hx-trigger`` is
   ``every Ns``, as htmx would (swapping in what a 200 answers and following its
   new trigger), starting at a random point of its first period;
3. **N idle listeners**: the Manager starts the meeting, the N members join, then
   all open the room's event stream and nothing more happens (no chat, no joins).
   As in sse_bench.py the streams start after the last join and presence lasts 15
   minutes without a stream, so the phase measures a quiet room, not its filling;
4. **nothing connected, hubs started**: the Manager ends the meeting, every stream
   closes, and the server idles again; each worker's hub, started lazily by the
   first stream, keeps watching the event log, which phase 1 may not show.

Prints CPU % of one core for each worker and the master, the clients' own CPU (this
process, on the same cores), and what the clients did (requests, stream messages).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import html
import random
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    SSE_CONNECT,
    STREAM_TIMEOUT,
    Browser,
    Server,
    add_backend_arguments,
    chosen_backends,
    fresh_database,
    keep_log_if_failed,
    machine,
    own_cpu_seconds,
    seed_class,
    serve,
    server_sent_events,
    sign_in,
)

TAG = re.compile(r"<\w+\b[^>]*>")
ATTRIBUTE = re.compile(r'([\w:-]+)="([^"]*)"')
EVERY = re.compile(r"every\s+(\d+(?:\.\d+)?)(ms|s)\b")


@dataclass
class Tally:
    """What the simulated pages did during a phase."""

    requests: int = 0
    changed: int = 0
    errors: int = 0
    messages: int = 0
    streams: int = 0
    kinds: Counter = field(default_factory=Counter)


def poller(page: str) -> tuple[str, float] | None:
    """The URL and period of the first element that polls (``hx-trigger="every Ns"``)."""
    for tag in TAG.finditer(page):
        attributes = dict(ATTRIBUTE.findall(tag.group(0)))
        every = EVERY.search(attributes.get("hx-trigger", ""))
        if every and "hx-get" in attributes:
            period = float(every.group(1)) / (1000 if every.group(2) == "ms" else 1)
            return html.unescape(attributes["hx-get"]), period
    return None


async def hold_stream(browser: Browser, url: str, tally: Tally) -> None:
    """An EventSource: read what comes, reconnect when cut off."""
    while True:
        try:
            async with browser.http.get(url, timeout=STREAM_TIMEOUT) as response:
                if response.status != 200:
                    tally.errors += 1
                else:
                    tally.streams += 1
                    async for event in server_sent_events(response):
                        tally.messages += 1
                        tally.kinds[event.event] += 1
        except (TimeoutError, aiohttp.ClientError):
            tally.errors += 1
        await asyncio.sleep(1)


async def channel_page(base: str, browser: Browser, tally: Tally, opened: asyncio.Event) -> None:
    """An open channel page: its stream if it names one, else its polling."""
    page = await (await browser.http.get(f"{base}/channels/1")).text()
    opened.set()
    if stream := SSE_CONNECT.search(page):
        await hold_stream(browser, base + html.unescape(stream.group(1)), tally)
        return
    polling = poller(page)
    if polling is None:
        return
    url, period = polling
    await asyncio.sleep(random.uniform(0, period))
    while True:
        started = time.perf_counter()
        try:
            async with browser.http.get(base + url, headers={"HX-Request": "true"}) as response:
                body = await response.text()
                tally.requests += 1
                if response.status == 200:
                    tally.changed += 1
                    polling = poller(body) or polling
                    url, period = polling
                elif response.status != 204:
                    tally.errors += 1
        except aiohttp.ClientError:
            tally.errors += 1
        await asyncio.sleep(max(0.0, period - (time.perf_counter() - started)))


async def measure(server: Server, seconds: float) -> dict:
    """CPU seconds per process and of the clients over ``seconds``, as % of a core."""
    before, client_before = server.cpu(), own_cpu_seconds()
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    wall = time.perf_counter() - started
    after, client_after = server.cpu(), own_cpu_seconds()
    pids = list(before)
    return {
        "master": (after.get(pids[0], 0) - before[pids[0]]) / wall * 100,
        "workers": [(after.get(p, 0) - before[p]) / wall * 100 for p in pids[1:]],
        "clients": (client_after - client_before) / wall * 100,
    }


async def phases(server: Server, people: int, seconds: float) -> list[tuple[str, dict, Tally]]:
    base = server.base
    connector = aiohttp.TCPConnector(limit=0)
    gate = asyncio.Semaphore(40)

    async def signed_in(username: str) -> Browser:
        async with gate:
            return await sign_in(base, username, connector)

    teacher = await signed_in("teacher")
    browsers = list(await asyncio.gather(*(signed_in(f"p{k}") for k in range(people))))
    await asyncio.sleep(5)  # let the sign-ins' work finish before the quiet phase
    results = [("nothing connected", await measure(server, seconds), Tally())]

    tally = Tally()
    opened = [asyncio.Event() for _ in browsers]

    async def open_page(browser: Browser, done: asyncio.Event) -> None:
        async with gate:
            task = asyncio.create_task(channel_page(base, browser, tally, done))
            await done.wait()
        await task

    pages = [asyncio.create_task(open_page(b, e)) for b, e in zip(browsers, opened, strict=True)]
    await asyncio.gather(*(e.wait() for e in opened))
    await asyncio.sleep(5)
    tally.requests = tally.changed = tally.messages = 0
    tally.kinds.clear()
    cpu = await measure(server, seconds)
    results.append((f"{people:,} channel pages open", cpu, tally))
    for task in pages:
        task.cancel()
    await asyncio.gather(*pages, return_exceptions=True)

    channel = await (await teacher.http.get(f"{base}/channels/1")).text()
    room = re.search(r"/rooms/([\w-]+)/start", channel).group(1)
    panel = await (
        await teacher.http.post(f"{base}/rooms/{room}/start", headers=teacher.htmx())
    ).text()
    stream_url = html.unescape(SSE_CONNECT.search(panel).group(1))

    async def join(browser: Browser) -> None:
        async with gate:
            answer = await browser.http.post(f"{base}/rooms/{room}/join", headers=browser.htmx())
            await answer.read()

    await asyncio.gather(*(join(b) for b in browsers))
    # Streams resume after the last join: a quiet room, not its filling (sse_bench.py).
    page = await (await teacher.http.get(f"{base}/rooms/{room}")).text()
    cursor = re.search(r"last_event_id=(\d+)", page).group(1)
    quiet_url = base + re.sub(r"last_event_id=\d+", f"last_event_id={cursor}", stream_url)
    tally = Tally()
    streams = [asyncio.create_task(hold_stream(b, quiet_url, tally)) for b in [teacher, *browsers]]
    deadline = time.perf_counter() + 120
    while tally.streams < len(streams) and time.perf_counter() < deadline:
        await asyncio.sleep(0.5)
    await asyncio.sleep(5)
    tally.messages = 0
    tally.kinds.clear()
    cpu = await measure(server, seconds)
    # A copy: the end of the meeting below still adds to the live tally.
    results.append((f"{people + 1:,} idle listeners (live room)", cpu, copy.deepcopy(tally)))
    # The meeting ends (every stream hangs up): the hubs keep running, with nobody.
    await (await teacher.http.post(f"{base}/rooms/{room}/end", headers=teacher.htmx())).read()
    for task in streams:
        task.cancel()
    await asyncio.gather(*streams, return_exceptions=True)
    await asyncio.sleep(10)
    results.append(("nothing connected, hubs started", await measure(server, seconds), Tally()))
    for browser in [teacher, *browsers]:
        await browser.http.close()
    await connector.close()
    return results


def report(backend: str, seconds: float, results: list[tuple[str, dict, Tally]]) -> None:
    print(f"\n{backend}: CPU % of one core over {seconds:g} s")
    header = f"  {'phase':<36}{'workers':>16}{'master':>8}{'clients':>9}  what the clients did"
    print(header)
    for name, cpu, tally in results:
        workers = " ".join(f"{w:.1f}" for w in cpu["workers"])
        did = (
            f"{tally.requests / seconds:.0f} polls/s ({tally.changed} changed), "
            f"{tally.streams} streams, {tally.messages} messages"
            f"{f' {dict(tally.kinds)}' if tally.kinds else ''}, {tally.errors} errors"
        )
        print(f"  {name:<36}{workers:>16}{cpu['master']:>8.1f}{cpu['clients']:>9.1f}  {did}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30, help="each phase's measurement")
    add_backend_arguments(parser, "sqlite")
    args = parser.parse_args()
    backends = chosen_backends(parser, args)
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for backend in backends:
            with fresh_database(backend, tmp, args.postgres, "idle") as url:
                seed_class(url, tmp, args.people)
                server = serve(
                    url,
                    tmp / f"server-{backend}.log",
                    args.redis if "redis" in backend else None,
                    {"LIVEROOM_PRESENCE_TIMEOUT": "900"},
                )
                try:
                    results = asyncio.run(phases(server, args.people, args.seconds))
                finally:
                    server.stop()
                report(backend, args.seconds, results)
                print(f"  machine after the run: {machine()}", flush=True)
                keep_log_if_failed(server, f"idle-{backend}")


if __name__ == "__main__":
    main()

"""Writes under load: a busy chat in one live room, and what it does to other requests.

    .venv/bin/python bench/chat_load.py [--listeners 1000] [--posters 200] [--seconds 20]
        [--backends sqlite,postgres,postgres+redis]

For each backend: a fresh database with one class, gunicorn with the shipped
gunicorn.conf.py (gevent workers, one per core). ``listeners`` participants sign in
over real HTTP, click Join Meeting and open the room's event stream; ``posters`` of
them then post chat at their rate limit (participants: 5 in 5 s, so one a second
each, the posters spread evenly over the second) for ``seconds`` seconds. Meanwhile
one signed-in browser asks, ten times a second, for GET /healthz and for the channel
page: requests that write nothing and wait for no lock, whose latency shows whether
the writes stall the workers. The same probe runs for a few seconds before the
posting starts (streams open, nobody posting) for comparison.

Reported per backend: posts accepted, refused by the rate limit (429: expected, not
an error), answered 503 (the database was busy past its patience), other errors;
post latency p50/p95/p99 (every answered post); delivery latency p50/p95 (post sent
to message received, on every tenth listener); (listener, message) pairs lost (an
accepted message never delivered by the end of the drain); streams the server cut
off (a listener 2,000 messages behind; it reconnects with Last-Event-ID, as a
browser does, and catches up from the log); and the probe's p50/p95 before and
during the load. Client and server share the machine: compare rows of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402  (bench/ is not a package)
    STREAM_TIMEOUT,
    Browser,
    add_backend_arguments,
    chosen_backends,
    fresh_database,
    keep_log_if_failed,
    percentile,
    seed_class,
    serve,
    sign_in,
)

MARK = re.compile(rb"chatload-(\d+)-")
EVENT_ID = re.compile(rb"^id: (\d+)$", re.MULTILINE)
# Every tenth listener records when each message arrived (the others only which).
TIMED_EVERY = 10
PROBE_GAP = 0.1
IDLE_PROBE_SECONDS = 5


@dataclass
class Listener:
    """One participant's open room stream, reconnecting as a browser's EventSource
    does: after the server hangs up, again with ``Last-Event-ID``."""

    browser: Browser
    timed: bool
    seen: set[bytes] = field(default_factory=set)
    arrived: dict[int, float] = field(default_factory=dict)
    last_event_id: str = ""
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    reconnects: int = 0
    failures: list[str] = field(default_factory=list)


async def listen(listener: Listener, url: str, stop: asyncio.Event) -> None:
    while not stop.is_set():
        headers = {"Last-Event-ID": listener.last_event_id} if listener.last_event_id else {}
        try:
            async with listener.browser.http.get(
                url, headers=headers, timeout=STREAM_TIMEOUT
            ) as response:
                if response.status != 200:
                    listener.failures.append(f"stream answered {response.status}")
                    await asyncio.sleep(1)
                    continue
                listener.connected.set()
                tail = b""
                async for chunk in response.content.iter_any():
                    now = time.perf_counter()
                    # A marker may straddle two chunks: look at the end of the last one too.
                    text = tail + chunk
                    tail = text[-64:]
                    marks = MARK.findall(text)
                    listener.seen.update(marks)
                    if listener.timed:
                        for mark in marks:
                            listener.arrived.setdefault(int(mark), now)
                    if ids := EVENT_ID.findall(chunk):
                        listener.last_event_id = ids[-1].decode()
        except (TimeoutError, aiohttp.ClientError) as error:
            listener.failures.append(repr(error))
        if not stop.is_set():
            listener.reconnects += 1
            await asyncio.sleep(0.5)


@dataclass
class Posts:
    sent: dict[int, float] = field(default_factory=dict)
    accepted: set[int] = field(default_factory=set)
    refused: int = 0  # 429: the rate limit, as designed
    busy: int = 0  # 503: the database's lock was not free within the patience
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)


async def post_at_rate_limit(
    browser: Browser,
    url: str,
    first_seq: int,
    stride: int,
    start: float,
    until: float,
    posts: Posts,
    private: bool,
) -> None:
    """One participant posting one message a second (5 in 5 s, their limit)."""
    seq = first_seq
    tick = start
    while tick < until:
        await asyncio.sleep(max(0.0, tick - time.perf_counter()))
        body = f"chatload-{seq}- the quick brown fox jumps over the lazy dog"
        posts.sent[seq] = time.perf_counter()
        try:
            form = {"body": body, "to": "instructors"} if private else {"body": body}
            async with browser.http.post(url, data=form, headers=browser.htmx()) as r:
                await r.read()
                status = r.status
        except aiohttp.ClientError as error:
            status = type(error).__name__
        posts.latencies.append((time.perf_counter() - posts.sent[seq]) * 1000)
        if status == 200:
            posts.accepted.add(seq)
        elif status == 429:
            posts.refused += 1
        elif status == 503:
            posts.busy += 1
        else:
            posts.errors[str(status)] = posts.errors.get(str(status), 0) + 1
        seq += stride
        tick += 1.0


async def probe(browser: Browser, base: str, until: float) -> dict[str, list[float]]:
    """GET /healthz and the channel page, alternately, one every PROBE_GAP seconds until
    ``until``, each sent on time whether or not the last was answered: a stalled worker
    shows as many slow answers, not as one answer that kept the probe from asking."""
    timings: dict[str, list[float]] = {"healthz": [], "channel": [], "failed": []}
    urls = [("healthz", f"{base}/healthz"), ("channel", f"{base}/channels/1")]

    async def ask(name: str, url: str) -> None:
        began = time.perf_counter()
        try:
            async with browser.http.get(url) as response:
                await response.read()
                ok = response.status == 200
        except aiohttp.ClientError:
            ok = False
        timings[name if ok else "failed"].append((time.perf_counter() - began) * 1000)

    asked = []
    tick = time.perf_counter()
    while tick < until:
        await asyncio.sleep(max(0.0, tick - time.perf_counter()))
        asked.append(asyncio.create_task(ask(*urls[len(asked) % 2])))
        tick += PROBE_GAP
    await asyncio.gather(*asked)
    return timings


async def run_load(
    base: str, listeners: int, posters: int, seconds: float, drain: float, private: bool
) -> dict:
    connector = aiohttp.TCPConnector(limit=0)
    semaphore = asyncio.Semaphore(40)
    teacher = await sign_in(base, "teacher", connector)
    channel = await (await teacher.http.get(f"{base}/channels/1")).text()
    room = re.search(r"/rooms/([\w-]+)/start", channel).group(1)
    started = await (
        await teacher.http.post(f"{base}/rooms/{room}/start", headers=teacher.htmx())
    ).text()
    session = re.search(r"session=(\d+)", started)
    if session is None:
        raise RuntimeError(f"Start Meeting did not open the room panel: {started[:2000]}")
    session_id = session.group(1)

    async def join(k: int) -> Browser:
        async with semaphore:
            browser = await sign_in(base, f"p{k}", connector)
            async with browser.http.post(
                f"{base}/rooms/{room}/join", headers=browser.htmx()
            ) as response:
                assert response.status == 200, await response.text()
            return browser

    browsers = list(await asyncio.gather(*(join(k) for k in range(listeners))))
    page = await (await teacher.http.get(f"{base}/rooms/{room}")).text()
    cursor = re.search(r"last_event_id=(\d+)", page).group(1)
    stream_url = f"{base}/live/rooms/{room}/stream?session={session_id}&last_event_id={cursor}"
    stop = asyncio.Event()
    people = [Listener(b, timed=private or k % TIMED_EVERY == 0) for k, b in enumerate(browsers)]
    teacher_listener = Listener(teacher, timed=False)
    tasks = [asyncio.create_task(listen(p, stream_url, stop)) for p in [*people, teacher_listener]]
    await asyncio.wait_for(asyncio.gather(*(p.connected.wait() for p in people)), 120)

    # The probe signs in as someone who is in no room: its requests touch no room rows.
    prober = await sign_in(base, f"p{listeners}", connector)
    idle = await probe(prober, base, time.perf_counter() + IDLE_PROBE_SECONDS)

    posts = Posts()
    start = time.perf_counter() + 0.5
    until = start + seconds
    chat_url = f"{base}/rooms/{room}/chat"
    posting = [
        asyncio.create_task(
            post_at_rate_limit(
                browsers[k], chat_url, k, posters, start + k / posters, until, posts, private
            )
        )
        for k in range(posters)
    ]
    loaded = asyncio.create_task(probe(prober, base, until))
    await asyncio.gather(*posting)
    during = await loaded

    # Who should receive what: everyone every message, or (private) the author theirs.
    everything = {str(seq).encode() for seq in posts.accepted}
    expected = [
        {str(seq).encode() for seq in posts.accepted if seq % posters == k}
        if private
        else everything
        for k in range(len(people))
    ]

    def lost() -> int:
        return sum(len(want - p.seen) for want, p in zip(expected, people, strict=True))

    deadline = time.perf_counter() + drain
    while time.perf_counter() < deadline and lost():
        await asyncio.sleep(0.25)
    delivery = [
        (arrived - posts.sent[seq]) * 1000
        for p in people
        if p.timed
        for seq, arrived in p.arrived.items()
        if seq in posts.accepted
    ]
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for browser in [*browsers, teacher, prober]:
        await browser.http.close()
    await connector.close()
    return {
        "posts": posts,
        "delivery": delivery,
        "lost": lost(),
        "reconnects": sum(p.reconnects for p in people),
        "stream_failures": sum(len(p.failures) for p in people),
        "idle": idle,
        "during": during,
    }


def report(backend: str, result: dict) -> None:
    posts: Posts = result["posts"]
    lat = posts.latencies
    idle, during = result["idle"], result["during"]
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(posts.errors.items())) or "0"
    print(f"\n== {backend}")
    print(
        f"  posts: {len(posts.sent)} sent, {len(posts.accepted)} accepted, "
        f"{posts.refused} refused (429), {posts.busy} busy (503), errors {errors}"
    )
    print(
        f"  post latency ms: p50 {percentile(lat, 50):.1f}  p95 {percentile(lat, 95):.1f}"
        f"  p99 {percentile(lat, 99):.1f}  max {max(lat, default=float('nan')):.1f}"
    )
    print(
        f"  delivery ms: p50 {percentile(result['delivery'], 50):.1f}"
        f"  p95 {percentile(result['delivery'], 95):.1f};  lost {result['lost']}"
        f"  (streams cut off and reconnected: {result['reconnects']},"
        f" stream errors: {result['stream_failures']})"
    )
    for name in ("healthz", "channel"):
        print(
            f"  {name:<8} ms: before p50 {percentile(idle[name], 50):.1f}"
            f" p95 {percentile(idle[name], 95):.1f} | during p50"
            f" {percentile(during[name], 50):.1f} p95 {percentile(during[name], 95):.1f}"
            f" max {max(during[name], default=float('nan')):.1f} ({len(during[name])} asked)"
        )
    print(f"  probe failures: before {len(idle['failed'])}, during {len(during['failed'])}")
    print(
        f"  server log: {result['tracebacks']} tracebacks, {result['pool_timeouts']} pool"
        f" timeouts, {result['locked']} 'database is locked', {result['worker_timeouts']}"
        f" worker timeouts, {result['long_waits']} lock waits over 1 s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listeners", type=int, default=1000)
    parser.add_argument("--posters", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument(
        "--drain", type=float, default=60, help="seconds to wait for deliveries to finish"
    )
    parser.add_argument(
        "--private",
        action="store_true",
        help="post to the instructors only: the same writes, delivered to two people each",
    )
    add_backend_arguments(parser, default="sqlite,postgres,postgres+redis")
    args = parser.parse_args()
    if not 0 < args.posters <= args.listeners:
        parser.error("--posters must be between 1 and --listeners")
    if args.seconds <= 0 or args.drain < 0:
        parser.error("--seconds must be greater than 0 and --drain at least 0")
    backends = chosen_backends(parser, args)
    print(
        f"{args.listeners} listeners, {args.posters} posting once a second for"
        f" {args.seconds:g} s{' to the instructors only' if args.private else ''};"
        f" backends: {', '.join(backends)}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for backend in backends:
            with fresh_database(backend, tmp, args.postgres, "chatload") as url:
                # One member more than listen: the probe, who is in no room.
                seed_class(url, tmp, args.listeners + 1)
                log = tmp / f"server-{backend}.log"
                server = serve(
                    url,
                    log,
                    args.redis if backend.endswith("+redis") else None,
                    # Everyone joins before any stream opens (see bench/README.md).
                    env={"LIVEROOM_PRESENCE_TIMEOUT": "900"},
                )
                try:
                    result = asyncio.run(
                        run_load(
                            server.base,
                            args.listeners,
                            args.posters,
                            args.seconds,
                            args.drain,
                            args.private,
                        )
                    )
                finally:
                    server.stop()
                result.update(server.log_counts())
                text = log.read_text(errors="replace")
                result["locked"] = text.count("database is locked")
                # gunicorn kills a worker whose event loop did not come round for 30 s.
                result["worker_timeouts"] = text.count("WORKER TIMEOUT")
                result["long_waits"] = text.count("waiting for SQLite's write lock")
                keep_log_if_failed(server, f"chatload-{backend}")
                report(backend, result)


if __name__ == "__main__":
    main()

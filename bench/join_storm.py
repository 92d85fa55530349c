"""A join storm: N signed-in people join one live meeting within a few seconds.

    .venv/bin/python bench/join_storm.py [--people 1000] [--seconds 10]
        [--backends sqlite,postgres+redis]

For each backend: a fresh database with one channel, its Manager and N members;
gunicorn with the shipped gunicorn.conf.py. Everyone signs in first over real HTTP
(the storm is about joining, not logging in), the Manager starts the meeting and
keeps its room page open, then the N clients click Join Meeting, spread evenly over
``--seconds``: an htmx POST to ``/rooms/<id>/join`` timed until the panel HTML has
arrived, after which each client opens the event stream the panel names
(``sse-connect``), as the browser would, and keeps its own copy of the people list:
the one in the panel, changed by every out-of-band fragment its stream delivers.

Prints errors, p50/p95/p99 of the time to the rendered panel, when the last
listener's list was right, how many listeners (N + the Manager) end up showing N+1
people (the count element and the names listed), how many people-list updates each
received, and the CPU seconds of the server (gunicorn master and workers) beside the
clients' (this process: all N run on the same cores). Prints figures only; it judges
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    SSE_CONNECT,
    STREAM_TIMEOUT,
    Browser,
    add_backend_arguments,
    analyze_postgres,
    chosen_backends,
    fresh_database,
    keep_log_if_failed,
    machine,
    own_cpu_seconds,
    percentile,
    postgres_cpu_seconds,
    seed_class,
    serve,
    server_sent_events,
    sign_in,
)

REFRESH_POST = re.compile(r'hx-post="([^"]+)"\s+hx-trigger="sse:refresh"')
COUNT = re.compile(r'id="people-count"[^>]*>([^<]*)<')
PEOPLE_LIST = re.compile(r'<ul[^>]*id="people-list"[^>]*>(.*?)</ul>', re.S)
PERSON = re.compile(r"<li\b([^>]*)>")
ATTRIBUTE = re.compile(r'([\w:-]+)="([^"]*)"')
OOB_OPEN = re.compile(r"<(\w+)\b([^>]*\bhx-swap-oob=\"[^\"]*\"[^>]*)>")


# -- the people list as a browser holds it --------------------------------------------


def people_in(fragment: str) -> list[tuple[str, str]]:
    """(element id, name) of each person item in ``fragment``."""
    found = []
    for match in PERSON.finditer(fragment):
        attributes = dict(ATTRIBUTE.findall(match.group(1)))
        if attributes.get("id", "").startswith("person-"):
            found.append((attributes["id"], html.unescape(attributes.get("data-name", ""))))
    return found


def closing(text: str, tag: str, start: int) -> int:
    """The index just past the ``</tag>`` that closes the element opened before
    ``start`` (elements of the same tag may nest inside)."""
    depth, position = 1, start
    opener, closer = re.compile(rf"<{tag}\b"), f"</{tag}>"
    while depth:
        end = text.find(closer, position)
        if end < 0:
            return len(text)
        depth += len(opener.findall(text, position, end)) - 1
        position = end + len(closer)
    return position


@lru_cache(maxsize=4096)
def people_changes(data: str) -> tuple[tuple[str, str, object], ...]:
    """What one room message does to the count and the people list, as htmx would
    swap its out-of-band fragments: (target id, swap style, payload). Cached: every
    listener of one audience receives the same bytes."""
    changes = []
    position = 0
    while match := OOB_OPEN.search(data, position):
        tag, attributes = match.group(1), dict(ATTRIBUTE.findall(match.group(2)))
        end = closing(data, tag, match.end())
        inner = data[match.end() : end - len(f"</{tag}>")]
        position = end
        style, _, selector = attributes["hx-swap-oob"].partition(":")
        target = selector.removeprefix("#") if selector else attributes.get("id", "")
        if style == "true":
            style = "outerHTML"
        if target == "people-count":
            changes.append((target, style, inner.strip()))
        elif target == "people-list":
            changes.append((target, style, tuple(people_in(inner))))
        elif target.startswith("person-"):
            whole = data[match.start() : end] if style == "outerHTML" else ""
            changes.append((target, style, tuple(people_in(whole))))
    return tuple(changes)


@dataclass
class RoomView:
    """One listener's people list and count, as its page shows them."""

    people: dict[str, str] = field(default_factory=dict)
    count: str = ""
    updates: int = 0
    # Characters of the "room" messages received (the lists most of them).
    received: int = 0
    refreshes: int = 0
    reconnects: int = 0
    last_event_id: str | None = None
    stream_url: str = ""
    refresh_url: str = ""
    correct_at: float | None = None

    def load_panel(self, panel: str) -> None:
        listed = PEOPLE_LIST.search(panel)
        self.people = dict(people_in(listed.group(1))) if listed else {}
        count = COUNT.search(panel)
        self.count = count.group(1).strip() if count else ""
        self.stream_url = html.unescape(SSE_CONNECT.search(panel).group(1))
        refresh = REFRESH_POST.search(panel)
        self.refresh_url = html.unescape(refresh.group(1)) if refresh else ""
        self.last_event_id = None

    def apply(self, data: str) -> None:
        changes = people_changes(data)
        if changes:
            self.updates += 1
        for target, style, payload in changes:
            if target == "people-count":
                self.count = payload
            elif target == "people-list":
                if style == "innerHTML" or style == "outerHTML":
                    self.people = dict(payload)
                elif style == "afterbegin":
                    self.people = {**dict(payload), **self.people}
                else:  # beforeend, and anything appended
                    self.people.update(payload)
            elif style == "delete":
                self.people.pop(target, None)
            elif style == "outerHTML":
                if payload:
                    self.people[target] = payload[0][1]  # same key: keeps its place
                else:
                    self.people.pop(target, None)


# -- one browser in the storm -----------------------------------------------------------


@dataclass
class Member:
    browser: Browser
    view: RoomView = field(default_factory=RoomView)
    answered_ms: float | None = None
    error: str = ""
    stream: asyncio.Task | None = None


async def listen(base: str, member: Member, stop: asyncio.Event) -> None:
    """Hold the panel's stream open as htmx-ext-sse does: apply "room" messages,
    fetch the panel again on "refresh", reconnect with Last-Event-ID when cut off."""
    view = member.view
    while not stop.is_set():
        headers = {"Last-Event-ID": view.last_event_id} if view.last_event_id else {}
        try:
            async with member.browser.http.get(
                base + view.stream_url, headers=headers, timeout=STREAM_TIMEOUT
            ) as response:
                if response.status != 200:
                    member.error = member.error or f"stream {response.status}"
                    await asyncio.sleep(1)
                    continue
                async for event in server_sent_events(response):
                    if event.id is not None:
                        view.last_event_id = event.id
                    if event.event == "room":
                        view.received += len(event.data)
                        view.apply(event.data)
                    elif event.event == "refresh" and view.refresh_url:
                        view.refreshes += 1
                        answer = await member.browser.http.post(
                            base + view.refresh_url, headers=member.browser.htmx()
                        )
                        panel = await answer.text()
                        if "sse-connect" not in panel:
                            member.error = member.error or "refresh: no panel"
                            return
                        view.load_panel(panel)
                        break  # the new panel opens its own stream
                else:
                    view.reconnects += 1  # the server hung up: EventSource reconnects
                    await asyncio.sleep(0.5)
        except (TimeoutError, aiohttp.ClientError) as error:
            member.error = member.error or f"stream: {error!r}"
            view.reconnects += 1
            await asyncio.sleep(0.5)


async def join(base: str, room: str, member: Member, at: float, stop: asyncio.Event) -> float:
    """Click Join Meeting at ``at``; returns how late the click was (s)."""
    await asyncio.sleep(max(0.0, at - time.perf_counter()))
    started = time.perf_counter()
    try:
        response = await member.browser.http.post(
            f"{base}/rooms/{room}/join",
            headers=member.browser.htmx(),
            timeout=aiohttp.ClientTimeout(total=300),
        )
        panel = await response.text()
        member.answered_ms = (time.perf_counter() - started) * 1000
        if response.status != 200 or "sse-connect" not in panel:
            member.error = f"join {response.status}"
            return started - at
    except (TimeoutError, aiohttp.ClientError) as error:
        member.error = f"join: {error!r}"
        return started - at
    member.view.load_panel(panel)
    member.stream = asyncio.create_task(listen(base, member, stop))
    return started - at


def looks_right(view: RoomView, expected: set[str]) -> tuple[bool, bool, bool]:
    """(count shows everyone, list names everyone, list names nobody else)."""
    digits = re.sub(r"\D", "", view.count)
    names = list(view.people.values())
    return (
        digits == str(len(expected)),
        len(names) == len(expected) and set(names) == expected,
        len(set(names)) == len(names) and set(names) <= expected,
    )


async def storm(server, people: int, seconds: float, settle: float) -> dict:
    base = server.base
    connector = aiohttp.TCPConnector(limit=0)
    gate = asyncio.Semaphore(40)

    async def signed_in(username: str) -> Browser:
        async with gate:
            return await sign_in(base, username, connector)

    teacher = Member(await signed_in("teacher"))
    members = [
        Member(b) for b in await asyncio.gather(*(signed_in(f"p{k}") for k in range(people)))
    ]
    channel = await (await teacher.browser.http.get(f"{base}/channels/1")).text()
    room = re.search(r"/rooms/([\w-]+)/start", channel).group(1)
    started = await teacher.browser.http.post(
        f"{base}/rooms/{room}/start", headers=teacher.browser.htmx()
    )
    teacher.view.load_panel(await started.text())
    stop = asyncio.Event()
    teacher.stream = asyncio.create_task(listen(base, teacher, stop))
    await asyncio.sleep(1)

    expected = {"Teacher"} | {f"Participant {k}" for k in range(people)}
    cpu_before, client_before = server.cpu(), own_cpu_seconds()
    postgres_before = postgres_cpu_seconds()
    t0 = time.perf_counter() + 0.5
    lateness = await asyncio.gather(
        *(join(base, room, m, t0 + k * seconds / people, stop) for k, m in enumerate(members))
    )
    joined_at = time.perf_counter() - t0

    listeners = [teacher, *members]
    last_change, last_updates = time.perf_counter(), -1
    while True:
        now = time.perf_counter()
        updates = sum(m.view.updates for m in listeners)
        if updates != last_updates:
            last_change, last_updates = now, updates
        for m in listeners:
            if m.view.correct_at is None and all(looks_right(m.view, expected)[:2]):
                m.view.correct_at = now - t0
        if all(m.view.correct_at is not None for m in listeners) or now - last_change > settle:
            break
        await asyncio.sleep(0.25)
    settled_at = time.perf_counter() - t0
    cpu_after, client_after = server.cpu(), own_cpu_seconds()
    postgres_after = postgres_cpu_seconds()

    stop.set()
    tasks = [m.stream for m in listeners if m.stream]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for m in listeners:
        await m.browser.http.close()
    await connector.close()

    checks = [looks_right(m.view, expected) for m in listeners]
    updates = [m.view.updates for m in listeners]
    return {
        "answers": [m.answered_ms for m in members if m.answered_ms is not None],
        "errors": [m.error for m in members if m.error],
        "late_p95_ms": percentile([x * 1000 for x in lateness], 95),
        "joined_s": joined_at,
        "settled_s": settled_at,
        "last_right_s": max((m.view.correct_at or float("nan") for m in listeners), default=0),
        "listeners": len(listeners),
        "count_right": sum(c[0] for c in checks),
        "list_right": sum(c[1] for c in checks),
        "no_ghosts": sum(c[2] for c in checks),
        "updates": updates,
        "received": [m.view.received for m in listeners],
        "refreshes": sum(m.view.refreshes for m in listeners),
        "reconnects": sum(m.view.reconnects for m in listeners),
        "server_cpu": sum(cpu_after.get(p, 0) - cpu_before.get(p, 0) for p in cpu_before),
        "worker_cpu": [cpu_after.get(p, 0) - cpu_before.get(p, 0) for p in list(cpu_before)[1:]],
        "client_cpu": client_after - client_before,
        # Every local postgres process, whatever database it serves: on SQLite (or a
        # remote server) this is 0 or the machine's other PostgreSQL work.
        "postgres_cpu": (
            postgres_after - postgres_before
            if postgres_before is not None and postgres_after is not None
            else None
        ),
        "window_s": settled_at + 0.5,
    }


def report(backend: str, people: int, r: dict) -> None:
    answers = r["answers"]
    print(f"\n{backend}: {people:,} joins over the storm window", flush=True)
    print(
        f"  join answered   n={len(answers):,}  errors={len(r['errors'])}  "
        f"p50={percentile(answers, 50) / 1000:.2f} s  p95={percentile(answers, 95) / 1000:.2f} s"
        f"  p99={percentile(answers, 99) / 1000:.2f} s  max={max(answers, default=0) / 1000:.2f} s"
    )
    if r["errors"]:
        print(f"  first errors: {sorted(set(r['errors']))[:5]}")
    print(
        f"  clicks late (client loop) p95={r['late_p95_ms']:.0f} ms; last answer at "
        f"{r['joined_s']:.1f} s; every list right at {r['last_right_s']:.1f} s; "
        f"stopped watching at {r['settled_s']:.1f} s"
    )
    n = r["listeners"]
    print(
        f"  listeners {n:,}: count shows {people + 1:,} in {r['count_right']:,}; list names "
        f"all {people + 1:,} in {r['list_right']:,}; no stranger or duplicate in "
        f"{r['no_ghosts']:,}; refreshes {r['refreshes']}, stream reconnects {r['reconnects']}"
    )
    u = r["updates"]
    print(
        f"  people-list updates per listener: min {min(u):,}  p50 {percentile(u, 50):,.0f}  "
        f"max {max(u):,}  total {sum(u):,}"
    )
    received = r["received"]
    print(
        f"  room messages per listener: p50 {percentile(received, 50) / 1000:,.0f} kB  "
        f"max {max(received) / 1000:,.0f} kB  total {sum(received) / 1e6:,.0f} MB"
    )
    window = r["window_s"]
    workers = ", ".join(f"{c:.1f}" for c in r["worker_cpu"])
    print(
        f"  CPU over {window:.1f} s: server {r['server_cpu']:.1f} s "
        f"({r['server_cpu'] / window:.0%} of a core; workers {workers}), "
        f"clients {r['client_cpu']:.1f} s ({r['client_cpu'] / window:.0%} of a core)"
        + (
            f", local PostgreSQL {r['postgres_cpu']:.1f} s" if r["postgres_cpu"] is not None else ""
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10, help="the joins spread over this")
    parser.add_argument(
        "--settle", type=float, default=15, help="stop watching after this long without updates"
    )
    add_backend_arguments(parser, "sqlite,postgres+redis")
    args = parser.parse_args()
    backends = chosen_backends(parser, args)
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for backend in backends:
            with fresh_database(backend, tmp, args.postgres, "storm") as url:
                seed_class(url, tmp, args.people)
                analyze_postgres(url)
                log = tmp / f"server-{backend}.log"
                server = serve(url, log, args.redis if "redis" in backend else None)
                try:
                    result = asyncio.run(storm(server, args.people, args.seconds, args.settle))
                finally:
                    server.stop()
                report(backend, args.people, result)
                print(f"  machine after the run: {machine()}", flush=True)
                keep_log_if_failed(server, f"storm-{backend}")


if __name__ == "__main__":
    main()

"""Pages as the data grows: requests per second against a constant endpoint.

    scripts/ensure-wrk                     # once: Debian's wrk
    .venv/bin/python bench/pages_bench.py [--users 2000] [--channels 200]
        [--memberships 10000] [--private-rooms 1000] [--seconds 10] [--connections 32]

Seeds a fresh database in bulk (SQLAlchemy core inserts through the app's own
models): users, channels each with its room, memberships, private rooms, and two
past meetings per channel with attendance rows. The measured person, ``alice``,
manages 20 channels, belongs to 80 more and owns 50 private rooms. gunicorn serves
``bench/pages_app.py`` (the app plus ``GET /bench/constant``, a fixed string that
touches no database) with the shipped gunicorn.conf.py, and wrk, with alice's
session cookie and ``--connections`` connections, asks for each page in turn: the
constant endpoint, the channel list, a channel page, My Rooms, a meeting's
attendance page, and the constant endpoint again. Prints requests per second of
each, its ratio to the constant endpoint (the mean of its two runs), and the SQL
statements one request of each page makes at this size (counted in-process with a
``before_cursor_execute`` listener, on the same database).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    LOGIN_TOKEN,
    PASSWORD,
    add_backend_arguments,
    cheap_hash,
    chosen_backends,
    close_seeding_app,
    fresh_database,
    keep_log_if_failed,
    machine,
    seeding_app,
    serve,
    session_cookie,
    sign_in,
)
from pages_app import CONSTANT_PATH  # noqa: E402

ALICE_MANAGES, ALICE_JOINS, ALICE_OWNS = 20, 80, 50
PAST_MEETINGS_PER_CHANNEL = 2


def seed(url: str, instance: Path, args: argparse.Namespace) -> dict[str, str]:
    """Write the data set in bulk; returns the measured URLs by page name."""
    from liveroom.extensions import db
    from liveroom.models import Channel, LiveSession, Membership, Participation, Room, User
    from liveroom.roles import AppRole, ChannelRole, RoomRole
    from liveroom.settings import set_setting
    from liveroom.text import name_key

    app = seeding_app(url, instance)
    users, channels = args.users, args.channels
    per_channel = args.memberships // channels
    start = time.perf_counter()
    password_hash = cheap_hash()
    now = datetime.now(UTC).replace(tzinfo=None)
    with app.app_context():
        insert = db.session.execute
        # User 1 is alice; users 2..(1 + private rooms - hers) own one private room each.
        owners = args.private_rooms - ALICE_OWNS
        insert(
            sa.insert(User),
            [
                {
                    "id": n,
                    "username": "alice" if n == 1 else f"u{n}",
                    "display_name": "Alice Bench" if n == 1 else f"Person {n:04}",
                    "password_hash": password_hash,
                    "role": AppRole.PRIVATE_ONLY if n <= 1 + owners else AppRole.VIEWER,
                }
                for n in range(1, users + 1)
            ],
        )
        insert(
            sa.insert(Channel),
            [
                {"id": c, "name": f"Channel {c:03}", "description": f"Course number {c}"}
                for c in range(1, channels + 1)
            ],
        )
        room_rows = [
            {
                "id": c,
                "public_id": f"channel-room-{c}",
                "name": f"Channel {c:03}",
                "name_key": name_key(f"Channel {c:03}"),
                "channel_id": c,
            }
            for c in range(1, channels + 1)
        ]
        for k in range(args.private_rooms):
            owner = 1 if k < ALICE_OWNS else 2 + (k - ALICE_OWNS)
            name = f"Private room {k:04}"
            room_rows.append(
                {
                    "id": channels + 1 + k,
                    "public_id": f"private-room-{k}",
                    "name": name,
                    "name_key": name_key(name),
                    "owner_id": owner,
                }
            )
        insert(sa.insert(Room), room_rows)

        members: dict[int, list[tuple[int, ChannelRole]]] = {}
        for c in range(1, channels + 1):
            chosen: list[tuple[int, ChannelRole]] = []
            if c <= ALICE_MANAGES:
                chosen.append((1, ChannelRole.MANAGER))
            elif c <= ALICE_MANAGES + ALICE_JOINS:
                chosen.append((1, ChannelRole.MEMBER))
            j = 0
            while len(chosen) < per_channel:
                user = 2 + (c * per_channel + j) % (users - 1)
                j += 1
                managed = any(r is ChannelRole.MANAGER for _, r in chosen)
                role = ChannelRole.MEMBER if managed else ChannelRole.MANAGER
                if all(user != u for u, _ in chosen):
                    chosen.append((user, role))
            members[c] = chosen
        insert(
            sa.insert(Membership),
            [
                {"channel_id": c, "user_id": u, "role": role}
                for c, chosen in members.items()
                for u, role in chosen
            ],
        )

        # Past meetings: everyone in the channel came, some twice (a reload).
        sessions, stays = [], []
        session_id = 0
        for c, chosen in members.items():
            manager = next(u for u, role in chosen if role is ChannelRole.MANAGER)
            for m in range(PAST_MEETINGS_PER_CHANNEL):
                session_id += 1
                began = now - timedelta(days=7 * (m + 1), hours=c % 24)
                sessions.append(
                    {
                        "id": session_id,
                        "room_id": c,
                        "started_at": began,
                        "started_by_id": manager,
                        "ended_at": began + timedelta(hours=1),
                        "ended_by_id": manager,
                        "end_reason": "ended",
                    }
                )
                for i, (u, role) in enumerate(chosen):
                    staff = role is not ChannelRole.MEMBER
                    visits = 2 if i % 5 == 0 else 1
                    for v in range(visits):
                        joined = began + timedelta(minutes=1 + i % 10 + 25 * v)
                        stays.append(
                            {
                                "session_id": session_id,
                                "user_id": u,
                                "room_role": RoomRole.INSTRUCTOR if staff else RoomRole.PARTICIPANT,
                                "joined_at": joined,
                                "last_seen_at": joined + timedelta(minutes=20),
                                "left_at": joined + timedelta(minutes=20),
                            }
                        )
        insert(sa.insert(LiveSession), sessions)
        insert(sa.insert(Participation), stays)
        set_setting("liveRoomEnabled", "true")
        set_setting("enableUserPrivateLiveRoom", "true")
        db.session.commit()
        print(
            f"seeded {users:,} users, {channels:,} channels, "
            f"{sum(len(c) for c in members.values()):,} memberships, "
            f"{args.private_rooms:,} private rooms, {len(sessions):,} past meetings with "
            f"{len(stays):,} attendance rows in {time.perf_counter() - start:.1f} s",
            flush=True,
        )
    close_seeding_app(app)
    # Alice manages channel 1; its most recent past meeting is session 1.
    return {
        "constant endpoint": CONSTANT_PATH,
        "channel list": "/channels/",
        "channel page": "/channels/1",
        "My Rooms": "/my-rooms",
        "attendance page": "/rooms/channel-room-1/sessions/1/attendance",
    }


def statements_per_request(url: str, instance: Path, pages: dict[str, str]) -> dict[str, int]:
    """SQL statements one signed-in request of each page executes, in-process."""
    from pages_app import add_constant

    from liveroom.extensions import db

    app = add_constant(seeding_app(url, instance))
    counted = {}
    client = app.test_client()
    login = client.get("/login").get_data(as_text=True)
    token = LOGIN_TOKEN.search(login).group(1)
    client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token})
    with app.app_context():
        engine = db.engine
    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    for name, path in pages.items():
        client.get(path)  # caches warm, as in the server under wrk
        statements = 0
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            response = client.get(path)
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        counted[name] = statements if response.status_code == 200 else -response.status_code
    close_seeding_app(app)
    return counted


async def signed_in_cookie(base: str, pages: dict[str, str]) -> str:
    """Alice's session cookie, after checking every page answers her 200."""
    async with aiohttp.TCPConnector() as connector:
        browser = await sign_in(base, "alice", connector)
        for name, path in pages.items():
            response = await browser.http.get(base + path, allow_redirects=False)
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"{name} ({path}) answered {response.status}")
            print(f"  {name:<20} {path:<48} {len(body):>8,} bytes", flush=True)
        cookie = session_cookie(browser)
        await browser.http.close()
    return cookie


WRK_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
WRK_ERRORS = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)|Socket errors:.*")
WRK_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def wrk(url: str, cookie: str, seconds: float, connections: int) -> dict:
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(connections, len(os.sched_getaffinity(0)))}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-H",
            f"Cookie: {cookie}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    latency = {p: float(v) * scale[u] for p, v, u in WRK_LATENCY.findall(out)}
    errors = [m.group(0) for m in WRK_ERRORS.finditer(out)]
    return {
        "rps": float(WRK_RPS.search(out).group(1)),
        "p50": latency.get("50", float("nan")),
        "p99": latency.get("99", float("nan")),
        "errors": "; ".join(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--memberships", type=int, default=10000)
    parser.add_argument("--private-rooms", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10, help="wrk's run per page")
    parser.add_argument("--connections", type=int, default=32)
    add_backend_arguments(parser, "sqlite")
    args = parser.parse_args()
    if args.channels < ALICE_MANAGES + ALICE_JOINS or args.private_rooms < ALICE_OWNS:
        parser.error(f"needs {ALICE_MANAGES + ALICE_JOINS}+ channels, {ALICE_OWNS}+ rooms")
    backends = chosen_backends(parser, args)
    print(f"{machine()}; wrk, {args.connections} connections", flush=True)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for backend in backends:
            with fresh_database(backend, tmp, args.postgres, "pages") as url:
                pages = seed(url, tmp, args)
                sql = statements_per_request(url, tmp, pages)
                server = serve(
                    url,
                    tmp / f"server-{backend}.log",
                    args.redis if "redis" in backend else None,
                    app="pages_app:build()",
                    pythonpath=str(Path(__file__).resolve().parent),
                )
                try:
                    cookie = asyncio.run(signed_in_cookie(server.base, pages))
                    for path in pages.values():  # warm each worker's caches
                        wrk(server.base + path, cookie, 1, args.connections)
                    runs = measure_pages(server.base, pages, cookie, args)
                finally:
                    server.stop()
                keep_log_if_failed(server, f"pages-{backend}")
                report(backend, runs, sql)
                print(f"  machine after the run: {machine()}", flush=True)


def measure_pages(
    base: str, pages: dict[str, str], cookie: str, args: argparse.Namespace
) -> list[tuple[str, dict]]:
    """The constant endpoint before every page and once more at the end: load from
    outside the benchmark then falls on a page and the constants beside it alike."""
    constant = pages["constant endpoint"]
    runs: list[tuple[str, dict]] = []
    for name, path in pages.items():
        if name == "constant endpoint":
            continue
        runs.append(
            ("constant endpoint", wrk(base + constant, cookie, args.seconds, args.connections))
        )
        runs.append((name, wrk(base + path, cookie, args.seconds, args.connections)))
    runs.append(("constant endpoint", wrk(base + constant, cookie, args.seconds, args.connections)))
    return runs


def report(backend: str, runs: list[tuple[str, dict]], sql: dict[str, int]) -> None:
    """Each page's rate beside the mean of the constant runs just before and after it."""
    constants = [r["rps"] for name, r in runs if name == "constant endpoint"]
    print(
        f"\n{backend}: constant endpoint {min(constants):,.0f} to {max(constants):,.0f} rps "
        f"over {len(constants)} runs ({constants[0] / 1000:.1f}k first, "
        f"{constants[-1] / 1000:.1f}k last); SQL statements of the constant endpoint: "
        f"{sql.get('constant endpoint', 0)}"
    )
    print(
        f"  {'page':<20}{'rps':>9}{'constant':>10}{'ratio':>7}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'SQL':>6}  errors"
    )
    for i, (name, r) in enumerate(runs):
        if name == "constant endpoint":
            continue
        beside = (runs[i - 1][1]["rps"] + runs[i + 1][1]["rps"]) / 2
        print(
            f"  {name:<20}{r['rps']:>9,.0f}{beside:>10,.0f}{r['rps'] / beside:>7.2f}"
            f"{r['p50']:>9.1f}{r['p99']:>9.1f}{sql.get(name, 0):>6}  {r['errors']}",
            flush=True,
        )


if __name__ == "__main__":
    main()

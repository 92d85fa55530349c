"""Where a Join Meeting's time goes when the room is already full: CPU ms per join,
SQL statements per join, and a cProfile, in-process.

    .venv/bin/python bench/profile_join.py                    # 1,000 present, 200 joins
    .venv/bin/python bench/profile_join.py --people 30 --joins 50
    .venv/bin/python bench/profile_join.py --messages 100 --sort tottime
    .venv/bin/python bench/profile_join.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432

``join_storm.py`` says how a 1,000-person join storm goes under gunicorn; this says
what one join of it costs the server and why. It seeds one channel (``seed_class``:
a Manager and members) into a fresh SQLite file (or, with ``--postgres``, a
throwaway database on that PostgreSQL server, dropped afterwards), the Manager starts the meeting
through the app, ``--people`` − 1 members are put in it directly (so ``--people``
are present, the Manager included), and ``--messages`` chat messages are written.
Then ``--joins`` members who are not in the room yet each click Join Meeting once
through Flask's test client, as the page does (an htmx POST with ``HX-Request`` and
the page's CSRF token), timed; and as many other members join under cProfile.
Every join must answer 200 with the panel.

Times are the requesting thread's CPU time, not the wall clock: the machine's other
work then moves them little, and CPU per join is what limits a storm's rate on two
cores; the profile uses the same clock (``--clock wall`` for the wall clock, which
charges waiting for PostgreSQL to psycopg's ``wait``). The stream hub is not started
(no stream is opened), so nothing else runs. Also printed: statements and
transactions per join (on PostgreSQL each transaction adds BEGIN and COMMIT or
ROLLBACK round trips) and, on PostgreSQL, the CPU of this database's backends.
"""

from __future__ import annotations

import argparse
import cProfile
import html
import io
import pstats
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    LOGIN_TOKEN,
    PAGE_TOKEN,
    PASSWORD,
    analyze_postgres,
    close_seeding_app,
    cpu_since,
    fresh_database,
    postgres_backends_cpu,
    postgres_cpu_seconds,
    seed_class,
    seeding_app,
)

PANEL = re.compile(r'class="room-panel"')
STREAM = re.compile(r'sse-connect="([^"]+)"')


def sign_in(app: object, username: str) -> tuple[object, str]:
    """A test client signed in through the log-in form, and its page's CSRF token."""
    client = app.test_client()
    token = LOGIN_TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    page = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    return client, PAGE_TOKEN.search(page).group(1)


def fill_room(app: object, present: int, messages: int) -> str:
    """Put members p0… in the live meeting (``present`` of them) and write ``messages``
    chat messages; returns the room's public id."""
    import sqlalchemy as sa

    from liveroom.extensions import db
    from liveroom.models import ChatMessage, LiveSession, Participation, Room, User
    from liveroom.roles import RoomRole

    with app.app_context():
        room = db.session.scalar(sa.select(Room))
        session = db.session.scalar(sa.select(LiveSession).where(LiveSession.ended_at.is_(None)))
        ids = dict(db.session.execute(sa.select(User.username, User.id)).all())
        people = [ids[f"p{n}"] for n in range(present)]
        if people:
            db.session.execute(
                sa.insert(Participation),
                [
                    {"session_id": session.id, "user_id": u, "room_role": RoomRole.PARTICIPANT}
                    for u in people
                ],
            )
        if messages:
            authors = people or [ids["teacher"]]
            db.session.execute(
                sa.insert(ChatMessage),
                [
                    {
                        "session_id": session.id,
                        "author_id": authors[k % len(authors)],
                        "body": f"Message {k}: https://example.org/{k}",
                    }
                    for k in range(messages)
                ],
            )
        db.session.commit()
        return room.public_id


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=1000, help="present before the joins")
    parser.add_argument("--joins", type=int, default=200, help="timed (and as many profiled)")
    parser.add_argument("--messages", type=int, default=0, help="chat so far in the meeting")
    parser.add_argument("--sort", default="cumulative", help="pstats order of the profile")
    parser.add_argument("--lines", type=int, default=40, help="lines of the profile")
    parser.add_argument(
        "--dump", metavar="FILE", help="also write the profile there, for pstats or snakeviz"
    )
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="the profile's clock: the thread's CPU time (the default: what a storm's rate "
        "depends on; waiting for the database counts nothing) or the wall clock",
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="after each join, open the stream its panel names and read its first chunk "
        "(slot, presence, replay, current lists), as the page does; timed with the join",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="profile on PostgreSQL: a server URL such as "
        "postgresql+psycopg://postgres@127.0.0.1:5432 (a throwaway database is made on it)",
    )
    args = parser.parse_args()

    import sqlalchemy as sa

    from liveroom.extensions import db

    backend = "postgres" if args.postgres else "sqlite"
    with (
        tempfile.TemporaryDirectory() as tmp_dir,
        fresh_database(backend, Path(tmp_dir), args.postgres or "", "profile") as url,
    ):
        tmp = Path(tmp_dir)
        present = max(args.people - 1, 0)  # the Manager is the other one
        seed_class(url, tmp, present + 2 * args.joins)
        app = seeding_app(url, tmp)
        app.config["LIVEROOM_PRESENCE_TIMEOUT"] = 10**6
        teacher, token = sign_in(app, "teacher")
        room = fill_room(app, 0, 0)
        started = teacher.post(
            f"/rooms/{room}/start", headers={"HX-Request": "true", "X-CSRFToken": token}
        )
        assert started.status_code == 200, started.status_code
        fill_room(app, present, args.messages)
        if args.postgres:
            analyze_postgres(url)
        joiners = [sign_in(app, f"p{n}") for n in range(present, present + 2 * args.joins)]

        statements: list[str] = []
        sizes: list[int] = []
        me = threading.get_ident()

        def note(_conn, _cursor, statement: str, parameters, *_rest) -> None:  # noqa: ANN001
            if threading.get_ident() == me:
                statements.append(f"{' '.join(statement.split())[:110]} -- {parameters!r:.60}")

        def note_transaction(kind: str):  # noqa: ANN202
            def listener(*_args) -> None:  # noqa: ANN002
                if threading.get_ident() == me:
                    transactions.append(kind)

            return listener

        # Each transaction costs round trips of its own on PostgreSQL (psycopg sends
        # BEGIN before the first statement, then COMMIT or ROLLBACK): counted apart.
        transactions: list[str] = []
        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", note)
        endings = {kind: note_transaction(kind) for kind in ("commit", "rollback")}
        for kind, listener in endings.items():
            sa.event.listen(engine, kind, listener)

        def join(client: object, csrf: str) -> None:
            response = client.post(
                f"/rooms/{room}/join", headers={"HX-Request": "true", "X-CSRFToken": csrf}
            )
            body = response.get_data(as_text=True)
            if response.status_code != 200 or not PANEL.search(body):
                raise RuntimeError(f"join answered {response.status_code}: {body[:300]}")
            sizes.append(len(response.get_data()))
            if args.stream:
                stream = client.get(html.unescape(STREAM.search(body).group(1)), buffered=False)
                if stream.status_code != 200:
                    raise RuntimeError(f"stream answered {stream.status_code}")
                next(iter(stream.response))  # the replay and the current lists
                stream.close()  # as a closed tab: the hub lets the listener go

        timed, profiled = joiners[: args.joins], joiners[args.joins :]
        cpu_ms, counts = [], []
        # The kernel's share (system time: sockets, polls, the loopback's TCP) apart.
        usage_before = resource.getrusage(resource.RUSAGE_THREAD)
        pg_before = postgres_cpu_seconds() if args.postgres else None
        backends_before = postgres_backends_cpu(url) if args.postgres else {}
        wall = time.perf_counter()
        ended: list[int] = []
        for client, csrf in timed:
            statements.clear()
            transactions.clear()
            start = time.thread_time()
            join(client, csrf)
            cpu_ms.append((time.thread_time() - start) * 1000)
            counts.append(len(statements))
            ended.append(len(transactions))
        wall = time.perf_counter() - wall
        usage_after = resource.getrusage(resource.RUSAGE_THREAD)
        user_ms = (usage_after.ru_utime - usage_before.ru_utime) / args.joins * 1000
        system_ms = (usage_after.ru_stime - usage_before.ru_stime) / args.joins * 1000
        pg_after = postgres_cpu_seconds() if pg_before is not None else None
        backends_ms = (
            cpu_since(backends_before, postgres_backends_cpu(url)) / args.joins * 1000
            if args.postgres
            else 0.0
        )
        last, last_transactions = statements[:], transactions[:]
        # cProfile's default clock is the wall clock, which charges the time spent
        # waiting for PostgreSQL's answers to psycopg's wait(): CPU time does not.
        profiler = cProfile.Profile(time.thread_time if args.clock == "cpu" else time.perf_counter)
        profiler.enable()
        for client, csrf in profiled:
            join(client, csrf)
        profiler.disable()
        sa.event.remove(engine, "before_cursor_execute", note)
        for kind, listener in endings.items():
            sa.event.remove(engine, kind, listener)

        print(
            f"{args.joins} joins into a room of {args.people:,} (then {args.people + args.joins:,}),"
            f" {args.messages} chat messages, on {engine.dialect.name}:"
        )
        what = "join and its stream's opening" if args.stream else "join"
        print(
            f"  CPU per {what}: median {statistics.median(cpu_ms):.2f} ms, "
            f"mean {statistics.fmean(cpu_ms):.2f} ms, max {max(cpu_ms):.2f} ms "
            f"(wall {wall / args.joins * 1000:.2f} ms per join); mean user {user_ms:.2f} ms, "
            f"system {system_ms:.2f} ms"
        )
        if pg_after is not None:
            print(
                f"  PostgreSQL server CPU per {what}: "
                f"{(pg_after - pg_before) / args.joins * 1000:.2f} ms (every local postgres "
                "process over the timed joins, the hub's reads included); "
                f"this database's backends alone: {backends_ms:.2f} ms"
            )
        print(
            f"  SQL statements per {what}: {min(counts)}–{max(counts)};"
            f" transactions {min(ended)}–{max(ended)} (the last: {', '.join(last_transactions)});"
            f" panel {sizes[-1]:,} bytes. The last join's statements:"
        )
        for statement in last:
            print("    " + statement)
        if args.dump:
            profiler.dump_stats(args.dump)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.lines)
        print(out.getvalue())
        close_seeding_app(app)


if __name__ == "__main__":
    main()

"""The admin pages at a big school's size: server time of each, in-process.

    .venv/bin/python bench/admin_bench.py [--runs 15] [--postgres [URL]]

Seeds a throwaway database (a SQLite file; with ``--postgres`` also a PostgreSQL
database, dropped afterwards) with 10,000 users, 200 channels, 10,000 memberships and
20,000 audit entries, in bulk through the app's own models. Then an admin signs in
with Flask's test client and each page of ``PAGES`` is asked ``--runs`` times; the
table shows the median and the slowest run in milliseconds, measured around the
request in the same process (no network, no gunicorn: the app's own work and its
queries). The goal is every page under 50 ms.

``PAGES`` is a list of (name, path): append the admin pages you add.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from liveroom import create_app  # noqa: E402
from liveroom.extensions import db  # noqa: E402
from liveroom.models import AuditEntry, Channel, Membership, Room, User  # noqa: E402
from liveroom.roles import AppRole, ChannelRole  # noqa: E402

USERS = 10_000
CHANNELS = 200
MEMBERSHIPS = 10_000
AUDIT_ENTRIES = 20_000
PASSWORD = "bench-password"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"

# (name, path): every admin page worth timing at this size.
PAGES: list[tuple[str, str]] = [
    ("users, first page", "/admin/users"),
    ("users, middle page", "/admin/users?page=100"),
    ("users, last page", "/admin/users?page=200"),
    ("users, searched", "/admin/users?q=lee"),
    ("users, searched (HTMX)", "/admin/users?q=lee&hx=1"),
    ("users, by username desc", "/admin/users?sort=username&dir=desc&page=50"),
    ("users, by role", "/admin/users?sort=role&page=150"),
    ("users, by created desc", "/admin/users?sort=created&dir=desc&page=100"),
    ("one user", "/admin/users/5000"),
    ("settings", "/admin/settings"),
    ("channels, first page", "/admin/channels"),
    ("channels, searched (HTMX)", "/admin/channels?q=channel+19&hx=1"),
    ("channels, all, by most members", "/admin/channels?status=all&sort=members&page=4"),
    ("one channel with its members", "/admin/channels/100"),
    ("a channel page, members managed", "/channels/100"),
    ("live now", "/admin/live"),
    ("audit log", "/admin/audit"),
    ("audit log, page 300", "/admin/audit?page=300"),
    ("audit log, by action (HTMX)", "/admin/audit?action=channel_created&page=50&hx=1"),
    (
        "audit log, by actor and dates",
        f"/admin/audit?actor=admin&from={date.today()}&to={date.today()}",
    ),
]

FIRST = ["Sam", "Priya", "Maria", "Alex", "Jordan", "Kim", "Noor", "Luca", "Ana", "Tom"]
LAST = ["Lee", "Patel", "Rivera", "Smith", "Nguyen", "Okafor", "Rossi", "Silva", "Berg", "Kato"]


def cheap_hash() -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def seed() -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    password_hash = cheap_hash()
    roles = [AppRole.VIEWER] * 8 + [AppRole.PRIVATE_ONLY, AppRole.ADMIN]
    db.session.execute(
        sa.insert(User),
        [
            {
                "username": "admin" if n == 0 else f"user{n:05d}",
                "display_name": f"{FIRST[n % 10]} {LAST[(n // 10) % 10]} {n}",
                "password_hash": password_hash,
                "role": AppRole.ADMIN if n == 0 else roles[n % 10],
                "created_at": now - timedelta(minutes=USERS - n),
                "must_change_password": False,
            }
            for n in range(USERS)
        ],
    )
    db.session.execute(
        sa.insert(Channel),
        [{"name": f"Channel {n:03d}", "description": ""} for n in range(CHANNELS)],
    )
    channel_ids = list(db.session.scalars(sa.select(Channel.id).order_by(Channel.id)))
    db.session.execute(
        sa.insert(Room),
        [
            {"name": f"Channel {n:03d}", "name_key": uuid.uuid4().hex, "channel_id": cid}
            for n, cid in enumerate(channel_ids)
        ],
    )
    user_ids = list(db.session.scalars(sa.select(User.id).order_by(User.id)))
    db.session.execute(
        sa.insert(Membership),
        [
            {
                "channel_id": channel_ids[n % CHANNELS],
                "user_id": user_ids[(n * 7) % USERS],
                "role": ChannelRole.MANAGER if n % 50 == 0 else ChannelRole.MEMBER,
            }
            for n in range(MEMBERSHIPS)
        ],
    )
    actions = ["user_created", "channel_created", "channel_role_set", "setting_changed"]
    db.session.execute(
        sa.insert(AuditEntry),
        [
            {
                "at": now - timedelta(seconds=AUDIT_ENTRIES - n),
                "actor_id": user_ids[0] if n % 3 else None,
                "action": actions[n % 4],
                "detail": f"user{n % USERS:05d}: something {n}",
            }
            for n in range(AUDIT_ENTRIES)
        ],
    )
    db.session.commit()


def measure(app, runs: int) -> list[tuple[str, float, float, float]]:
    """Each page's median and slowest wall time and its median CPU time in this
    process (on a busy machine the CPU time is the steadier figure; it leaves out
    PostgreSQL's own work, which runs in its server)."""
    client = app.test_client()
    response = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    results = []
    for name, path in PAGES:
        headers = {"HX-Request": "true"} if "hx=1" in path else {}
        times, cpu = [], []
        for _ in range(runs + 1):
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(path, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        times, cpu = times[1:], cpu[1:]  # the first run compiles templates and statements
        results.append((name, statistics.median(times), max(times), statistics.median(cpu)))
    return results


def run(url: str, instance: Path, runs: int) -> list[tuple[str, float, float, float]]:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
        }
    )
    with app.app_context():
        db.create_all()
        seed()
        # As autovacuum would soon after: statistics for the planner, and the visibility
        # map that lets PostgreSQL read a deep page from the index alone.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(
                sa.text("VACUUM ANALYZE" if url.startswith("postgresql") else "ANALYZE")
            )
    return measure(app, runs)


def print_table(label: str, results: list[tuple[str, float, float, float]]) -> None:
    print(f"\n{label}: ms per request (goal: median under 50)")
    width = max(len(row[0]) for row in results)
    print(f"  {'page':<{width}}  {'median':>7}  {'slowest':>7}  {'CPU':>7}")
    for name, median, slowest, cpu in results:
        flag = "" if median < 50 else "  <- over 50 ms"
        print(f"  {name:<{width}}  {median:7.1f}  {slowest:7.1f}  {cpu:7.1f}{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--postgres", nargs="?", const=DEFAULT_POSTGRES, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_dir = Path(tmp) / "sqlite"
        sqlite_dir.mkdir()
        print_table("SQLite", run(f"sqlite:///{sqlite_dir / 'bench.db'}", sqlite_dir, args.runs))
        if args.postgres:
            name = f"liveroom_admin_bench_{uuid.uuid4().hex[:8]}"
            server = sa.create_engine(f"{args.postgres}/postgres", isolation_level="AUTOCOMMIT")
            with server.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            try:
                pg_dir = Path(tmp) / "postgres"
                pg_dir.mkdir()
                print_table("PostgreSQL", run(f"{args.postgres}/{name}", pg_dir, args.runs))
            finally:
                with server.connect() as connection:
                    connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                server.dispose()


if __name__ == "__main__":
    main()

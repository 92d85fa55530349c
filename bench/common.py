"""What the benchmarks share: a real gunicorn, a fresh database, real HTTP sign-in.

Every benchmark measures Liveroom as it is deployed: gunicorn with the shipped
``gunicorn.conf.py``, a database made for the run (a SQLite file, or a throwaway
PostgreSQL database dropped afterwards), optionally Redis, and clients that sign in
through the log-in form as a browser does. The app's internals are used only to seed
the database (``create_app``, ``db``, the models), so a benchmark keeps working while
the code behind the HTTP interface moves.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
PASSWORD = "bench-password"
BACKENDS = ("sqlite", "sqlite+redis", "postgres", "postgres+redis")
DEFAULT_POSTGRES = os.environ.get(
    "LIVEROOM_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
LOGIN_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
PAGE_TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# The stream a page names (``sse-connect``), as htmx-ext-sse reads it.
SSE_CONNECT = re.compile(r'sse-connect="([^"]+)"')


def cheap_hash() -> str:
    """A fast password hash: benchmarks measure rooms and pages, not 1,000 scrypts
    (``bench/login_storm.py`` measures log-ins with the real hash)."""
    from werkzeug.security import generate_password_hash

    return generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


# -- processes ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def children(pid: int) -> list[int]:
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return []
    return [int(p) for p in out.split()]


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far, from /proc (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # After the command name: state is field 3, utime 14 and stime 15 (man 5 proc).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def postgres_cpu_seconds() -> float | None:
    """CPU seconds used so far by this machine's PostgreSQL server processes (their own
    and their exited children's), when the server runs here and /proc shows it; else
    None. It shares the cores with the app, so a storm's cost includes it."""
    total, found = 0.0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, fields = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if name.endswith("(postgres"):
            found = True
            # After the name: utime, stime, cutime, cstime are the 12th to 15th fields.
            total += sum(int(f) for f in fields.split()[11:15]) / CLOCK_TICKS
    return total if found else None


def postgres_backends_cpu(database_url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving ``database_url``'s database,
    by process id (when the server runs here). Unlike ``postgres_cpu_seconds`` it leaves
    out other databases' work on a shared server (other test suites, autovacuum of
    theirs): what one benchmark's statements cost the server, its connections' own
    processes only. Compare two readings with ``cpu_since``."""
    import sqlalchemy as sa

    server, name = database_url.rsplit("/", 1)
    admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        pids = connection.scalars(
            sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": name}
        ).all()
    admin.dispose()
    return {pid: cpu_seconds(pid) for pid in pids}


def cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings of ``postgres_backends_cpu``: a backend that
    started in between counts from zero (one that ended in between is not seen)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def own_cpu_seconds() -> float:
    """This process's CPU time: the simulated clients' share of the machine."""
    times = os.times()
    return times.user + times.system


@dataclass
class Server:
    """A gunicorn started with the shipped gunicorn.conf.py on a free port."""

    process: subprocess.Popen
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        """The master first, then its workers."""
        return [self.process.pid, *children(self.process.pid)]

    def workers(self) -> list[int]:
        return children(self.process.pid)

    def cpu(self) -> dict[int, float]:
        return {pid: cpu_seconds(pid) for pid in self.pids()}

    def rss_mib(self) -> float:
        return sum(rss_kib(pid) for pid in self.pids()) / 1024

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_counts(self) -> dict[str, int]:
        text = self.log.read_text(errors="replace")
        return {
            "tracebacks": text.count("Traceback"),
            "pool_timeouts": text.count("QueuePool limit"),
        }


def serve(
    database_url: str,
    log: Path,
    redis_url: str | None = None,
    env: dict[str, str] | None = None,
    app: str = "wsgi:app",
    pythonpath: str | None = None,
) -> Server:
    """Start gunicorn (``-c gunicorn.conf.py``) on ``database_url`` and wait for it."""
    port = free_port()
    environment = {
        **os.environ,
        "LIVEROOM_DATABASE_URL": database_url,
        "LIVEROOM_SECRET_KEY": "bench-secret",
        "LIVEROOM_ACCESS_LOG": "",
        **(env or {}),
    }
    environment.pop("LIVEROOM_REDIS_URL", None)
    if redis_url:
        environment["LIVEROOM_REDIS_URL"] = redis_url
    command = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
    if pythonpath:
        command += ["--pythonpath", pythonpath]
    process = subprocess.Popen(
        [*command, app],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "ab"),  # noqa: SIM115  (kept open for the server)
    )
    wait_for_port(port)
    return Server(process, port, log)


def keep_log_if_failed(server: Server, name: str) -> None:
    """Keep a server log that holds tracebacks next to the benchmarks, and say so."""
    counts = server.log_counts()
    if counts["tracebacks"]:
        keep = ROOT / "bench" / f"server-{name}-{int(time.time())}.log"
        keep.write_text(server.log.read_text(errors="replace"))
        print(f"  server tracebacks: {counts['tracebacks']}, log kept in {keep}", flush=True)


# -- databases ---------------------------------------------------------------------


def postgres_database(server: str, name: str, drop_only: bool = False) -> str:
    """A throwaway database on the PostgreSQL server; returns its URL. ``server`` may
    name a TCP address or a Unix socket directory (``postgresql+psycopg://postgres@/
    ?host=/var/run/postgresql``)."""
    import sqlalchemy as sa

    url = sa.engine.make_url(server)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if not drop_only:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_database(backend: str, tmp: Path, postgres: str, label: str) -> Iterator[str]:
    """The URL of an empty database for ``backend`` ("sqlite…" or "postgres…")."""
    if backend.startswith("postgres"):
        name = f"liveroom_bench_{label}_{os.getpid()}"
        url = postgres_database(postgres, name)
        try:
            yield url
        finally:
            postgres_database(postgres, name, drop_only=True)
    else:
        path = tmp / f"bench-{label}-{backend}.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        yield f"sqlite:///{path}"


def analyze_postgres(database_url: str) -> None:
    """ANALYZE a PostgreSQL database just seeded: a database in service has planner
    statistics, one made seconds ago has none until autovacuum's next round (a
    minute), and a planner that believes the tables empty loops over 1,000 users
    where it should hash them. Nothing on SQLite."""
    if not database_url.startswith("postgres"):
        return
    import sqlalchemy as sa

    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text("ANALYZE"))
    engine.dispose()


def seeding_app(database_url: str, instance: Path):  # noqa: ANN201  (a Flask app)
    """The app on ``database_url`` with its tables created, for writing seed data."""
    from liveroom import create_app
    from liveroom.extensions import db

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "bench",
            "INSTANCE_PATH": str(instance),
        }
    )
    with app.app_context():
        db.create_all()
    return app


def close_seeding_app(app) -> None:  # noqa: ANN001
    """Release the seeding app's connections and hub thread before the server starts."""
    from liveroom.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    hub = app.extensions.get("liveroom_hub")
    if hub is not None:
        hub.stop()


def seed_class(database_url: str, instance: Path, members: int) -> None:
    """One channel ("Bench 101", id 1) with its room, a Manager ``teacher`` and
    ``members`` members ``p0``… (users written directly, with a cheap hash)."""
    from liveroom.extensions import db
    from liveroom.models import Channel, Membership, Room, User
    from liveroom.roles import AppRole, ChannelRole
    from liveroom.settings import set_setting
    from liveroom.text import name_key

    app = seeding_app(database_url, instance)
    password_hash = cheap_hash()
    with app.app_context():
        # The room written with the models, not through the rooms service: seeding
        # keeps working while the service's modules move.
        channel = Channel(name="Bench 101")
        channel.room = Room(name=channel.name, name_key=name_key(channel.name))
        db.session.add(channel)
        teacher = User(
            username="teacher",
            display_name="Teacher",
            role=AppRole.VIEWER,
            password_hash=password_hash,
        )
        db.session.add(Membership(channel=channel, user=teacher, role=ChannelRole.MANAGER))
        for n in range(members):
            user = User(
                username=f"p{n}",
                display_name=f"Participant {n}",
                role=AppRole.VIEWER,
                password_hash=password_hash,
            )
            db.session.add(Membership(channel=channel, user=user, role=ChannelRole.MEMBER))
        set_setting("liveRoomEnabled", "true")
        db.session.commit()
    close_seeding_app(app)


# -- clients -----------------------------------------------------------------------


@dataclass
class Browser:
    """One signed-in browser: its cookies (in ``http``) and its page's CSRF token."""

    http: aiohttp.ClientSession
    csrf: str = ""
    username: str = ""
    extra: dict = field(default_factory=dict)

    def htmx(self) -> dict[str, str]:
        """The headers htmx sends with a request from a page."""
        return {"X-CSRFToken": self.csrf, "HX-Request": "true"}


def new_session(connector: aiohttp.BaseConnector) -> aiohttp.ClientSession:
    # unsafe=True: keep cookies from an IP address (127.0.0.1), as a browser does.
    return aiohttp.ClientSession(
        connector=connector, connector_owner=False, cookie_jar=aiohttp.CookieJar(unsafe=True)
    )


async def sign_in(base: str, username: str, connector: aiohttp.BaseConnector) -> Browser:
    """Log in through the real form (log-in page, its CSRF token, the post)."""
    http = new_session(connector)
    page = await (await http.get(f"{base}/login")).text()
    token = LOGIN_TOKEN.search(page).group(1)
    response = await http.post(
        f"{base}/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    text = await response.text()
    match = PAGE_TOKEN.search(text)
    if match is None:
        await http.close()
        raise RuntimeError(f"log-in of {username} failed ({response.status})")
    return Browser(http, match.group(1), username)


def session_cookie(browser: Browser) -> str:
    """The ``Cookie`` header value a signed-in browser sends (for wrk)."""
    return "; ".join(f"{c.key}={c.value}" for c in browser.http.cookie_jar)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def add_backend_arguments(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--backends", default=default, help=f"comma-separated, from {', '.join(BACKENDS)}"
    )
    parser.add_argument("--redis", default=DEFAULT_REDIS)
    parser.add_argument(
        "--postgres",
        default=DEFAULT_POSTGRES,
        help="PostgreSQL server URL (a throwaway database is created on it)",
    )


def chosen_backends(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    backends = [b for b in args.backends.split(",") if b]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    return backends


@dataclass
class ServerSentEvent:
    id: str | None
    event: str
    data: str


async def server_sent_events(response: aiohttp.ClientResponse):  # noqa: ANN201
    """The events of an open text/event-stream, as an EventSource assembles them
    (comments skipped, ``data:`` lines joined by newlines)."""
    event_id: str | None = None
    name = "message"
    data: list[str] = []
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                yield ServerSentEvent(event_id, name, "\n".join(data))
            name, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "data":
                data.append(value)
            elif key == "event":
                name = value
            elif key == "id":
                event_id = value


STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_read=None)


def machine() -> str:
    """Cores and load: the clients share the machine with the server (and, here, with
    other work), so every run says what it ran beside."""
    one, five, _ = os.getloadavg()
    return f"{len(os.sched_getaffinity(0))} cores, load average {one:.1f} (5 min {five:.1f})"


# -- process trees (browsers) ------------------------------------------------------


def parent_pids() -> dict[int, int]:
    """Every process's parent, by process id, from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])  # after the name: state, ppid
    return parents


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (a browser and its zygotes, renderers,
    GPU and network processes)."""
    parents = parent_pids()
    below: dict[int, list[int]] = {}
    for child, parent in parents.items():
        below.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(below.get(current, []))
    return found


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of each process in ``pid``'s tree; compare two readings with
    ``cpu_since`` (a process started in between counts from zero)."""
    return {p: cpu_seconds(p) for p in descendants(pid)}


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores, from
    /proc/stat: what every process here used, this benchmark's and others'."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS

"""Real gunicorn workers for the tests that need several processes: the shipped
gunicorn.conf.py (gevent workers), the demo data, on SQLite or a throwaway database on
the real PostgreSQL server. The server's log goes to a file the test can read."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import sqlalchemy as sa

from tests.databases import ON_POSTGRES, POSTGRES

ROOT = Path(__file__).resolve().parent.parent

# The database this run of the suite is on, as Gunicorn names it.
RUN_DATABASE = "postgres" if ON_POSTGRES else "sqlite"
REDIS_URL = "redis://127.0.0.1:6379/15"
DEMO_PASSWORDS = {
    "teacher": "liveroom-teacher",
    "student1": "liveroom-student",
    "student2": "liveroom-student",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def throwaway_postgres(name: str) -> str:
    """A new empty database on the test server; returns its URL."""
    admin = sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{POSTGRES}/{name}"


def drop_postgres(name: str) -> None:
    admin = sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class Gunicorn:
    """gunicorn with two gevent workers on a database loaded with the demo data.

    ``database`` is "sqlite" or "postgres", by default the one this run of the suite
    is on (``LIVEROOM_TEST_DATABASE``); extra keyword arguments are environment
    variables for the server (LIVEROOM_REDIS_URL, say). ``FLASK_DEBUG=1`` makes each
    stream say which worker holds it (the X-Liveroom-Worker header).
    """

    def __init__(
        self, tmp_path: Path, database: str | None = None, workers: int = 2, **env: str
    ) -> None:
        database = database or RUN_DATABASE
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.pg_name = None
        if database == "postgres":
            self.pg_name = f"liveroom_workers_{os.getpid()}_{self.port}"
            self.database_url = throwaway_postgres(self.pg_name)
        else:
            self.database_url = f"sqlite:///{tmp_path / 'workers.sqlite'}"
        self.env = {
            **os.environ,
            "LIVEROOM_DATABASE_URL": self.database_url,
            "LIVEROOM_SECRET_KEY": "workers-test-secret",
            # The workers' shared number and anything else generated: not in the
            # project's instance folder.
            "LIVEROOM_INSTANCE_PATH": str(tmp_path / "instance"),
            "LIVEROOM_ACCESS_LOG": "",
            "LIVEROOM_STREAM_HEARTBEAT": "0.5",
            **env,
        }
        self.env.pop("LIVEROOM_WORKERS", None)
        bin_dir = Path(sys.executable).parent
        subprocess.run(
            [bin_dir / "flask", "--app", "liveroom", "demo"],
            env=self.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        self.log_path = tmp_path / f"gunicorn-{self.port}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                bin_dir / "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "wsgi:app",
            ],
            env=self.env,
            cwd=ROOT,
            # The request log (stdout, liveroom/request_log.py) and everything else.
            stdout=self._log,
            stderr=self._log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.base}/login", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            self.stop()
            raise AssertionError("gunicorn did not start")
        self.engine = sa.create_engine(self.database_url)

    def log(self) -> str:
        """What the server wrote to its log so far."""
        return self.log_path.read_text(errors="replace")

    def login(self, username: str, password: str | None = None) -> requests.Session:
        """A signed-in person whose requests are HTMX requests with the CSRF header."""
        session = requests.Session()
        page = session.get(f"{self.base}/login").text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = session.post(
            f"{self.base}/login",
            data={
                "username": username,
                "password": password or DEMO_PASSWORDS[username],
                "csrf_token": token,
            },
        )
        assert response.ok, response.text
        token = re.search(r'"X-CSRFToken": "([^"]+)"', response.text).group(1)
        session.headers.update({"X-CSRFToken": token, "HX-Request": "true"})
        return session

    def biology_room(self, teacher: requests.Session) -> str:
        """The public id of the demo's Biology 101 room."""
        page = teacher.get(f"{self.base}/channels/1", headers={"HX-Request": ""}).text
        return re.search(r"/rooms/([\w-]+)/(?:start|join|button)", page).group(1)

    def add_member(self, username: str, password: str, channel: str = "Biology 101") -> None:
        """A new account (its display name from the username), member of ``channel``,
        through the CLI a school's admin uses."""
        flask = Path(sys.executable).parent / "flask"
        for command in (
            [
                "users",
                "create",
                username,
                "--password",
                password,
                "--display-name",
                username.title(),
            ],
            ["channels", "add-member", channel, username, "--role", "member"],
        ):
            subprocess.run(
                [flask, "--app", "liveroom", *command],
                env=self.env,
                cwd=ROOT,
                check=True,
                capture_output=True,
            )

    def scalar(self, sql: str, **params: object) -> object:
        """One value from the server's database (what was stored)."""
        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)  # quick shutdown: open streams need not drain
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()
        if hasattr(self, "engine"):
            self.engine.dispose()
        if self.pg_name:
            drop_postgres(self.pg_name)

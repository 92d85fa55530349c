"""Fixtures: a real app on a real database (SQLite, or PostgreSQL when
LIVEROOM_TEST_DATABASE=postgresql: see tests/databases.py), a test client, the CLI,
and log-in help."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.security import generate_password_hash

from liveroom import create_app
from liveroom.extensions import db
from liveroom.live import hub as hub_module
from liveroom.live.hub import hub_of
from liveroom.models import Channel, Room, User
from liveroom.roles import AppRole, ChannelRole
from liveroom.rooms import meetings, private
from liveroom.settings import set_setting
from tests import databases
from tests.sse import StreamReader

PASSWORD = "correct horse battery"
# The production hash (scrypt) is slow on purpose. Tests that are not about hashing
# share one cheap hash of PASSWORD so that hundreds of log-ins stay fast.
FAST_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def make_app(tmp_path: Path, **config: object) -> Flask:
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": databases.database_url(tmp_path),
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
            "LIVEROOM_STREAM_HEARTBEAT": 0.3,
            **config,
        }
    )
    if not databases.ON_POSTGRES:  # a PostgreSQL database is copied with its tables
        with app.app_context():
            db.create_all()
    return app


# Every app built while the tests run, however it was built (make_app, the browser
# tests' demo_app, create_app itself): a test's own apps stop their live hubs when it
# ends. A hub left running would keep calling on a database dropped meanwhile and log
# each failure with its traceback, from its own thread; on CPython 3.11.7 formatting a
# traceback parses source with ast, which at the same moment as another thread's
# ast.parse (werkzeug's, building an app's URL rules) raises "AST constructor
# recursion depth mismatch" (CPython gh-106905).
_apps_built: list[Flask] = []
_build_hub = hub_module.init_app


def _built(app: Flask) -> None:
    _build_hub(app)
    _apps_built.append(app)


hub_module.init_app = _built


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """The app with CSRF checks off; tests/test_security.py turns them back on."""
    app = make_app(tmp_path)
    yield app
    hub_of(app).stop()


def open_stream(
    client: FlaskClient,
    room: str,
    session_id: int,
    last_event_id: int = 0,
    headers: dict | None = None,
) -> StreamReader:
    """A room's SSE stream, read in the background."""
    response = client.get(
        f"/live/rooms/{room}/stream",
        query_string={"session": session_id, "last_event_id": last_event_id},
        headers=headers or {},
        buffered=False,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/event-stream"
    return StreamReader(response.response, on_close=response.close)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


class World:
    """Builds people, channels and settings in the real database, one line each."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def user(self, username: str, role: AppRole = AppRole.VIEWER, name: str | None = None) -> int:
        with self.app.app_context():
            user = User(
                username=username,
                display_name=name or username.title(),
                role=role,
                password_hash=FAST_HASH,
            )
            db.session.add(user)
            db.session.commit()
            return user.id

    def channel(self, name: str = "Biology 101", **members: ChannelRole) -> int:
        with self.app.app_context():
            channel = Channel(name=name)
            db.session.add(channel)
            db.session.flush()
            for username, role in members.items():
                user = db.session.scalar(sa.select(User).where(User.username == username))
                channel.memberships.append(_membership(user, role))
            meetings.channel_room(channel)
            db.session.commit()
            return channel.id

    def add_member(self, channel_id: int, username: str, role: ChannelRole) -> None:
        with self.app.app_context():
            from liveroom.models import Membership

            user = db.session.scalar(sa.select(User).where(User.username == username))
            db.session.add(Membership(channel_id=channel_id, user_id=user.id, role=role))
            db.session.commit()

    def room_of(self, channel_id: int) -> str:
        with self.app.app_context():
            return db.session.get(Channel, channel_id).room.public_id

    def private_room(self, username: str, name: str) -> str:
        with self.app.app_context():
            owner = db.session.scalar(sa.select(User).where(User.username == username))
            return private.create_private_room(owner, name).public_id

    def settings(self, **values: str) -> None:
        with self.app.app_context():
            for key, value in values.items():
                set_setting(key, value)
            db.session.commit()

    def enable(self, private: bool = True) -> None:
        self.settings(liveRoomEnabled="true", enableUserPrivateLiveRoom=str(private).lower())

    def room(self, public_id: str) -> Room:
        return db.session.scalar(sa.select(Room).where(Room.public_id == public_id))


def _membership(user: User, role: ChannelRole):
    from liveroom.models import Membership

    return Membership(user=user, role=role)


@pytest.fixture
def world(app: Flask) -> World:
    return World(app)


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, username: str, password: str = PASSWORD):
        return self.client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


HTMX = {"HX-Request": "true"}


def as_user(app: Flask, username: str) -> FlaskClient:
    """A test client of ``app`` signed in as ``username`` (the shared test password)."""
    client = app.test_client()
    client.post("/login", data={"username": username, "password": PASSWORD})
    return client


def text_of(response) -> str:
    """The response's visible text, tags stripped and spaces folded."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def participants_of(response) -> str:
    """The visible text of the room panel's participant list only."""
    html = response.get_data(as_text=True)
    match = re.search(r'<section class="participants".*?</section>', html, flags=re.S)
    assert match, "the response has no participant list"
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", match.group(0))).split())


@pytest.fixture(autouse=True)
def _drop_databases(tmp_path: Path) -> Iterator[None]:
    """The apps built during a test stop their live hubs when it ends (a module's or
    the run's shared apps were built before it began), then, on PostgreSQL, its
    databases are dropped (a module's shared ones when the run ends)."""
    before = len(_apps_built)
    yield
    for made in _apps_built[before:]:
        hub_of(made).stop()
    del _apps_built[before:]
    databases.drop_made_in(tmp_path)


def pytest_sessionfinish(session: pytest.Session) -> None:
    databases.drop_all()


# Tests that run in only one of the two runs of `make test`: the browser, media-server
# and packaging tests (they do not depend on the database, or are slow enough to run
# once) in the PostgreSQL run; SQLite's own features in the SQLite run.
ONLY_ON_POSTGRESQL = ("browser", "media_server", "once", "postgresql_only")
ONLY_ON_SQLITE = ("sqlite_only",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skipped = ONLY_ON_SQLITE if databases.ON_POSTGRES else ONLY_ON_POSTGRESQL
    other = "SQLite" if databases.ON_POSTGRES else "PostgreSQL"
    skip = pytest.mark.skip(reason=f"runs in the {other} run (LIVEROOM_TEST_DATABASE)")
    for item in items:
        if any(item.get_closest_marker(name) for name in skipped):
            item.add_marker(skip)


def pytest_configure(config: pytest.Config) -> None:
    """Browser assertions wait for the page to change, and give up only after a deadline
    a busy two-core machine never reaches (Playwright's own default is 5 s)."""
    try:
        from playwright.sync_api import expect
    except ImportError:  # the browser tests are skipped without Playwright anyway
        return
    expect.set_options(timeout=15_000)


# The browser tests' Chromium (one per module) and a served demo (one per test); a
# module that needs other flags (fake media devices) defines its own ``browser``.
@pytest.fixture(scope="module")
def browser():
    from tests.live_server import chromium

    with chromium() as launched:
        yield launched


@pytest.fixture
def base_url(tmp_path):
    from tests.live_server import demo_app, serve

    with serve(demo_app(tmp_path)) as url:
        yield url

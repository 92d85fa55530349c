"""Requests that are too big, too slow or that break half-way still get a readable
answer with the app's headers; /healthz says whether this worker can serve; a favicon."""

from __future__ import annotations

import contextlib
import io
import re
import socket
import time
from pathlib import Path

import pytest
import requests
from flask import abort, g

from liveroom import create_app
from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.models import User
from liveroom.roles import AppRole
from liveroom.wsgi_guard import accepts_upload
from tests import databases
from tests.conftest import FAST_HASH, PASSWORD, World, make_app, text_of
from tests.test_fanout import Gunicorn

MB = 1024 * 1024


def logged_in(app, username):
    client = app.test_client()
    client.post("/login", data={"username": username, "password": PASSWORD})
    return client


def assert_security_headers(response) -> None:
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "camera=(self)" in response.headers["Permissions-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- Size ------------------------------------------------------------------------------


def test_a_form_body_over_one_megabyte_is_refused_with_a_readable_413(client):
    response = client.post(
        "/login",
        data=b"username=" + b"x" * (MB + 10),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert "This request is too large (1.0 MB); the limit is 1.0 MB." in text_of(response)
    assert_security_headers(response)


def test_the_body_limit_is_configurable(tmp_path):
    app = make_app(tmp_path, MAX_CONTENT_LENGTH=2000)
    response = app.test_client().post("/login", data={"username": "x" * 3000})
    assert response.status_code == 413
    assert "the limit is 1 kB" in text_of(response)
    hub_of(app).stop()


def test_an_upload_view_takes_five_megabytes_and_no_more(tmp_path):
    app = make_app(tmp_path)

    @app.post("/test/import")
    @accepts_upload
    def import_csv():
        from flask import request

        return f"{len(request.files['file'].read())} bytes"

    client = app.test_client()
    accepted = client.post(
        "/test/import", data={"file": (io.BytesIO(b"a," * (2 * MB)), "people.csv")}
    )
    assert accepted.status_code == 200, text_of(accepted)
    assert f"{4 * MB} bytes" in accepted.get_data(as_text=True)
    refused = client.post(
        "/test/import", data={"file": (io.BytesIO(b"a" * (6 * MB)), "people.csv")}
    )
    assert refused.status_code == 413
    assert "the limit is 5.0 MB" in text_of(refused)
    hub_of(app).stop()


# --- Failures half-way ---------------------------------------------------------------


@pytest.fixture
def fragile_app(tmp_path):
    """An app with routes that fail the way a race does, shown to a logged-in person
    (whose error page reads the database for the menu)."""
    app = make_app(tmp_path, PROPAGATE_EXCEPTIONS=False)

    @app.post("/test/join-twice")
    def join_twice():
        # What two simultaneous Joins do: the second insert breaks a unique constraint.
        db.session.add(User(username="teacher", display_name="Twin", password_hash=FAST_HASH))
        db.session.flush()
        return "unreachable"

    @app.context_processor
    def broken_templates() -> dict:
        if g.get("break_templates"):
            raise RuntimeError("the template layer is broken too")
        return {}

    @app.get("/test/broken-everything")
    def broken_everything():
        g.break_templates = True
        raise RuntimeError("boom")

    @app.get("/test/broken-not-found")
    def broken_not_found():
        g.break_templates = True
        abort(404, "That room is gone.")

    World(app).user("teacher", AppRole.PRIVATE_ONLY)
    yield app
    hub_of(app).stop()


def test_a_request_that_breaks_its_transaction_gets_the_app_error_page(fragile_app):
    teacher = logged_in(fragile_app, "teacher")
    response = teacher.post("/test/join-twice")
    assert response.status_code == 500
    assert "Something went wrong" in text_of(response)
    assert "open user menu" in text_of(response), "the full page, menu and all"
    assert_security_headers(response)
    # The worker's session was rolled back: the next request is served normally.
    assert teacher.get("/channels/").status_code == 200


def test_when_the_error_page_cannot_render_a_fixed_page_still_carries_the_headers(fragile_app):
    teacher = logged_in(fragile_app, "teacher")
    response = teacher.get("/test/broken-everything")
    assert response.status_code == 500
    assert "Something went wrong" in text_of(response)
    assert_security_headers(response)
    not_found = teacher.get("/test/broken-not-found")
    assert not_found.status_code == 404
    assert "That room is gone." in text_of(not_found)
    assert_security_headers(not_found)


# --- /healthz ----------------------------------------------------------------------------


def test_health_check_answers_without_login_and_changes_nothing(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_health_check_includes_redis_when_configured(tmp_path):
    app = make_app(tmp_path, LIVEROOM_REDIS_URL="redis://127.0.0.1:6379/15")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}
    hub_of(app).stop()


def test_health_check_names_redis_when_it_does_not_answer(tmp_path):
    app = make_app(tmp_path, LIVEROOM_REDIS_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["failed"] == ["redis"]
    hub_of(app).stop()


def test_health_check_names_the_database_when_it_does_not_answer(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": (
                # A server nobody listens on, or a file in a folder that is not there.
                f"{databases.POSTGRES.rsplit(':', 1)[0]}:1/liveroom"
                if databases.ON_POSTGRES
                else f"sqlite:///{tmp_path / 'missing' / 'db.sqlite'}"
            ),
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "failed": ["database"],
        "database": "failed",
    }


# --- Favicon ----------------------------------------------------------------------------


def test_pages_have_a_favicon(client):
    page = client.get("/login").get_data(as_text=True)
    icon = re.search(r'<link rel="icon" href="([^"]+)"', page).group(1)
    assert client.get(icon).status_code == 200
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert b"<svg" in response.data


# --- A real gunicorn: bodies too big and too slow -----------------------------------------


def worker_pids(server: Gunicorn) -> list[int]:
    master = server.process.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


def read_until_closed(sock: socket.socket, deadline: float) -> bytes:
    data = b""
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"the server did not close the connection; got {data[:300]!r}")


@pytest.fixture
def gunicorn(tmp_path):
    server = Gunicorn(tmp_path)
    yield server
    server.stop()


def test_a_200_megabyte_body_is_refused_before_it_is_sent(gunicorn):
    before = sum(rss_kb(pid) for pid in worker_pids(gunicorn))
    with socket.create_connection(("127.0.0.1", gunicorn.port), timeout=1) as sock:
        sock.sendall(
            b"POST /login HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 200000000\r\n\r\nusername=a"
        )
        answer = read_until_closed(sock, time.monotonic() + 15)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"Content-Security-Policy:" in head
    assert "This request is too large (190.7 MB); the limit is 1.0 MB." in body.decode()
    after = sum(rss_kb(pid) for pid in worker_pids(gunicorn))
    assert after - before < 20 * 1024, f"workers grew by {after - before} kB"


def test_slow_bodies_get_408_and_do_not_block_the_login_page(gunicorn):
    tricklers = []
    for _ in range(100):
        sock = socket.create_connection(("127.0.0.1", gunicorn.port), timeout=1)
        sock.sendall(
            b"POST /login HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 100\r\n\r\n"
        )
        tricklers.append(sock)
    answers = {sock: b"" for sock in tricklers}
    closed: set[socket.socket] = set()
    deadline = time.monotonic() + 30
    try:
        while len(closed) < len(tricklers) and time.monotonic() < deadline:
            # Someone else logs in meanwhile, and is answered.
            assert requests.get(f"{gunicorn.base}/login", timeout=5).status_code == 200
            for sock in tricklers:
                if sock in closed:
                    continue
                with contextlib.suppress(OSError):  # the server may be done with it
                    sock.sendall(b"a")  # one byte every 2 s
                sock.setblocking(False)
                try:
                    while chunk := sock.recv(65536):
                        answers[sock] += chunk
                    closed.add(sock)
                except BlockingIOError:
                    pass
                except OSError:
                    closed.add(sock)
                sock.setblocking(True)
            time.sleep(2)
    finally:
        for sock in tricklers:
            sock.close()
    assert len(closed) == len(tricklers), "every slow connection was closed"
    for answer in answers.values():
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"Your request took too long to arrive." in answer
    assert "Log in" in requests.get(f"{gunicorn.base}/login", timeout=5).text


def test_a_worker_out_of_database_connections_says_busy_not_broken(tmp_path):
    """Every connection of the pool taken for the whole pool timeout (an overload): the
    request is answered 503 with Retry-After and a sentence, not a server error."""
    app = make_app(
        tmp_path,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0, "pool_timeout": 0.2},
    )
    world = World(app)
    world.user("teacher")
    client = app.test_client()
    client.post("/login", data={"username": "teacher", "password": PASSWORD})
    with app.app_context():
        held = db.engine.connect()  # the only connection, kept by "another request"
        try:
            busy = client.get("/channels/")
        finally:
            held.close()
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "5"
    assert "very busy" in text_of(busy)
    assert client.get("/channels/").status_code == 200  # and back once one is free
    hub_of(app).stop()

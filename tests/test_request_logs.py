"""Every request leaves one JSON line on stdout carrying the id its answer gave
(X-Request-Id), the error pages show that id for a teacher to quote, and a server
error's traceback is in the log and never on the page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.models import LiveSession
from liveroom.roles import ChannelRole
from tests.conftest import HTMX, PASSWORD, World, as_user, make_app, open_stream
from tests.workers import Gunicorn

NGINX_ID = "4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a99"  # what nginx's $request_id looks like
NEW_ID = re.compile(r"[0-9a-f]{32}")


def log_lines(text: str) -> list[dict]:
    """The JSON lines of a capture or a server's log (other lines left out)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def lines_of(capsys: pytest.CaptureFixture) -> list[dict]:
    return log_lines(capsys.readouterr().out)


@pytest.fixture
def app(tmp_path) -> Iterator[Flask]:
    """The app with one view that fails, answered as a server error (not re-raised)."""
    app = make_app(tmp_path, PROPAGATE_EXCEPTIONS=False)

    @app.get("/broken")
    def broken() -> str:
        raise RuntimeError("the database said: password=hunter2")

    yield app
    hub_of(app).stop()


def test_each_request_logs_one_json_line_with_the_id_its_answer_gave(app, world, capsys):
    world.user("sam")
    client = app.test_client()
    capsys.readouterr()
    answers = [
        client.get("/login?next=/channels&token=secret-in-the-query"),
        client.post("/login", data={"username": "sam", "password": PASSWORD}),
        client.get("/channels/"),
        client.get("/no/such/page"),
    ]
    lines = lines_of(capsys)
    assert len(lines) == len(answers)
    for answer, line in zip(answers, lines, strict=True):
        assert NEW_ID.fullmatch(answer.headers["X-Request-Id"])
        assert line["request_id"] == answer.headers["X-Request-Id"]
        assert line["status"] == answer.status_code
        assert isinstance(line["ms"], float) and line["pid"] > 0
        assert {"time", "level", "method", "path", "user", "remote_addr"} <= line.keys()
    assert len({answer.headers["X-Request-Id"] for answer in answers}) == len(answers)
    # The path without its query string; neither the password nor the query's token.
    assert lines[0]["path"] == "/login" and lines[0]["method"] == "GET"
    assert "secret-in-the-query" not in json.dumps(lines)
    assert PASSWORD not in json.dumps(lines)
    # Whoever the request signed in: nobody before the log-in, Sam after it.
    assert lines[0]["user"] is None
    assert lines[2]["user"] is not None and lines[2]["status"] == 200
    assert lines[3]["status"] == 404 and lines[3]["level"] == "INFO"


def test_the_proxys_request_id_is_kept_when_it_is_a_safe_token(client, capsys):
    capsys.readouterr()
    answer = client.get("/login", headers={"X-Request-Id": NGINX_ID})
    assert answer.headers["X-Request-Id"] == NGINX_ID
    assert lines_of(capsys)[0]["request_id"] == NGINX_ID


@pytest.mark.parametrize(
    "forged",
    [
        "<script>alert(1)</script>0123456789",
        "0123456789abcdef 0123456789abcdef",
        "zq9-short",  # too short (and no word a page holds: "shortcuts.js" is one)
        "a" * 65,
        "0123456789abcdef\u00e90123456789abcdef",
        "../../../../etc/passwd/0123456789",
        "0123456789abcdef;0123456789abcdef",
    ],
)
def test_a_forged_request_id_is_replaced_never_echoed(client, capsys, forged):
    capsys.readouterr()
    answer = client.get("/no/such/page", headers={"X-Request-Id": forged})
    given = answer.headers["X-Request-Id"]
    assert NEW_ID.fullmatch(given) and given != forged
    assert forged not in answer.get_data(as_text=True)
    assert lines_of(capsys)[0]["request_id"] == given


def test_an_error_page_shows_its_reference(app, world):
    world.user("sam")
    sam = as_user(app, "sam")
    page = sam.get("/channels/999")
    assert page.status_code == 404
    assert f'Reference: <code class="reference">{page.headers["X-Request-Id"]}</code>' in (
        page.get_data(as_text=True)
    )
    fragment = sam.get("/channels/999", headers=HTMX)
    assert fragment.headers["X-Request-Id"] in fragment.get_data(as_text=True)


def test_a_server_error_logs_its_traceback_and_the_page_shows_none(client, capsys):
    capsys.readouterr()
    answer = client.get("/broken")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 500
    assert answer.headers["X-Request-Id"] in page  # the reference to quote
    assert "Traceback" not in page and "hunter2" not in page and "RuntimeError" not in page
    [line] = lines_of(capsys)  # one line for the request, the error on it
    assert line["request_id"] == answer.headers["X-Request-Id"]
    assert line["status"] == 500 and line["level"] == "ERROR"
    assert "RuntimeError" in line["error"]
    assert line["traceback"].startswith("Traceback (most recent call last)")
    assert 'raise RuntimeError("the database said' in line["traceback"]


def test_a_stream_logs_when_it_opens_and_when_it_closes(app, world: World, capsys):
    sam_id = world.user("sam")
    world.user("teacher")
    world.enable()
    room = world.room_of(world.channel(teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER))
    as_user(app, "teacher").post(f"/rooms/{room}/start", headers=HTMX)
    sam = as_user(app, "sam")
    sam.post(f"/rooms/{room}/join", headers=HTMX)
    with app.app_context():
        session_id = db.session.scalar(sa.select(LiveSession.id))
    capsys.readouterr()
    # The room's stream lets go of its database session before it answers: the line
    # still names whom it serves.
    stream = open_stream(sam, room, session_id)
    stream.close()
    opened, closed = lines_of(capsys)
    assert opened["event"] == "stream_opened" and closed["event"] == "stream_closed"
    assert opened["request_id"] == closed["request_id"]
    assert opened["status"] == 200 and closed["seconds"] >= 0
    assert opened["user"] == closed["user"] == sam_id
    assert opened["path"] == f"/live/rooms/{room}/stream"


def test_behind_a_proxy_the_line_names_the_client_not_the_proxy(tmp_path, capsys):
    app = make_app(tmp_path, LIVEROOM_TRUSTED_PROXIES=1)
    try:
        capsys.readouterr()
        app.test_client().get(
            "/login",
            headers={"X-Forwarded-For": "203.0.113.9"},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
        [line] = lines_of(capsys)
        assert line["remote_addr"] == "203.0.113.9"
    finally:
        hub_of(app).stop()


def test_the_text_format_is_one_readable_line(tmp_path, capsys):
    app = make_app(tmp_path, LIVEROOM_LOG_FORMAT="text")
    try:
        capsys.readouterr()
        answer = app.test_client().get("/login")
        [line] = capsys.readouterr().out.splitlines()
        assert " INFO GET /login 200 " in line
        assert line.endswith(f"id={answer.headers['X-Request-Id']}")
    finally:
        hub_of(app).stop()


def test_gunicorn_workers_write_one_json_line_per_request(tmp_path):
    server = Gunicorn(tmp_path)
    try:
        ids = []
        for path, headers in [
            ("/login", {}),
            ("/no/such/page", {}),
            ("/login", {"X-Request-Id": NGINX_ID}),
            ("/login", {"X-Request-Id": "not a safe id: <b>"}),
            ("/healthz", {}),
        ]:
            answer = requests.get(f"{server.base}{path}", headers=headers, timeout=10)
            ids.append(answer.headers["X-Request-Id"])
        teacher = server.login("teacher")
        ids.append(teacher.get(f"{server.base}/channels/1").headers["X-Request-Id"])
        assert ids[2] == NGINX_ID and NEW_ID.fullmatch(ids[3])
        lines = log_lines(server.log())
        for request_id in ids:
            mine = [line for line in lines if line["request_id"] == request_id]
            assert len(mine) == 1, (request_id, server.log()[-3000:])
        by_id = {line["request_id"]: line for line in lines}
        assert by_id[ids[1]]["status"] == 404 and by_id[ids[4]]["path"] == "/healthz"
        assert by_id[ids[5]]["user"] is not None
        assert server.process.pid not in {line["pid"] for line in lines}  # the workers'
    finally:
        server.stop()

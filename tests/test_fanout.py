"""An event made in one process reaches streams held by another: through the shared
SQLite event log alone, through Redis pub/sub, and across real gunicorn workers."""

from __future__ import annotations

import re
import time

import pytest
import requests
import sqlalchemy as sa

from liveroom.events import newest_id
from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.models import LiveSession
from liveroom.roles import ChannelRole
from tests.conftest import HTMX, PASSWORD, World, make_app, open_stream
from tests.sse import StreamReader
from tests.workers import REDIS_URL, Gunicorn

# A safety look this rare never happens within a test: what arrives was woken.
NEVER = 3600.0
# Generous: a busy two-core machine must not fail the tests; bench/ measures speed.
ACROSS = 15.0


def two_processes(tmp_path, **config):
    """Two app instances on one SQLite file: what two gunicorn workers are. Each hub
    starts with its first stream, as in a worker."""
    first = make_app(tmp_path, **config)
    second = make_app(tmp_path, **config)
    world = World(first)
    world.user("teacher", name="Maria Rivera")
    world.user("sam", name="Sam Lee")
    world.enable()
    room = world.room_of(world.channel(teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER))
    return first, second, room


def logged_in(app, username):
    client = app.test_client()
    client.post("/login", data={"username": username, "password": PASSWORD})
    return client


def deliver_across(first, second, room) -> None:
    """A chat message posted through ``first`` reaches Sam's stream held by ``second``.

    No sleep before posting: opening the stream subscribes it to the second process's
    hub, which is ready (it found the log's end) before the stream answers. How fast
    the message arrives is bench/'s business; here it must arrive at all.
    """
    teacher = logged_in(first, "teacher")
    sam = logged_in(second, "sam")
    teacher.post(f"/rooms/{room}/start", headers=HTMX)
    sam.post(f"/rooms/{room}/join", headers=HTMX)
    with second.app_context():
        session_id = db.session.scalar(sa.select(LiveSession.id))
        since = newest_id()
    try:
        stream = open_stream(sam, room, session_id, since)
        assert hub_of(second).ready.is_set(), "the stream answers once the hub is ready"
        teacher.post(f"/rooms/{room}/chat", data={"body": "across processes"}, headers=HTMX)
        stream.wait_for_text("across processes", timeout=ACROSS)
        stream.close()
    finally:
        for app in (first, second):
            hub_of(app).stop()


def test_sqlite_event_log_carries_events_between_processes(tmp_path):
    first, second, room = two_processes(tmp_path)
    deliver_across(first, second, room)


def test_sqlite_wakes_the_other_process_without_polling(tmp_path):
    # The other process would not look at the log for an hour by itself: delivery at
    # all proves that the first process woke it.
    first, second, room = two_processes(tmp_path, LIVEROOM_EVENT_POLL_SECONDS=NEVER)
    deliver_across(first, second, room)


def test_redis_wakes_the_other_process(tmp_path):
    # As above: only Redis can make the other process look within the deadline.
    first, second, room = two_processes(
        tmp_path, LIVEROOM_REDIS_URL=REDIS_URL, LIVEROOM_EVENT_POLL_SECONDS=NEVER
    )
    deliver_across(first, second, room)


# --- Real gunicorn, two worker processes ------------------------------------------------


def streams_on_both_workers(server: Gunicorn, people: list[requests.Session], url: str):
    """Open streams until two different worker processes hold one each (the server
    runs with FLASK_DEBUG=1, so each stream names its worker). The server answered
    once one worker had booted; on a busy machine the other may take seconds more, so
    this keeps opening streams (closing the surplus at once, to stay under the limit
    of five per person and meeting) until both have answered, or a generous deadline."""
    by_worker: dict[str, tuple] = {}
    deadline = time.monotonic() + 20  # under 30 opens a minute per person
    attempt = 0
    while len(by_worker) < 2 and time.monotonic() < deadline:
        response = people[attempt % len(people)].get(url, stream=True, timeout=10)
        attempt += 1
        assert response.status_code == 200
        worker = response.headers["X-Liveroom-Worker"]
        if worker in by_worker:
            response.close()
            time.sleep(0.25)  # the server notices a close at its next heartbeat (0.5 s)
        else:
            by_worker[worker] = (
                response,
                StreamReader(response.iter_content(None), response.close),
            )
    assert len(by_worker) == 2, "gunicorn should spread streams over its two workers"
    return list(by_worker.values())


@pytest.mark.parametrize(
    "backend, env",
    [
        ("sqlite", {"LIVEROOM_EVENT_POLL_SECONDS": str(NEVER)}),
        ("redis", {"LIVEROOM_REDIS_URL": REDIS_URL, "LIVEROOM_EVENT_POLL_SECONDS": str(NEVER)}),
    ],
)
def test_event_posted_through_one_worker_reaches_a_stream_on_the_other(tmp_path, backend, env):
    server = Gunicorn(tmp_path, FLASK_DEBUG="1", **env)
    try:
        teacher = server.login("teacher")
        student = server.login("student1")
        room = server.biology_room(teacher)
        started = teacher.post(f"{server.base}/rooms/{room}/start")
        assert "You are an instructor" in started.text
        session_id = re.search(r"session=(\d+)", started.text).group(1)
        other = server.login("student2")
        for pupil in (student, other):
            assert "You are a participant" in pupil.post(f"{server.base}/rooms/{room}/join").text
        url = f"{server.base}/live/rooms/{room}/stream?session={session_id}"
        # Each stream answered once its worker's hub was ready: no wait before posting.
        streams = streams_on_both_workers(server, [student, other, teacher], url)
        teacher.post(f"{server.base}/rooms/{room}/chat", data={"body": f"hello from {backend}"})
        for _, reader in streams:
            reader.wait_for_text(f"hello from {backend}", timeout=ACROSS)
        for _, reader in streams:
            reader.close()
    finally:
        server.stop()


def test_streams_do_not_say_which_worker_holds_them_in_production(tmp_path):
    server = Gunicorn(tmp_path)
    try:
        teacher = server.login("teacher")
        room = server.biology_room(teacher)
        started = teacher.post(f"{server.base}/rooms/{room}/start")
        session_id = re.search(r"session=(\d+)", started.text).group(1)
        url = f"{server.base}/live/rooms/{room}/stream?session={session_id}"
        with teacher.get(url, stream=True, timeout=10) as response:
            assert response.status_code == 200
            assert "X-Liveroom-Worker" not in response.headers
    finally:
        server.stop()


def test_an_event_keeps_its_text_whatever_line_breaks_it_holds():
    from liveroom.live.render import sse_message
    from tests.sse import parse

    for text in ("", "one line", "two\nlines", "ends\n", "a\r\nb\rc", "x\u2028y\x85z"):
        block = sse_message(7, "room", text).decode()
        assert block.endswith("\n\n") and block.count("\n\n") == 1, repr(block)
        event = parse(block[:-2])
        # What a browser's EventSource hands the page: CR and CRLF read as LF, a final
        # line break dropped, and any other character kept as it is.
        expected = text.replace("\r\n", "\n").replace("\r", "\n").removesuffix("\n")
        assert (event.id, event.event, event.data) == (7, "room", expected)

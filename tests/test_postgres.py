"""The same room on PostgreSQL: the production database for a bigger school."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from liveroom.events import newest_id
from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.models import LiveSession
from liveroom.roles import ChannelRole
from tests.conftest import HTMX, PASSWORD, World, make_app, open_stream, text_of
from tests.databases import ON_POSTGRES
from tests.workers import REDIS_URL, Gunicorn

# About PostgreSQL itself: the PostgreSQL run of `make test` only.
pytestmark = pytest.mark.postgresql_only


@pytest.fixture
def pg_app(tmp_path):
    """The app on a throwaway PostgreSQL database; the tests that use it run in the
    PostgreSQL run only (``LIVEROOM_TEST_DATABASE=postgresql``)."""
    if not ON_POSTGRES:
        pytest.skip("about PostgreSQL: runs in the PostgreSQL run")
    app = make_app(tmp_path)
    yield app
    hub_of(app).stop()


def test_a_class_meets_on_postgresql(pg_app):
    world = World(pg_app)
    world.user("teacher", name="Maria Rivera")
    world.user("sam", name="Sam Lee")
    world.enable()
    room = world.room_of(world.channel(teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER))

    def login(username):
        client = pg_app.test_client()
        client.post("/login", data={"username": username, "password": PASSWORD})
        return client

    teacher, sam = login("teacher"), login("sam")
    assert "You are an instructor" in text_of(teacher.post(f"/rooms/{room}/start", headers=HTMX))
    # A second Start joins the same session (the partial unique index holds on PostgreSQL).
    teacher.post(f"/rooms/{room}/start", headers=HTMX)
    assert "You are a participant" in text_of(sam.post(f"/rooms/{room}/join", headers=HTMX))
    with pg_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LiveSession)) == 1
        session_id = db.session.scalar(sa.select(LiveSession.id))
        since = newest_id()
    stream = open_stream(teacher, room, session_id, since)
    assert (
        sam.post(
            f"/rooms/{room}/chat", data={"body": "hello from postgres"}, headers=HTMX
        ).status_code
        == 200
    )
    assert stream.wait_for_text("hello from postgres")
    assert sam.post(f"/rooms/{room}/hand", data={"raised": "1"}, headers=HTMX).status_code == 204
    assert stream.wait_for_text("Sam Lee")
    stream.close()
    assert "This meeting has ended" in text_of(teacher.post(f"/rooms/{room}/end", headers=HTMX))
    csv = teacher.get(f"/rooms/{room}/sessions/{session_id}/attendance.csv").get_data(as_text=True)
    assert "sam" in csv and "teacher" in csv


# --- A class of 300 on PostgreSQL, under real gunicorn workers ------------------------

CLASS_SIZE = 300
MESSAGES = 10


def add_pupils(server: Gunicorn, tmp_path, count: int) -> None:
    """``count`` members of Biology 101 on the server's database (pupil0, pupil1, …)."""
    from liveroom.models import Channel, Membership, User
    from liveroom.roles import AppRole
    from tests.conftest import FAST_HASH

    app = make_app(tmp_path / "setup", SQLALCHEMY_DATABASE_URI=server.database_url)
    with app.app_context():
        biology = db.session.scalar(sa.select(Channel).where(Channel.name == "Biology 101"))
        for n in range(count):
            pupil = User(
                username=f"pupil{n}",
                display_name=f"Pupil {n}",
                role=AppRole.VIEWER,
                password_hash=FAST_HASH,
            )
            db.session.add(Membership(channel=biology, user=pupil, role=ChannelRole.MEMBER))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    hub_of(app).stop()


async def a_class_meets(server: Gunicorn, pupils: int, messages: int) -> dict:
    """The teacher starts, every pupil signs in, joins and opens the room's stream; then
    the teacher posts ``messages`` chat messages while pages are being asked for.
    Returns which messages each stream received and the statuses of those pages."""
    import asyncio

    import aiohttp

    base = server.base
    connector = aiohttp.TCPConnector(limit=0)
    at_a_time = asyncio.Semaphore(40)

    async def sign_in(username: str, password: str) -> tuple[aiohttp.ClientSession, dict]:
        http = aiohttp.ClientSession(
            connector=connector, connector_owner=False, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        page = await (await http.get(f"{base}/login")).text()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        answer = await http.post(
            f"{base}/login", data={"username": username, "password": password, "csrf_token": token}
        )
        text = await answer.text()
        csrf = re.search(r'"X-CSRFToken": "([^"]+)"', text).group(1)
        return http, {"X-CSRFToken": csrf, "HX-Request": "true"}

    teacher, teacher_headers = await sign_in("teacher", "liveroom-teacher")
    channel = await (await teacher.get(f"{base}/channels/1")).text()
    room = re.search(r"/rooms/([\w-]+)/start", channel).group(1)
    started = await (
        await teacher.post(f"{base}/rooms/{room}/start", headers=teacher_headers)
    ).text()
    session_id = re.search(r"session=(\d+)", started).group(1)

    async def join(n: int) -> aiohttp.ClientSession:
        async with at_a_time:
            http, headers = await sign_in(f"pupil{n}", PASSWORD)
            answer = await http.post(f"{base}/rooms/{room}/join", headers=headers)
            assert answer.status == 200, await answer.text()
            await answer.read()
            return http

    clients = await asyncio.gather(*(join(n) for n in range(pupils)))
    page = await (await teacher.get(f"{base}/rooms/{room}")).text()
    cursor = re.search(r"last_event_id=(\d+)", page).group(1)
    url = f"{base}/live/rooms/{room}/stream?session={session_id}&last_event_id={cursor}"
    received: list[set[int]] = [set() for _ in clients]
    opened = [asyncio.Event() for _ in clients]
    mark = re.compile(rb"class-(\d+)-")

    async def listen(k: int, http: aiohttp.ClientSession) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with http.get(url, timeout=timeout) as response:
            assert response.status == 200, await response.text()
            opened[k].set()
            async for line in response.content:
                received[k].update(int(m.group(1)) for m in mark.finditer(line))

    page_statuses: list[int] = []

    async def ask_for_pages(until: asyncio.Event) -> None:
        """Meanwhile, people open pages: each must be answered, not time out."""
        while not until.is_set():
            for path in (f"/rooms/{room}", "/channels/1", f"/rooms/{room}/button?live=1"):
                async with teacher.get(f"{base}{path}") as answer:
                    await answer.read()
                    page_statuses.append(answer.status)
            await asyncio.sleep(0.05)

    done = asyncio.Event()
    pages = asyncio.create_task(ask_for_pages(done))
    streams = [asyncio.create_task(listen(k, http)) for k, http in enumerate(clients)]
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in opened)), 120)
    for n in range(messages):
        answer = await teacher.post(
            f"{base}/rooms/{room}/chat",
            data={"body": f"class-{n}- please open your books"},
            headers=teacher_headers,
        )
        assert answer.status == 200, await answer.text()
        await asyncio.sleep(0.3)
    deadline = asyncio.get_running_loop().time() + 60
    while asyncio.get_running_loop().time() < deadline:
        if all(len(got) == messages for got in received):
            break
        failed = [s for s in streams if s.done()]
        if failed:
            failed[0].result()  # a stream that ended says why
        await asyncio.sleep(0.1)
    done.set()
    await pages
    for task in streams:
        task.cancel()
    await asyncio.gather(*streams, return_exceptions=True)
    for http in [teacher, *clients]:
        await http.close()
    await connector.close()
    return {"received": received, "pages": page_statuses}


@pytest.mark.parametrize("bus", ["postgres alone", "with redis"])
def test_a_class_of_300_on_postgresql_gets_every_message(tmp_path, bus):
    import asyncio

    env = {"LIVEROOM_REDIS_URL": REDIS_URL} if bus == "with redis" else {}
    # Everyone joins first and opens a stream after: nobody counts as gone meanwhile.
    server = Gunicorn(tmp_path, database="postgres", LIVEROOM_PRESENCE_TIMEOUT="900", **env)
    try:
        add_pupils(server, tmp_path, CLASS_SIZE)
        result = asyncio.run(a_class_meets(server, CLASS_SIZE, MESSAGES))
        missing = [k for k, got in enumerate(result["received"]) if len(got) < MESSAGES]
        assert not missing, f"{len(missing)} of {CLASS_SIZE} streams missed messages"
        # Pages answer (the Join button's check answers 204: nothing changed).
        assert result["pages"] and set(result["pages"]) <= {200, 204}, result["pages"]
        log = server.log()
        assert "QueuePool limit" not in log
        assert "Traceback" not in log, log[-3000:]
    finally:
        server.stop()

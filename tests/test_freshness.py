"""Workers remember whom a cookie signs in and the site's switches (liveroom/freshness.py),
and a change made anywhere holds at the very next request in every worker: a log-out,
a role changed from the command line, a switch turned off. On real gunicorn workers
(two processes), on SQLite, on PostgreSQL, and on PostgreSQL with Redis."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from liveroom.extensions import db
from liveroom.freshness import FileGeneration
from liveroom.roles import ChannelRole
from liveroom.settings import get_settings, set_setting
from tests.workers import REDIS_URL, ROOT, Gunicorn

# Enough separate connections that both workers answer several each.
ASKS = 12


@pytest.fixture(scope="module", params=["alone", "redis"], ids=lambda p: p)
def server(request, tmp_path_factory):
    """Real workers on the run's database, then the same with Redis."""
    env = {"LIVEROOM_REDIS_URL": REDIS_URL} if request.param == "redis" else {}
    server = Gunicorn(tmp_path_factory.mktemp(request.param), **env)
    yield server
    server.stop()


def each_worker_answers(person: requests.Session, url: str) -> list[requests.Response]:
    """``url`` asked ``ASKS`` times, each on a new connection with the person's cookie,
    so both workers answer (and, the first times, remember)."""
    answers = []
    for _ in range(ASKS):
        with requests.Session() as fresh:
            fresh.cookies.update(person.cookies)
            answers.append(fresh.get(url, allow_redirects=False, timeout=30))
    return answers


def flask_cli(server: Gunicorn, *args: str) -> str:
    """A CLI command in a process of its own, on the server's database."""
    done = subprocess.run(
        [Path(sys.executable).parent / "flask", "--app", "liveroom", *args],
        env=server.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_log_out_everywhere_holds_at_once_in_every_worker(server):
    laptop = server.login("teacher")
    phone = server.login("teacher")
    channels = f"{server.base}/channels/"
    assert {r.status_code for r in each_worker_answers(phone, channels)} == {200}

    laptop.post(f"{server.base}/logout/everywhere", headers={"HX-Request": ""})

    answers = each_worker_answers(phone, channels)
    assert {r.status_code for r in answers} == {302}
    assert all("/login" in r.headers["Location"] for r in answers)


def test_a_copied_cookie_is_refused_by_every_worker_after_log_out(server):
    person = server.login("student2")
    copy = requests.Session()
    copy.cookies.update(person.cookies)
    channels = f"{server.base}/channels/"
    assert {r.status_code for r in each_worker_answers(copy, channels)} == {200}

    person.post(f"{server.base}/logout", headers={"HX-Request": ""})

    assert {r.status_code for r in each_worker_answers(copy, channels)} == {302}


def test_a_role_changed_from_the_command_line_holds_at_once_in_every_worker(server):
    student = server.login("student1")
    channel = f"{server.base}/channels/1"
    assert {r.status_code for r in each_worker_answers(student, channel)} == {200}

    flask_cli(server, "users", "set-role", "student1", "anonymousRole")
    try:
        # Anonymous accounts take part in nothing: no channel opens for them.
        assert {r.status_code for r in each_worker_answers(student, channel)} == {403}
    finally:
        flask_cli(server, "users", "set-role", "student1", "viewerRole")
    assert {r.status_code for r in each_worker_answers(student, channel)} == {200}


def test_a_switch_turned_off_from_the_command_line_holds_at_once_in_every_worker(server):
    student = server.login("student2")
    channel = f"{server.base}/channels/1"
    assert all("Join Meeting" in r.text for r in each_worker_answers(student, channel))

    flask_cli(server, "settings", "set", "liveRoomEnabled", "false")
    try:
        answers = each_worker_answers(student, channel)
        assert not any("Join Meeting" in r.text for r in answers)
    finally:
        flask_cli(server, "settings", "set", "liveRoomEnabled", "true")
    assert all("Join Meeting" in r.text for r in each_worker_answers(student, channel))


def test_a_change_rolled_back_is_not_remembered(app, client, auth, world):
    """A request that read its own unsaved setting must not leave it for the next."""
    world.user("sam")
    channel_id = world.channel(sam=ChannelRole.MEMBER)
    world.enable()
    auth.login("sam")
    assert "Join Meeting" in client.get(f"/channels/{channel_id}").get_data(as_text=True)
    with app.test_request_context("/"):
        assert get_settings().live_room_enabled
        set_setting("liveRoomEnabled", "false")
        assert not get_settings().live_room_enabled  # its own transaction sees it
        db.session.rollback()
    page = client.get(f"/channels/{channel_id}").get_data(as_text=True)
    assert "Join Meeting" in page


def test_every_process_reads_the_number_another_raised(tmp_path):
    path = str(tmp_path / "generation")
    mine, theirs = FileGeneration(path), FileGeneration(path)
    before = theirs.read()
    mine.bump()
    mine.bump()
    assert theirs.read() == before + 2


def test_with_redis_every_process_hears_a_change_by_its_next_read():
    import time
    import uuid

    from liveroom.freshness import RedisGeneration

    channel = f"liveroom:test:{uuid.uuid4().hex}"
    mine, theirs = RedisGeneration(REDIS_URL, channel), RedisGeneration(REDIS_URL, channel)
    deadline = time.monotonic() + 10
    while theirs.read() is None:  # nothing is remembered until Redis confirms
        assert time.monotonic() < deadline, "the subscription was never confirmed"
        time.sleep(0.01)
    before = theirs.read()
    assert theirs.read() == before, "nothing changed: the same number"
    mine.bump()
    deadline = time.monotonic() + 10
    while theirs.read() == before:
        assert time.monotonic() < deadline, "the change was never heard"
        time.sleep(0.001)
    assert theirs.read() not in (None, before)


def test_with_redis_away_nothing_is_remembered():
    from liveroom.freshness import RedisGeneration

    away = RedisGeneration("redis://127.0.0.1:1/0", "liveroom:test:away")
    assert away.read() is None
    away.bump()  # logged, not raised: the change itself was committed
    assert away.read() is None

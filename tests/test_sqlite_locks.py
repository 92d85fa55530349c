"""A chat post waiting for SQLite's write lock holds up nobody else in its worker.

One real gunicorn gevent worker on SQLite. This test process holds the database's
write lock (``BEGIN IMMEDIATE``, as another worker's long write would), the teacher
posts a chat message, and while the post waits for the lock the same worker answers
requests that need no lock. Released in time, the post goes through; held past the
patience, the post is answered 503 with ``Retry-After``, never a server error.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import requests

from liveroom.config import load_config
from tests.workers import Gunicorn

# About SQLite's own write lock: the SQLite run of `make test` only.
pytestmark = pytest.mark.sqlite_only

# Generous: the tests wait for events, and a loaded machine must not fail them.
DEADLINE_SECONDS = 60
WAITING_LINE = "waiting for SQLite's write lock"


@pytest.fixture(scope="module")
def patient(tmp_path_factory) -> Iterator[Gunicorn]:
    """One worker whose writes wait for the lock far longer than any test holds it."""
    server = Gunicorn(
        tmp_path_factory.mktemp("patient"),
        database="sqlite",
        workers=1,
        LIVEROOM_SQLITE_LOCK_PATIENCE="600",
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def impatient(tmp_path_factory) -> Iterator[Gunicorn]:
    """One worker whose writes give up on the lock quickly."""
    server = Gunicorn(
        tmp_path_factory.mktemp("impatient"),
        database="sqlite",
        workers=1,
        LIVEROOM_SQLITE_LOCK_PATIENCE="0.2",
    )
    yield server
    server.stop()


@contextmanager
def write_lock_held(server: Gunicorn) -> Iterator[sqlite3.Connection]:
    """SQLite's write lock, held by this process until the block ends."""
    connection = sqlite3.connect(server.database_url.removeprefix("sqlite:///"), timeout=30)
    connection.isolation_level = None
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    finally:
        connection.rollback()
        connection.close()


def meeting_chat_url(server: Gunicorn, teacher: requests.Session) -> str:
    room = server.biology_room(teacher)
    started = teacher.post(f"{server.base}/rooms/{room}/start")
    assert started.status_code == 200, started.text
    return f"{server.base}/rooms/{room}/chat"


def wait_for_log(server: Gunicorn, text: str, times: int = 1) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while server.log().count(text) < times:
        assert time.monotonic() < deadline, f"the server never logged {text!r}:\n{server.log()}"
        time.sleep(0.05)


def post(session: requests.Session, url: str, body: str) -> requests.Response:
    return session.post(url, data={"body": body}, timeout=DEADLINE_SECONDS)


def test_worker_answers_others_while_a_chat_post_waits_for_the_lock(patient):
    teacher = patient.login("teacher")
    sam = patient.login("student1")
    chat = meeting_chat_url(patient, teacher)
    waits_before = patient.log().count(WAITING_LINE)

    with ThreadPoolExecutor(1) as pool, write_lock_held(patient):
        posting: Future = pool.submit(post, teacher, chat, "Posted once the lock is free")
        wait_for_log(patient, WAITING_LINE, waits_before + 1)

        # The same single worker answers what needs no lock while the post waits.
        health = requests.get(f"{patient.base}/healthz", timeout=DEADLINE_SECONDS)
        channel = sam.get(
            f"{patient.base}/channels/1", headers={"HX-Request": ""}, timeout=DEADLINE_SECONDS
        )
        assert health.status_code == 200, health.text
        assert channel.status_code == 200 and "Biology 101" in channel.text
        assert not posting.done(), "the post should still be waiting for the lock"

    assert posting.result(timeout=DEADLINE_SECONDS).status_code == 200
    assert (
        patient.scalar(
            "SELECT count(*) FROM chat_message WHERE body = :b", b="Posted once the lock is free"
        )
        == 1
    )
    assert "Traceback" not in patient.log()


def test_post_blocked_past_the_patience_gets_503_with_retry_after(impatient):
    teacher = impatient.login("teacher")
    chat = meeting_chat_url(impatient, teacher)

    with write_lock_held(impatient):
        refused = post(teacher, chat, "Never stored")

    assert refused.status_code == 503
    assert refused.headers["Retry-After"].isdigit()
    assert "database is busy" in refused.text
    assert impatient.scalar("SELECT count(*) FROM chat_message WHERE body = 'Never stored'") == 0
    # The worker's connection is fine afterwards: the same post goes through.
    assert post(teacher, chat, "Stored on the second try").status_code == 200
    assert "Traceback" not in impatient.log()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "LIVEROOM_SQLITE_LOCK_PATIENCE must be a number, not 'soon'"),
        ("0", "LIVEROOM_SQLITE_LOCK_PATIENCE must be greater than 0, not '0'"),
        ("-1", "LIVEROOM_SQLITE_LOCK_PATIENCE must be greater than 0, not '-1'"),
    ],
)
def test_bad_lock_patience_stops_the_app_with_a_clear_message(
    monkeypatch, tmp_path, value, message
):
    monkeypatch.setenv("LIVEROOM_SQLITE_LOCK_PATIENCE", value)
    monkeypatch.setenv("LIVEROOM_SECRET_KEY", "test")
    with pytest.raises(RuntimeError) as error:
        load_config(str(tmp_path))
    assert str(error.value) == message

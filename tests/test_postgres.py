"""The same room on PostgreSQL: the production database for a bigger school."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from liveroom.events import newest_id
from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.models import LiveSession
from liveroom.roles import ChannelRole
from tests.conftest import HTMX, PASSWORD, World, make_app, open_stream, text_of

SERVER = os.environ.get("LIVEROOM_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")


@pytest.fixture
def pg_app(tmp_path):
    name = f"liveroom_test_{os.getpid()}"
    admin = sa.create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=f"{SERVER}/{name}")
    yield app
    hub_of(app).stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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

"""Backups of the live SQLite database, and putting one back, from the command line."""

from __future__ import annotations

import sqlite3
import threading
import time

import flask_migrate
import pytest
import sqlalchemy as sa

from liveroom import backup, create_app, events
from liveroom.events import Kind
from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.models import Channel, ChatMessage, LoginSession, User
from liveroom.roles import ChannelRole
from tests.conftest import HTMX, as_user
from tests.waiting import DEADLINE

PUPILS = ("sam", "priya", "leo", "ana")


def run(runner, *args, **kwargs):
    return runner.invoke(args=[str(arg) for arg in args], **kwargs)


def one_line_error(result, text: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.output.strip().count("\n") == 0, result.output
    assert result.output.startswith("Error: ") and text in result.output, result.output


@pytest.fixture
def meeting(app, world):
    """Biology 101's meeting: the teacher and four pupils are in it."""
    world.user("teacher", name="Maria Rivera")
    for pupil in PUPILS:
        world.user(pupil)
    world.enable()
    room = world.room_of(
        world.channel(teacher=ChannelRole.MANAGER, **dict.fromkeys(PUPILS, ChannelRole.MEMBER))
    )
    people = {name: as_user(app, name) for name in ("teacher", *PUPILS)}
    people["teacher"].post(f"/rooms/{room}/start", headers=HTMX)
    for pupil in PUPILS:
        people[pupil].post(f"/rooms/{room}/join", headers=HTMX)
    return room, people


def committed_messages(app) -> dict[int, str]:
    with app.app_context():
        return dict(db.session.execute(sa.select(ChatMessage.id, ChatMessage.body)).all())


def messages_in(path) -> dict[int, str]:
    with sqlite3.connect(path) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return dict(copy.execute("SELECT id, body FROM chat_message"))


@pytest.mark.sqlite_only
def test_a_backup_taken_while_a_class_chats_holds_every_message_sent_before_it(
    app, meeting, runner, tmp_path, monkeypatch
):
    room, people = meeting
    with app.app_context():  # some bulk, so the copy takes many steps
        events.append_many(
            [{"room_id": None, "session_id": None, "kind": Kind.SITE_CHANGED, "data": {}}] * 3000
        )
        db.session.commit()
    monkeypatch.setattr(backup, "PAGES_PER_STEP", 2)
    stop = threading.Event()

    def chat(name, client):
        sent = 0
        while not stop.is_set():
            response = client.post(
                f"/rooms/{room}/chat", data={"body": f"{name} says {sent}"}, headers=HTMX
            )
            sent += 1
            if response.status_code == 429:  # at the rate the limit allows
                stop.wait(0.2)

    threads = [threading.Thread(target=chat, args=item) for item in people.items()]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + DEADLINE
        while len(committed_messages(app)) < 20 and time.monotonic() < deadline:
            stop.wait(0.05)
        before = committed_messages(app)
        assert len(before) >= 20
        result = run(runner, "backup", tmp_path / "copy.sqlite")
        assert result.exit_code == 0, result.output
        during = committed_messages(app)
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    copied = messages_in(tmp_path / "copy.sqlite")
    assert {i: copied.get(i) for i in before} == before
    # Whatever the copy holds was committed (nothing half-written), in order.
    assert all(during[i] == body for i, body in copied.items())
    assert "Backed up to" in result.output
    assert not list(tmp_path.glob(".copy.sqlite.*"))  # no temporary file left behind


@pytest.mark.sqlite_only
def test_restore_puts_back_what_the_backup_held(app, world, runner, tmp_path):
    world.user("teacher", name="Maria Rivera")
    world.user("sam", name="Sam Lee")
    world.channel(teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER)
    assert run(runner, "backup", tmp_path / "monday.sqlite").exit_code == 0
    world.user("mallory", name="Added After")
    world.channel("Chemistry 202")
    signed_in = as_user(app, "sam")

    result = run(runner, "restore", tmp_path / "monday.sqlite", "--yes")

    assert result.exit_code == 0, result.output
    assert "Restored" in result.output
    with app.app_context():
        people = db.session.execute(sa.select(User.username, User.display_name)).all()
        assert sorted(people) == [("sam", "Sam Lee"), ("teacher", "Maria Rivera")]
        assert db.session.scalars(sa.select(Channel.name)).all() == ["Biology 101"]
        assert (
            db.session.scalar(sa.select(sa.func.count()).where(LoginSession.ended_at.is_(None)))
            == 0
        )
    # Everyone logs in again.
    assert signed_in.get("/channels/").status_code in (302, 401)
    assert as_user(app, "sam").get("/channels/").status_code == 200


@pytest.mark.sqlite_only
def test_restore_asks_first_and_changes_nothing_on_no(app, world, runner, tmp_path):
    world.user("teacher")
    run(runner, "backup", tmp_path / "copy.sqlite")
    world.user("sam")
    result = run(runner, "restore", tmp_path / "copy.sqlite", input="n\n")
    assert result.exit_code == 1
    assert "Stop the server first" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 2


@pytest.mark.sqlite_only
def test_backup_refuses_to_replace_a_file_or_write_into_no_folder(app, runner, tmp_path):
    (tmp_path / "taken.sqlite").write_text("keep me")
    one_line_error(run(runner, "backup", tmp_path / "taken.sqlite"), "exists already (add --force")
    assert (tmp_path / "taken.sqlite").read_text() == "keep me"
    one_line_error(run(runner, "backup", tmp_path / "nowhere" / "x.sqlite"), "does not exist")
    with app.app_context():
        live = db.engine.url.database
    one_line_error(run(runner, "backup", live, "--force"), "is the live database itself")
    assert run(runner, "backup", tmp_path / "taken.sqlite", "--force").exit_code == 0
    assert messages_in(tmp_path / "taken.sqlite") == {}


@pytest.mark.sqlite_only
def test_restore_refuses_what_is_not_a_liveroom_backup(app, world, runner, tmp_path):
    world.user("teacher")
    (tmp_path / "notes.txt").write_text("not a database at all" * 100)
    with sqlite3.connect(tmp_path / "other.sqlite") as other:
        other.execute("CREATE TABLE recipes (name TEXT)")
    run(runner, "backup", tmp_path / "future.sqlite")
    with sqlite3.connect(tmp_path / "future.sqlite") as future:
        future.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        future.execute("INSERT INTO alembic_version VALUES ('0099_from_the_future')")

    cases = [
        ("missing.sqlite", "no file"),
        ("notes.txt", "is not a SQLite database"),
        ("other.sqlite", "is a SQLite database but not Liveroom's"),
        ("future.sqlite", "comes from a newer Liveroom"),
    ]
    for name, message in cases:
        one_line_error(run(runner, "restore", tmp_path / name, "--yes"), message)
    with app.app_context():
        assert db.session.scalars(sa.select(User.username)).all() == ["teacher"]


@pytest.mark.sqlite_only
def test_an_older_backup_is_upgraded_when_restored(app, world, runner, tmp_path):
    world.user("someone")
    # A backup an older Liveroom made: its schema as the migrations built it up to
    # 0005 (no media rooms, no admin console), with one teacher in it.
    older = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "older"),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.sqlite'}",
            "SECRET_KEY": "test",
        }
    )
    with older.app_context():
        flask_migrate.upgrade(revision="0005_people_order")
        db.session.execute(
            sa.text(
                'INSERT INTO "user" (username, display_name, password_hash, role, created_at) '
                "VALUES ('teacher', 'Maria Rivera', 'x', 'privateOnlyRole', '2026-01-05')"
            )
        )
        db.session.commit()
        db.engine.dispose()
    hub_of(older).stop()
    result = run(runner, "restore", tmp_path / "old.sqlite", "--yes")
    assert result.exit_code == 0, result.output
    head, _ = _head(app)
    assert f"Upgraded the restored database to this Liveroom's schema ({head})" in result.output
    with app.app_context():
        assert sa.inspect(db.engine).has_table("media_pass")
        assert "email" in {c["name"] for c in sa.inspect(db.engine).get_columns("user")}
        assert db.session.scalars(sa.select(User.username)).all() == ["teacher"]


def _head(app):
    with app.app_context():
        return backup.code_revisions()


@pytest.mark.postgresql_only
def test_backup_says_to_use_pg_dump_on_postgresql(runner, tmp_path):
    one_line_error(run(runner, "backup", tmp_path / "copy.sqlite"), "use pg_dump")
    one_line_error(run(runner, "restore", tmp_path / "copy.sqlite", "--yes"), "use pg_dump")

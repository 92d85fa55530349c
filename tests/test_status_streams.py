"""Pages outside a meeting hear of its start and end over one stream, not by asking
every two seconds; watchers wake each other without reading on a timer; the upkeep is
quiet when nothing is open and runs in one process at a time."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from liveroom import leases
from liveroom.extensions import db
from liveroom.live.hub import WATCHERS_PER_LOGIN, hub_of
from liveroom.models import LiveSession, UpkeepLease, utcnow
from liveroom.roles import AppRole, ChannelRole, RoomRole
from liveroom.rooms import meetings
from tests.conftest import HTMX, World, as_user, make_app, open_stream, text_of
from tests.sse import StreamReader


def open_status(client, url: str) -> StreamReader:
    response = client.get(url, buffered=False)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/event-stream"
    return StreamReader(response.response, on_close=response.close)


def meetings_heard(stream: StreamReader) -> list:
    return [event for event in stream.seen if event.event == "meeting"]


@pytest.fixture
def classroom(world: World) -> str:
    world.user("teacher", name="Maria Rivera")
    world.user("sam", name="Sam Lee")
    world.user("outsider")
    world.enable()
    return world.room_of(world.channel(teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER))


def test_pages_no_longer_poll_for_the_start(app, classroom):
    sam = as_user(app, "sam")
    page = sam.get(f"/rooms/{classroom}").get_data(as_text=True)
    channel_page = sam.get("/channels/1").get_data(as_text=True)
    waiting = sam.post(f"/rooms/{classroom}/join", headers=HTMX).get_data(as_text=True)
    for html in (page, channel_page, waiting):
        assert "every 2s" not in html
        assert f"/live/rooms/{classroom}/status" in html


def test_a_channel_page_hears_the_meeting_start_and_end(app, classroom):
    sam, teacher = as_user(app, "sam"), as_user(app, "teacher")
    stream = open_status(sam, f"/live/rooms/{classroom}/status?shown=idle")
    teacher.post(f"/rooms/{classroom}/start", headers=HTMX)
    started = stream.wait_for(lambda e: e.event == "meeting")
    assert "Live" in started.data  # the room's badge, for lists that show one
    # The page then asks for its button, which now offers Join Meeting.
    button = sam.get(f"/rooms/{classroom}/button?live=0", headers=HTMX)
    assert "A meeting is in progress" in text_of(button)
    teacher.post(f"/rooms/{classroom}/end", headers=HTMX)
    ended = stream.wait_for(lambda e: e.event == "meeting")
    assert "Live" not in ended.data
    stream.close()


def test_a_page_out_of_date_when_it_connects_hears_at_once(app, classroom):
    sam, teacher = as_user(app, "sam"), as_user(app, "teacher")
    teacher.post(f"/rooms/{classroom}/start", headers=HTMX)
    # Rendered before the start (or reconnecting after a restart): told straight away.
    stale = open_status(sam, f"/live/rooms/{classroom}/status?shown=idle")
    stale.wait_for(lambda e: e.event == "meeting")
    stale.close()


def test_a_page_up_to_date_hears_nothing_until_something_changes(app, classroom, world):
    sam, teacher = as_user(app, "sam"), as_user(app, "teacher")
    teacher.post(f"/rooms/{classroom}/start", headers=HTMX)
    current = open_status(sam, f"/live/rooms/{classroom}/status?shown=live")
    teacher.post(f"/rooms/{classroom}/end", headers=HTMX)
    current.wait_for(lambda e: e.event == "meeting")
    # A marker after the end: a second message. Had the stream greeted the page with
    # one of its own, there would be three by now.
    world.settings(openInNewTab="true")
    with app.app_context():
        from liveroom.settings import change_settings

        change_settings({"openInNewTab": "false"}, None)
    current.wait_for(lambda e: e.event == "meeting")
    assert len(meetings_heard(current)) == 2
    current.close()


def test_turning_live_rooms_on_or_off_reaches_open_pages(app, classroom):
    sam = as_user(app, "sam")
    stream = open_status(sam, f"/live/rooms/{classroom}/status?shown=idle")
    with app.app_context():
        from liveroom.settings import change_settings

        change_settings({"liveRoomEnabled": "false"}, None)
    stream.wait_for(lambda e: e.event == "meeting")
    off = sam.get(f"/rooms/{classroom}/button?live=0", headers=HTMX)
    assert "turned off" in text_of(off)
    stream.close()


def test_a_waiting_pupil_is_told_the_meeting_started_and_enters(app, classroom):
    sam, teacher = as_user(app, "sam"), as_user(app, "teacher")
    waiting = sam.post(f"/rooms/{classroom}/join", headers=HTMX)
    assert "Waiting for the instructor to start this meeting" in text_of(waiting)
    url = re.search(r'sse-connect="([^"]+)"', waiting.get_data(as_text=True)).group(1)
    stream = open_status(sam, url.replace("&amp;", "&"))
    teacher.post(f"/rooms/{classroom}/start", headers=HTMX)
    stream.wait_for(lambda e: e.event == "meeting")
    entered = sam.post(f"/rooms/{classroom}/join?waiting=1", headers=HTMX)
    assert "Leave" in text_of(entered)
    stream.close()


def test_status_streams_are_for_members_and_say_what_is_wrong(app, classroom):
    outsider, sam = as_user(app, "outsider"), as_user(app, "sam")
    assert outsider.get(f"/live/rooms/{classroom}/status?shown=idle").status_code == 403
    assert sam.get(f"/live/rooms/{classroom}/status?shown=maybe").status_code == 400
    assert sam.get("/live/rooms/no-such-room/status?shown=idle").status_code == 404
    assert app.test_client().get(f"/live/rooms/{classroom}/status?shown=idle").status_code in (
        302,
        401,
    )


def test_one_browser_cannot_open_watchers_without_end(app, classroom):
    sam = as_user(app, "sam")
    url = f"/live/rooms/{classroom}/status?shown=idle"
    streams = [open_status(sam, url) for _ in range(WATCHERS_PER_LOGIN)]
    refused = sam.get(url)
    assert refused.status_code == 429
    assert "too many pages open" in text_of(refused)
    assert refused.headers["Retry-After"]
    for stream in streams:
        stream.close()


def test_my_rooms_shows_each_rooms_live_badge_as_it_changes(app, world):
    world.user("owner", role=AppRole.PRIVATE_ONLY)
    world.enable()
    first = world.private_room("owner", "Office hours")
    second = world.private_room("owner", "Book club")
    owner = as_user(app, "owner")
    page = owner.get("/my-rooms").get_data(as_text=True)
    assert "/live/my-rooms/status" in page
    stream = open_status(owner, "/live/my-rooms/status")
    opening = stream.wait_for(lambda e: e.event == "meeting")
    assert f'id="live-{first}"' in opening.data and f'id="live-{second}"' in opening.data
    owner.post(f"/rooms/{second}/start", headers=HTMX)
    started = stream.wait_for(lambda e: e.event == "meeting")
    assert f'id="live-{second}"' in started.data and "Live" in started.data
    stream.close()


def test_my_rooms_stream_is_for_people_who_have_my_rooms(app, world):
    world.user("viewer", role=AppRole.VIEWER)
    world.enable()
    assert as_user(app, "viewer").get("/live/my-rooms/status").status_code == 403


# --- Wake-ups between processes, without a timer ----------------------------------------


def test_another_process_on_the_same_database_is_woken_without_polling(tmp_path):
    """Two app instances on one SQLite file are what two gunicorn workers are. Neither
    looks at the log by itself for an hour, so only the wake-up can deliver this."""
    first = make_app(tmp_path, LIVEROOM_EVENT_POLL_SECONDS=3600.0)
    second = make_app(tmp_path, LIVEROOM_EVENT_POLL_SECONDS=3600.0)
    world = World(first)
    world.user("teacher")
    world.user("sam")
    world.enable()
    room = world.room_of(world.channel(teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER))
    teacher, sam = as_user(first, "teacher"), as_user(second, "sam")
    teacher.post(f"/rooms/{room}/start", headers=HTMX)
    sam.post(f"/rooms/{room}/join", headers=HTMX)
    with second.app_context():
        session_id = db.session.scalar(sa.select(LiveSession.id))
    stream = open_stream(sam, room, session_id)
    teacher.post(f"/rooms/{room}/chat", data={"body": "woken, not polled"}, headers=HTMX)
    stream.wait_for_text("woken, not polled")
    stream.close()
    for app in (first, second):
        hub_of(app).stop()


# --- A quiet upkeep -----------------------------------------------------------------------


def count_statements(app: Flask, action) -> int:
    statements = []

    def note(*args) -> None:
        statements.append(args[2])

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    return len(statements)


def test_a_process_with_no_stream_open_writes_nothing_to_stay_present(app, classroom):
    hub = hub_of(app)
    assert count_statements(app, hub.keep_present) == 0


def test_one_process_at_a_time_holds_the_sweep(app):
    with app.app_context():
        assert leases.take("sweep", "worker-a", 15)
        assert not leases.take("sweep", "worker-b", 15)
        assert leases.take("sweep", "worker-a", 15)  # the holder renews
        # The holder died: its lease runs out, and another worker takes over.
        a_minute_ago = utcnow() - timedelta(minutes=1)
        db.session.execute(sa.update(UpkeepLease).values(expires_at=a_minute_ago))
        db.session.commit()
        assert leases.take("sweep", "worker-b", 15)
        assert not leases.take("sweep", "worker-a", 15)


def stale_meetings(app: Flask, world: World, count: int) -> None:
    """``count`` live meetings, each with a pupil whose page stopped answering."""
    with app.app_context():
        from liveroom.models import Participation, Room, User

        for n in range(count):
            world.user(f"teacher{n}")
            world.user(f"pupil{n}")
            room = world.room_of(
                world.channel(
                    f"Class {n}",
                    **{f"teacher{n}": ChannelRole.MANAGER, f"pupil{n}": ChannelRole.MEMBER},
                )
            )
            room_row = db.session.scalar(sa.select(Room).where(Room.public_id == room))
            teacher = db.session.scalar(sa.select(User).where(User.username == f"teacher{n}"))
            pupil = db.session.scalar(sa.select(User).where(User.username == f"pupil{n}"))
            session, _ = meetings.start_session(room_row, teacher)
            meetings.join_session(session, pupil, RoomRole.PARTICIPANT)
        long_ago = utcnow() - timedelta(hours=1)
        db.session.execute(
            sa.update(Participation)
            .where(Participation.room_role == RoomRole.PARTICIPANT)
            .values(last_seen_at=long_ago)
        )
        db.session.commit()


SWEEP_STATEMENTS = 5


@pytest.mark.parametrize("meetings_live", [2, 12])
def test_the_sweep_costs_the_same_however_many_meetings_are_live(app, world, meetings_live):
    world.enable()
    stale_meetings(app, world, meetings_live)

    def sweep() -> None:
        with app.app_context():
            meetings.sweep_all(app.config["LIVEROOM_PRESENCE_TIMEOUT"])

    statements = count_statements(app, sweep)
    # Find the stale stays, close them, log their "left" events, look for a captioner
    # among them (live captions), commit; find the meetings left without an
    # instructor (none: the teachers are still there).
    assert statements == SWEEP_STATEMENTS
    with app.app_context():
        from liveroom.models import Participation

        still_in = sa.select(Participation.room_role).where(Participation.left_at.is_(None))
        assert set(db.session.scalars(still_in)) == {RoomRole.INSTRUCTOR}


@pytest.mark.sqlite_only  # SQLite's wake-ups between workers
def test_wake_ups_stay_off_in_a_directory_others_may_write_to(tmp_path, monkeypatch, caplog):
    """The wake-up sockets live under the shared temporary directory: if the directory
    for this database was made by someone else, or anyone may write to it, nothing is
    sent or received there (the safety look still finds every event)."""
    from liveroom.live import wake

    monkeypatch.setattr(wake.tempfile, "gettempdir", lambda: str(tmp_path))
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    shared = wake.directory_for(url)
    import os

    os.makedirs(shared)
    os.chmod(shared, 0o777)
    local = wake.LocalWake(url)
    local.listen(lambda: None)
    assert local.closed and local.path is None
    assert "not this user's private directory" in caplog.text
    local.publish()  # sends nothing, raises nothing
    assert os.listdir(shared) == []


# --- This new actions, tried by those who may not -------------------------------


def stay_of(app: Flask, username: str) -> int:
    with app.app_context():
        from liveroom.models import Participation, User

        return db.session.scalar(
            sa.select(Participation.id)
            .join(User, User.id == Participation.user_id)
            .where(User.username == username)
            .order_by(Participation.id.desc())
        )


def test_a_removed_pupil_gets_refusals_not_errors(app, classroom):
    sam, teacher = as_user(app, "sam"), as_user(app, "teacher")
    teacher.post(f"/rooms/{classroom}/start", headers=HTMX)
    sam.post(f"/rooms/{classroom}/join", headers=HTMX)
    removed = teacher.post(f"/rooms/{classroom}/people/{stay_of(app, 'sam')}/remove", headers=HTMX)
    assert removed.status_code in (200, 204)
    # Everyone in the room may open the whole list; someone just removed may not.
    everyone = sam.get(f"/rooms/{classroom}/people", headers=HTMX)
    assert everyone.status_code == 403
    assert "Join the meeting" in text_of(everyone)
    chat = sam.post(f"/rooms/{classroom}/chat", data={"body": "still here?"}, headers=HTMX)
    assert chat.status_code == 403
    # The channel's status stream says only that a meeting is on: a member may hear it.
    stream = open_status(sam, f"/live/rooms/{classroom}/status?shown=live")
    teacher.post(f"/rooms/{classroom}/end", headers=HTMX)
    stream.wait_for(lambda e: e.event == "meeting")
    stream.close()


def test_the_whole_list_is_for_people_in_the_meeting_only(app, classroom):
    sam, teacher, outsider = as_user(app, "sam"), as_user(app, "teacher"), as_user(app, "outsider")
    url = f"/rooms/{classroom}/people"
    assert sam.get(url, headers=HTMX).status_code == 409  # no meeting yet
    teacher.post(f"/rooms/{classroom}/start", headers=HTMX)
    assert outsider.get(url, headers=HTMX).status_code == 403
    assert sam.get(url, headers=HTMX).status_code == 403  # a member, not in it yet
    sam.post(f"/rooms/{classroom}/join", headers=HTMX)
    listed = sam.get(url, headers=HTMX)
    assert listed.status_code == 200
    assert "Maria Rivera" in text_of(listed) and "Sam Lee" in text_of(listed)
    assert app.test_client().get(url, headers=HTMX).status_code in (302, 401)

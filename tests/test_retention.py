"""Retention: ended meetings' events go after a week, their chat and attendance after
a year (deleted messages leave a tombstone), live meetings are never touched."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from liveroom import retention
from liveroom.config import load_config
from liveroom.events import newest_id
from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.models import ChatMessage, Event, LiveSession, Participation, Room, utcnow
from liveroom.roles import ChannelRole
from tests.conftest import HTMX, as_user, open_stream, text_of


class School:
    """Two channels: Biology's meeting is over, Chemistry's is live. Sam wrote in both."""

    def __init__(self, app, world):
        world.user("teacher", name="Maria Rivera")
        world.user("sam", name="Sam Lee")
        world.enable()
        roles = {"teacher": ChannelRole.MANAGER, "sam": ChannelRole.MEMBER}
        self.app = app
        self.biology = world.room_of(world.channel("Biology 101", **roles))
        self.chemistry = world.room_of(world.channel("Chemistry 202", **roles))
        self.teacher = as_user(app, "teacher")
        self.sam = as_user(app, "sam")
        for room in (self.chemistry, self.biology):
            self.post(self.teacher, room, "start")
            self.post(self.sam, room, "join")
            self.post(self.sam, room, "chat", body=f"Hello {room}")
        self.post(self.teacher, self.biology, "chat", body="Bye for today")
        self.post(self.teacher, self.biology, "end")
        with app.app_context():
            self.ended = self.session_of(self.biology)
            self.live = self.session_of(self.chemistry)

    def post(self, client, room, action, **data):
        response = client.post(f"/rooms/{room}/{action}", data=data, headers=HTMX)
        assert response.status_code < 400, response.get_data(as_text=True)
        return response

    def session_of(self, public_id: str) -> int:
        return db.session.scalar(
            sa.select(LiveSession.id).join(Room).where(Room.public_id == public_id)
        )

    def age(self, days: int, live_too: bool = True) -> None:
        """Everything happened ``days`` ago: the meetings, their events and messages."""
        then = utcnow() - timedelta(days=days)
        with self.app.app_context():
            sessions = [self.ended, self.live] if live_too else [self.ended]
            db.session.execute(
                sa.update(Event).where(Event.session_id.in_(sessions)).values(created_at=then)
            )
            db.session.execute(
                sa.update(LiveSession).where(LiveSession.id.in_(sessions)).values(started_at=then)
            )
            db.session.execute(
                sa.update(LiveSession).where(LiveSession.id == self.ended).values(ended_at=then)
            )
            db.session.commit()

    def count(self, model, session_id: int) -> int:
        with self.app.app_context():
            return db.session.scalar(
                sa.select(sa.func.count()).select_from(model).where(model.session_id == session_id)
            )


@pytest.fixture
def school(app, world):
    return School(app, world)


def prune(runner) -> str:
    result = runner.invoke(args=["prune"])
    assert result.exit_code == 0, result.output
    return result.output


def test_an_ended_meetings_events_go_after_a_week_and_a_live_ones_stay(app, school, runner):
    live_events = school.count(Event, school.live)
    school.age(days=8)
    with app.app_context():
        newest = newest_id()

    output = prune(runner)

    assert school.count(Event, school.live) == live_events
    # The newest row of the log stays (the ended meeting's end), so ids keep growing.
    assert school.count(Event, school.ended) == 1
    with app.app_context():
        assert newest_id() == newest
    assert "Removed " in output and " events" in output
    # Chat and attendance are kept for a year.
    assert school.count(ChatMessage, school.ended) == 2
    assert school.count(Participation, school.ended) == 2


def test_a_live_meeting_replays_after_pruning_and_new_events_follow(app, school, runner):
    school.age(days=30)
    prune(runner)

    stream = open_stream(school.sam, school.chemistry, school.live, last_event_id=0)
    stream.wait_for_text(f"Hello {school.chemistry}")
    school.post(school.teacher, school.chemistry, "chat", body="Still here after the prune")
    event = stream.wait_for_text("Still here after the prune")
    with app.app_context():
        assert event.id == newest_id()
    stream.close()


def test_events_younger_than_the_retention_stay(app, school, runner):
    before = school.count(Event, school.ended)
    school.age(days=6)
    prune(runner)
    assert school.count(Event, school.ended) == before


def test_site_wide_events_go_after_the_retention_too(app, world, school, runner):
    world.settings(openInNewTab="true")  # any change of the switches is site-wide
    from liveroom import events
    from liveroom.events import Kind

    with app.app_context():
        events.append(None, Kind.SITE_CHANGED)
        db.session.commit()
        db.session.execute(
            sa.update(Event)
            .where(Event.session_id.is_(None))
            .values(created_at=utcnow() - timedelta(days=9))
        )
        # Something newer, so the site-wide row is not the log's newest.
        events.append(None, Kind.SITE_CHANGED)
        db.session.commit()
    prune(runner)
    with app.app_context():
        site_rows = db.session.scalars(sa.select(Event.id).where(Event.session_id.is_(None)))
        assert list(site_rows) == [newest_id()]


def test_chat_and_attendance_go_after_a_year_and_a_deleted_message_leaves_a_tombstone(
    app, school, runner
):
    with app.app_context():
        message = db.session.scalar(
            sa.select(ChatMessage).where(
                ChatMessage.session_id == school.ended, ChatMessage.body.startswith("Hello")
            )
        )
        message_id = message.id
        message.deleted_at = utcnow()
        teacher_id = db.session.scalar(
            sa.select(LiveSession.started_by_id).where(LiveSession.id == school.ended)
        )
        message.deleted_by_id = teacher_id
        db.session.commit()
    live_messages = school.count(ChatMessage, school.live)
    live_stays = school.count(Participation, school.live)
    school.age(days=366)

    output = prune(runner)

    assert school.count(Participation, school.ended) == 0
    assert school.count(ChatMessage, school.live) == live_messages
    assert school.count(Participation, school.live) == live_stays
    with app.app_context():
        left = db.session.scalars(
            sa.select(ChatMessage).where(ChatMessage.session_id == school.ended)
        ).all()
        assert [(m.id, m.body, m.deleted_by_id) for m in left] == [(message_id, "", teacher_id)]
        assert left[0].deleted_at is not None and left[0].author_id is not None
        # The meeting's own row stays: a lesson took place, from when to when.
        assert db.session.get(LiveSession, school.ended) is not None
    assert "1 chat messages, the text of 1 deleted messages, 0 caption lines, 2 stays" in output


def test_the_live_hubs_sweep_prunes_and_leaves_the_rest_for_later(app, school, monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 1)
    school.age(days=8)
    before = school.count(Event, school.ended)
    assert before > retention.BATCHES_PER_SWEEP + 1
    hub = hub_of(app)
    hub.sweep()
    after = school.count(Event, school.ended)
    assert after == before - retention.BATCHES_PER_SWEEP
    hub.sweep()  # within PRUNE_EVERY of the last run: nothing more yet
    assert school.count(Event, school.ended) == after


def test_the_sweep_removes_a_few_bounded_batches_at_a_time(app, school, monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 2)
    school.age(days=8)
    before = school.count(Event, school.ended)
    assert before > 5
    with app.app_context():
        pruned = retention.prune(batches=2)
    assert pruned.events == 4
    assert school.count(Event, school.ended) == before - 4
    with app.app_context():
        retention.prune(batches=None)
    assert school.count(Event, school.ended) == 1


@pytest.mark.parametrize(
    "name, value",
    [
        ("LIVEROOM_EVENT_RETENTION_DAYS", "0"),
        ("LIVEROOM_EVENT_RETENTION_DAYS", "a week"),
        ("LIVEROOM_RETENTION_DAYS", "-1"),
        ("LIVEROOM_RETENTION_DAYS", "1.5"),
    ],
)
def test_retention_settings_must_be_whole_days(tmp_path, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match=f"{name} must be a whole number of days"):
        load_config(str(tmp_path))


def test_the_attendance_page_says_why_a_meeting_lists_nobody(app, school, runner):
    page = f"/rooms/{school.biology}/sessions/{school.ended}/attendance"
    assert "Sam" in text_of(school.teacher.get(page))
    school.age(days=400)
    prune(runner)
    shown = text_of(school.teacher.get(page))
    assert "attendance and chat were deleted 365 days after it ended" in shown
    assert "Sam" not in shown

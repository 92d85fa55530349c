"""Waiting survives a reload: for the start, or in a locked room's waiting room."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from liveroom.events import newest_id
from liveroom.extensions import db
from liveroom.models import LiveSession, WaitingEntry
from liveroom.roles import ChannelRole
from tests.conftest import HTMX, as_user, open_stream, text_of

WAITING_FOR_START = "Waiting for the instructor to start this meeting"


class Class:
    """Biology 101: Maria manages it, Sam is a member. Nothing is live yet."""

    def __init__(self, app, world):
        world.user("teacher", name="Maria Rivera")
        world.user("sam", name="Sam Lee")
        world.enable()
        self.app = app
        self.channel = world.channel(teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER)
        self.room = world.room_of(self.channel)
        self.teacher = as_user(app, "teacher")
        self.sam = as_user(app, "sam")

    def post(self, client, action, **query):
        return client.post(f"/rooms/{self.room}/{action}", headers=HTMX, query_string=query)

    def channel_page(self, client):
        return client.get(f"/channels/{self.channel}")

    def room_page(self, client):
        return client.get(f"/rooms/{self.room}")

    def session_id(self):
        with self.app.app_context():
            return db.session.scalar(
                sa.select(LiveSession.id).where(LiveSession.ended_at.is_(None))
            )

    def waiting_entry(self):
        with self.app.app_context():
            return db.session.scalar(sa.select(WaitingEntry.id).order_by(WaitingEntry.id.desc()))

    def start_locked(self):
        """Maria starts the meeting and locks it; Sam knocks and waits in the lobby."""
        self.post(self.teacher, "start")
        self.teacher.post(f"/rooms/{self.room}/lock", data={"locked": "1"}, headers=HTMX)
        assert "The room is locked" in text_of(self.post(self.sam, "join"))


@pytest.fixture
def biology(app, world):
    return Class(app, world)


def autojoins(response) -> bool:
    """The page's Join form posts by itself as soon as it loads."""
    return 'hx-trigger="load, submit"' in response.get_data(as_text=True)


# --- Waiting for the start -----------------------------------------------------------


def test_pupil_waiting_for_the_start_still_waits_after_reloading_the_channel_page(biology):
    assert WAITING_FOR_START in text_of(biology.post(biology.sam, "join"))
    reloaded = biology.channel_page(biology.sam)
    assert WAITING_FOR_START in text_of(reloaded)
    assert "Join Meeting" not in text_of(reloaded)
    assert "waiting=1" in reloaded.get_data(as_text=True), "the reloaded page keeps asking"


def test_pupil_waiting_for_the_start_still_waits_after_reloading_the_room_page(biology):
    biology.post(biology.sam, "join")
    assert WAITING_FOR_START in text_of(biology.room_page(biology.sam))


def test_reloaded_waiting_page_enters_when_the_meeting_starts(biology):
    biology.post(biology.sam, "join")
    biology.channel_page(biology.sam)
    assert biology.post(biology.sam, "join", waiting=1).status_code == 204
    biology.post(biology.teacher, "start")
    entered = biology.post(biology.sam, "join", waiting=1)
    assert "You are a participant" in text_of(entered)


def test_pupil_who_reloads_just_after_the_start_enters_by_themselves(biology):
    biology.post(biology.sam, "join")
    biology.post(biology.teacher, "start")
    reloaded = biology.channel_page(biology.sam)
    assert "A meeting is in progress" in text_of(reloaded)
    assert autojoins(reloaded)


def test_stop_waiting_forgets_the_place(biology):
    biology.post(biology.sam, "join")
    stopped = biology.post(biology.sam, "leave")
    assert "Join Meeting" in text_of(stopped)
    reloaded = biology.channel_page(biology.sam)
    assert WAITING_FOR_START not in text_of(reloaded)
    assert "Join Meeting" in text_of(reloaded)


def test_after_entering_and_leaving_a_reload_shows_the_join_button(biology):
    biology.post(biology.sam, "join")
    biology.post(biology.teacher, "start")
    biology.post(biology.sam, "join", waiting=1)
    biology.post(biology.sam, "leave")
    reloaded = biology.channel_page(biology.sam)
    assert "Join Meeting" in text_of(reloaded)
    assert not autojoins(reloaded), "leaving was a choice: no joining behind their back"


def test_someone_who_never_clicked_join_is_not_waiting(biology):
    page = text_of(biology.channel_page(biology.sam))
    assert WAITING_FOR_START not in page and "Join Meeting" in page


def test_the_instructor_does_not_inherit_the_pupils_waiting_place(biology):
    biology.post(biology.sam, "join")
    page = text_of(biology.channel_page(biology.teacher))
    assert "Start Meeting" in page and WAITING_FOR_START not in page


# --- The waiting room of a locked meeting --------------------------------------------


def test_pupil_in_the_waiting_room_sees_it_again_after_a_reload(biology):
    biology.start_locked()
    for page in (biology.channel_page(biology.sam), biology.room_page(biology.sam)):
        assert "The room is locked" in text_of(page)
        assert "sse-connect" in page.get_data(as_text=True), "listening for the decision"
        assert "Join Meeting" not in text_of(page)


def test_reloaded_waiting_room_page_enters_when_admitted(biology):
    biology.start_locked()
    session_id = biology.session_id()
    reloaded = biology.channel_page(biology.sam)
    assert "The room is locked" in text_of(reloaded)
    with biology.app.app_context():
        since = newest_id()
    stream = open_stream(biology.sam, biology.room, session_id, since)
    biology.teacher.post(
        f"/rooms/{biology.room}/waiting/{biology.waiting_entry()}/admit", headers=HTMX
    )
    assert stream.wait_for(lambda m: m.event == "refresh")
    stream.close()
    entered = biology.post(biology.sam, "join", session=session_id, auto=1)
    assert "You are a participant" in text_of(entered)


def test_admitted_while_the_page_was_reloading_enters_by_themselves(biology):
    biology.start_locked()
    biology.teacher.post(
        f"/rooms/{biology.room}/waiting/{biology.waiting_entry()}/admit", headers=HTMX
    )
    reloaded = biology.channel_page(biology.sam)
    assert autojoins(reloaded)
    assert "You are a participant" in text_of(biology.post(biology.sam, "join"))


def test_leaving_the_waiting_room_then_reloading_shows_the_join_button(biology):
    biology.start_locked()
    biology.post(biology.sam, "leave")
    reloaded = biology.channel_page(biology.sam)
    assert "The room is locked" not in text_of(reloaded)
    assert "Join Meeting" in text_of(reloaded)
    assert not autojoins(reloaded)

"""A message deleted for everyone: gone for everyone in the room, kept for the admins."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import ChatMessage, LiveSession
from liveroom.roles import AppRole, ChannelRole
from tests.conftest import HTMX, as_user, open_stream, text_of

MEAN = "Nobody likes you, Priya"


class Meeting:
    """Sam wrote something mean in Biology 101's meeting and the teacher deleted it."""

    def __init__(self, app, world):
        world.user("admin", AppRole.ADMIN, name="Alex Admin")
        world.user("teacher", name="Maria Rivera")
        world.user("sam", name="Sam Lee")
        world.user("priya", name="Priya Patel")
        world.enable()
        self.room = world.room_of(
            world.channel(
                teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER, priya=ChannelRole.MEMBER
            )
        )
        self.app = app
        self.teacher, self.sam, self.priya = (as_user(app, n) for n in ("teacher", "sam", "priya"))
        self.admin = as_user(app, "admin")
        self.post(self.teacher, "start")
        self.post(self.sam, "join")
        self.post(self.priya, "join")
        self.post(self.sam, "chat", body=MEAN)
        with app.app_context():
            self.session = db.session.scalar(sa.select(LiveSession.id))
            self.message = db.session.scalar(sa.select(ChatMessage.id))
        self.post(self.teacher, f"chat/{self.message}/delete")

    def post(self, client, action, **data):
        response = client.post(f"/rooms/{self.room}/{action}", data=data, headers=HTMX)
        assert response.status_code < 400, response.get_data(as_text=True)


@pytest.fixture
def meeting(app, world):
    return Meeting(app, world)


def test_an_admin_reads_a_deleted_message_marked_with_who_deleted_it(meeting):
    page = text_of(meeting.admin.get("/admin/deleted-messages"))
    assert MEAN in page
    assert "Sam Lee (sam) in Biology 101" in page
    assert "Deleted" in page and "by Maria Rivera" in page


def test_nobody_else_receives_a_deleted_message(meeting):
    for client in (meeting.teacher, meeting.sam, meeting.priya):
        page = client.get("/admin/deleted-messages")
        assert page.status_code == 403
        assert MEAN not in page.get_data(as_text=True)
        assert MEAN not in client.get(f"/rooms/{meeting.room}").get_data(as_text=True)
        # The stream from the meeting's start replays everything else, not that.
        stream = open_stream(client, meeting.room, meeting.session, last_event_id=0)
        meeting.post(meeting.teacher, "chat", body=f"marker for {id(client)}")
        stream.wait_for_text(f"marker for {id(client)}")
        assert not [event for event in stream.seen if MEAN in event.data]
        stream.close()


def test_after_the_retention_the_text_is_gone_and_the_record_stays(meeting):
    with meeting.app.app_context():
        db.session.get(ChatMessage, meeting.message).body = ""
        db.session.commit()
    page = text_of(meeting.admin.get("/admin/deleted-messages"))
    assert "(text removed after the retention period)" in page
    assert "Sam Lee (sam)" in page and "by Maria Rivera" in page

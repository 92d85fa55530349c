"""The live room module switch: turning it off ends meetings, pages say so and recover."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from liveroom.events import newest_id
from liveroom.extensions import db
from liveroom.models import AuditEntry, LiveSession, Participation, User
from liveroom.roles import AppRole, ChannelRole
from tests.conftest import HTMX, as_user, open_stream, text_of

TURNED_OFF = "Live rooms were turned off by the site's administrator."
ALL_ON = {
    "live_room_enabled": "y",
    "private_rooms_enabled": "y",
    "private_room_minimum_role": "privateOnlyRole",
}


class School:
    """Biology 101 with a live meeting (Maria teaches, Sam takes part), an admin, and
    Omar, a member who has the channel page open but is not in the meeting."""

    def __init__(self, app, world):
        world.user("admin", AppRole.ADMIN, name="Alex Admin")
        world.user("teacher", AppRole.PRIVATE_ONLY, name="Maria Rivera")
        world.user("sam", name="Sam Lee")
        world.user("omar", name="Omar Haddad")
        world.enable()
        self.app = app
        self.channel = world.channel(
            teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER, omar=ChannelRole.MEMBER
        )
        self.room = world.room_of(self.channel)
        self.admin = as_user(app, "admin")
        self.teacher = as_user(app, "teacher")
        self.sam = as_user(app, "sam")
        self.omar = as_user(app, "omar")
        self.teacher.post(f"/rooms/{self.room}/start", headers=HTMX)
        self.sam.post(f"/rooms/{self.room}/join", headers=HTMX)
        with app.app_context():
            self.session = db.session.scalar(sa.select(LiveSession.id))

    def switch(self, **fields: str):
        """The admin saves the settings page with these boxes ticked."""
        return self.admin.post("/admin/settings", data=fields, follow_redirects=True)

    def turn_off(self):
        return self.switch(private_room_minimum_role="privateOnlyRole")

    def turn_on(self):
        return self.switch(**ALL_ON)

    def refresh(self, client):
        """What an open room panel asks after its stream said "refresh"."""
        return client.post(
            f"/rooms/{self.room}/join",
            headers=HTMX,
            query_string={"session": self.session, "auto": 1},
        )

    def button(self, client, **shown):
        return client.get(f"/rooms/{self.room}/button", headers=HTMX, query_string=shown)

    def live_session(self):
        with self.app.app_context():
            return db.session.get(LiveSession, self.session)


@pytest.fixture
def school(app, world):
    return School(app, world)


def test_admin_turning_live_rooms_off_ends_every_live_meeting(school, world, app):
    other = world.channel("Chemistry 202", teacher=ChannelRole.MANAGER)
    school.teacher.post(f"/rooms/{world.room_of(other)}/start", headers=HTMX)
    page = text_of(school.turn_off())
    assert "Live rooms are off: every live meeting has ended." in page
    with app.app_context():
        sessions = list(db.session.scalars(sa.select(LiveSession)))
        assert len(sessions) == 2
        assert all(s.ended_at is not None and s.end_reason == "disabled" for s in sessions)
        admin_id = db.session.scalar(sa.select(User.id).where(User.username == "admin"))
        assert {s.ended_by_id for s in sessions} == {admin_id}
        still_in = sa.select(sa.func.count()).where(Participation.left_at.is_(None))
        assert db.session.scalar(still_in) == 0, "everyone's stay closes"


def test_open_panels_hear_the_end_and_say_live_rooms_were_turned_off(school):
    stream = open_stream(school.sam, school.room, school.session, newest_id_of(school))
    school.turn_off()
    assert stream.wait_for(lambda m: m.event == "refresh")
    stream.close()
    answer = school.refresh(school.sam)
    assert answer.status_code == 200
    page = text_of(answer)
    assert TURNED_OFF in page
    assert "Not found" not in page
    assert "See who attended" not in page, "attendance is for the meeting's staff"


def test_the_instructor_panel_after_the_switch_links_to_attendance(school):
    school.turn_off()
    answer = school.refresh(school.teacher)
    assert TURNED_OFF in text_of(answer)
    assert f"/sessions/{school.session}/attendance" in answer.get_data(as_text=True)


def test_chat_posted_after_the_switch_says_why_instead_of_not_found(school):
    school.turn_off()
    answer = school.sam.post(f"/rooms/{school.room}/chat", data={"body": "hello?"}, headers=HTMX)
    assert answer.status_code == 404
    assert TURNED_OFF in text_of(answer)


def test_channel_meeting_box_says_turned_off_then_comes_back_by_itself(school):
    school.sam.post(f"/rooms/{school.room}/leave", headers=HTMX)
    school.teacher.post(f"/rooms/{school.room}/end", headers=HTMX)
    # Omar's channel page shows "No meeting right now"; when its stream says something
    # changed, it asks for its button (204: nothing to redraw).
    assert school.button(school.omar, live=0).status_code == 204
    school.turn_off()
    off = school.button(school.omar, live=0)
    assert off.status_code == 200
    assert TURNED_OFF in text_of(off)
    html = off.get_data(as_text=True)
    assert "off=1" in html and 'hx-trigger="sse:meeting"' in html, "it listens on"
    assert "shown=off" in html, "its stream knows what the page shows"
    assert school.button(school.omar, off=1).status_code == 204, "quiet while still off"
    school.turn_on()
    back = school.button(school.omar, off=1)
    assert back.status_code == 200
    page = text_of(back)
    assert "No meeting right now" in page and "Join Meeting" in page


def test_a_page_waiting_for_the_start_says_turned_off(school):
    school.teacher.post(f"/rooms/{school.room}/end", headers=HTMX)
    assert "Waiting for the instructor" in text_of(
        school.omar.post(f"/rooms/{school.room}/join", headers=HTMX)
    )
    school.turn_off()
    waiting_poll = school.omar.post(
        f"/rooms/{school.room}/join", headers=HTMX, query_string={"waiting": 1}
    )
    assert waiting_poll.status_code == 200
    assert TURNED_OFF in text_of(waiting_poll)


def test_room_link_while_off_is_404_with_the_reason(school):
    school.turn_off()
    answer = school.sam.get(f"/rooms/{school.room}")
    assert answer.status_code == 404
    assert TURNED_OFF in text_of(answer)


def test_fresh_channel_page_while_off_has_no_meeting_box(school):
    school.turn_off()
    page = text_of(school.omar.get(f"/channels/{school.channel}"))
    assert "Join Meeting" not in page and "Start Meeting" not in page


def test_attendance_stays_available_while_the_module_is_off(school):
    school.turn_off()
    base = f"/rooms/{school.room}"
    assert "Past meetings and attendance" in text_of(
        school.teacher.get(f"/channels/{school.channel}")
    )
    assert school.teacher.get(f"{base}/attendance").status_code == 200
    page = text_of(school.teacher.get(f"{base}/sessions/{school.session}/attendance"))
    assert "Sam Lee" in page and "live rooms were turned off" in page
    assert school.teacher.get(f"{base}/sessions/{school.session}/attendance.csv").status_code == 200
    assert school.sam.get(f"{base}/attendance").status_code == 403
    assert school.admin.get(f"{base}/attendance").status_code == 200, "admins see every channel's"


def test_meeting_ended_by_the_switch_says_so_once_rooms_are_back(school):
    school.turn_off()
    school.turn_on()
    page = text_of(school.refresh(school.sam))
    assert "This meeting has ended" in page
    assert "It ended when live rooms were turned off by the site's administrator." in page


def test_saving_other_settings_leaves_live_meetings_alone(school):
    school.switch(**{**ALL_ON, "open_in_new_tab": "y"})
    assert school.live_session().ended_at is None


def test_turning_private_rooms_off_ends_private_meetings_only(school, world, app):
    private = world.private_room("teacher", "Algebra catch-up")
    school.teacher.post(f"/rooms/{private}/start", headers=HTMX)
    page = text_of(
        school.switch(live_room_enabled="y", private_room_minimum_role="privateOnlyRole")
    )
    assert "Private rooms are off" in page
    with app.app_context():
        reasons = sorted(str(r) for r in db.session.scalars(sa.select(LiveSession.end_reason)))
    assert reasons == ["None", "disabled"]
    assert school.live_session().ended_at is None, "the channel's meeting goes on"
    answer = school.teacher.post(f"/rooms/{private}/join", headers=HTMX, query_string={"auto": 1})
    assert "Private rooms were turned off by the site's administrator." in text_of(answer)


def test_the_command_line_switch_ends_meetings_too(school, app):
    result = app.test_cli_runner().invoke(args=["settings", "set", "liveRoomEnabled", "off"])
    assert result.exit_code == 0, result.output
    assert "liveRoomEnabled = false" in result.output
    session = school.live_session()
    assert session.ended_at is not None and session.end_reason == "disabled"
    with app.app_context():
        details = list(db.session.scalars(sa.select(AuditEntry.detail)))
    assert "liveRoomEnabled: true → false (CLI)" in details


def test_the_command_line_refuses_a_bad_value_and_changes_nothing(school, app):
    result = app.test_cli_runner().invoke(args=["settings", "set", "liveRoomEnabled", "maybe"])
    assert result.exit_code != 0
    assert "takes true or false" in result.output
    assert school.live_session().ended_at is None


def newest_id_of(school: School) -> int:
    with school.app.app_context():
        return newest_id()

"""Live now: the admin sees every live meeting and who is in it, joins any as staff
(a channel's room or someone's private room), and ends one for everyone."""

from __future__ import annotations

import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import AuditEntry, LiveSession, Participation, User
from liveroom.roles import AppRole, ChannelRole, RoomRole
from tests.conftest import HTMX, as_user, text_of


def live_school(app, world) -> tuple[str, str]:
    world.enable()
    world.user("alex", AppRole.ADMIN, name="Alex Admin")
    world.user("maria", AppRole.PRIVATE_ONLY, name="Maria Rivera")
    world.user("sam", name="Sam Lee")
    channel_id = world.channel("Biology 101", maria=ChannelRole.MANAGER, sam=ChannelRole.MEMBER)
    room = world.room_of(channel_id)
    private = world.private_room("maria", "Office hours")
    maria, sam = as_user(app, "maria"), as_user(app, "sam")
    assert maria.post(f"/rooms/{room}/start", headers=HTMX).status_code == 200
    assert sam.post(f"/rooms/{room}/join", headers=HTMX).status_code == 200
    assert maria.post(f"/rooms/{private}/start", headers=HTMX).status_code == 200
    return room, private


def test_admin_sees_every_live_meeting_and_who_is_in_it(app, world):
    live_school(app, world)
    page = as_user(app, "alex").get("/admin/live")
    assert page.status_code == 200
    text = text_of(page)
    assert "2 meetings live." in text
    assert "Biology 101" in text and "Office hours" in text
    assert "Private room of Maria Rivera" in text
    assert "started by Maria Rivera" in text
    assert "Sam Lee" in text and "2 people in the room" in text


def test_nobody_else_sees_live_now(app, world):
    live_school(app, world)
    assert as_user(app, "maria").get("/admin/live").status_code == 403
    assert as_user(app, "sam").get("/admin/live").status_code == 403


def stay_of(app, username: str, public_id: str) -> Participation | None:
    with app.app_context():
        return db.session.scalar(
            sa.select(Participation)
            .join(User, User.id == Participation.user_id)
            .join(LiveSession, LiveSession.id == Participation.session_id)
            .where(User.username == username, LiveSession.ended_at.is_(None))
            .where(
                LiveSession.room_id
                == sa.select(sa.text("id"))
                .select_from(sa.text("room"))
                .where(sa.text("public_id = :p"))
                .scalar_subquery()
            )
            .params(p=public_id)
        )


def test_admin_joins_a_private_room_as_staff(app, world):
    _, private = live_school(app, world)
    alex = as_user(app, "alex")
    assert alex.post(f"/rooms/{private}/join", headers=HTMX).status_code == 200
    stay = stay_of(app, "alex", private)
    assert stay is not None and stay.room_role is RoomRole.INSTRUCTOR and not stay.promoted


def test_admin_joins_a_channel_meeting_as_staff(app, world):
    room, _ = live_school(app, world)
    alex = as_user(app, "alex")
    assert alex.post(f"/rooms/{room}/join", headers=HTMX).status_code == 200
    assert stay_of(app, "alex", room).room_role is RoomRole.INSTRUCTOR


def test_admin_ends_a_meeting_for_everyone(app, world):
    room, _ = live_school(app, world)
    alex = as_user(app, "alex")
    with app.app_context():
        session_id = db.session.scalar(sa.select(LiveSession.id).order_by(LiveSession.id).limit(1))
    answer = alex.post(f"/admin/live/{session_id}/end")
    assert answer.status_code == 303
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        assert session.ended_at is not None and session.end_reason == "admin"
        assert not db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Participation)
            .where(Participation.session_id == session_id, Participation.left_at.is_(None))
        )
        entry = db.session.scalar(sa.select(AuditEntry).order_by(AuditEntry.id.desc()))
        assert entry.action == "room.meeting_ended" and entry.detail.endswith(": admin")
    ended = as_user(app, "sam").post(
        f"/rooms/{room}/join", headers=HTMX, query_string={"session": session_id}
    )
    assert "It was ended by the site's administrator." in text_of(ended)
    page = alex.get("/admin/live")
    assert "1 meeting live." in text_of(page)
    # Ending it again says so, and changes nothing.
    again = alex.post(f"/admin/live/{session_id}/end", follow_redirects=True)
    assert "had already ended" in text_of(again)


def test_only_admins_end_meetings_from_here(app, world):
    live_school(app, world)
    with app.app_context():
        session_id = db.session.scalar(sa.select(LiveSession.id).limit(1))
    assert as_user(app, "maria").post(f"/admin/live/{session_id}/end").status_code == 403
    with app.app_context():
        assert db.session.get(LiveSession, session_id).ended_at is None

"""What instructors do to people and rooms in a meeting goes to the audit log, with
who did it; what people do for themselves does not; the admin's settings page keeps
listing the site's own changes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import AuditEntry, LiveSession, Participation, User
from liveroom.roles import AppRole, ChannelRole
from tests.conftest import HTMX, World, as_user


@pytest.fixture
def meeting(app, world: World):
    """Biology 101 is live: the teacher started it, Sam and Priya joined."""
    world.user("teacher")
    world.user("sam")
    world.user("priya")
    world.user("admin", AppRole.ADMIN)
    world.enable()
    room = world.room_of(
        world.channel(teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER, priya=ChannelRole.MEMBER)
    )
    teacher, sam, priya = (as_user(app, name) for name in ("teacher", "sam", "priya"))
    teacher.post(f"/rooms/{room}/start", headers=HTMX)
    sam.post(f"/rooms/{room}/join", headers=HTMX)
    priya.post(f"/rooms/{room}/join", headers=HTMX)
    return room, teacher, sam, priya


def ids(app) -> dict:
    with app.app_context():
        people = {u.username: u.id for u in db.session.scalars(sa.select(User))}
        stays = {
            p.user_id: p.id
            for p in db.session.scalars(
                sa.select(Participation).where(Participation.left_at.is_(None))
            )
        }
        session = db.session.scalar(sa.select(LiveSession.id))
    return {"people": people, "stays": stays, "session": session}


def entries(app) -> list[tuple[int | None, str, str]]:
    with app.app_context():
        found = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))
        return [(e.actor_id, e.action, e.detail) for e in found]


def test_an_instructors_moderation_is_recorded_with_who_did_it(app, meeting):
    room, teacher, sam, priya = meeting
    known = ids(app)
    people, stays, session = known["people"], known["stays"], known["session"]
    sam_stay, priya_stay = stays[people["sam"]], stays[people["priya"]]
    on = sam.post(f"/rooms/{room}/media/state", data={"kind": "mic", "on": "1"}, headers=HTMX)
    assert on.status_code < 400, on.get_data(as_text=True)  # his own: not recorded
    for path, data in [
        (f"/rooms/{room}/media/people/{sam_stay}/mute", {}),
        (f"/rooms/{room}/people/{sam_stay}/role", {"role": "instructor"}),
        (f"/rooms/{room}/people/{sam_stay}/role", {"role": "participant"}),
        (f"/rooms/{room}/lock", {"locked": "1"}),
        (f"/rooms/{room}/chat/enabled", {"enabled": "0"}),
        (f"/rooms/{room}/media/mute-all", {"strong": "1"}),
        (f"/rooms/{room}/media/allow-all", {}),
        (f"/rooms/{room}/media/stage-mode", {"mode": "invite_only"}),
        (f"/rooms/{room}/people/{priya_stay}/remove", {}),
        (f"/rooms/{room}/end", {}),
    ]:
        answer = teacher.post(path, data=data, headers=HTMX)
        assert answer.status_code < 400, (path, answer.get_data(as_text=True))
    recorded = entries(app)
    teacher_id = people["teacher"]
    assert {actor for actor, _, _ in recorded} == {teacher_id}
    actions = [action for _, action, _ in recorded]
    assert actions == [
        "room.media_mic_stopped",
        "room.moderator_set",
        "room.moderator_unset",
        "room.room_locked",
        "room.chat_turned_off",
        "room.media_mute_all_strong",
        "room.media_allow_all",
        "room.media_stage_mode",
        "room.participant_removed",
        "room.meeting_ended",
    ]
    details = dict((action, detail) for _, action, detail in recorded)
    assert details["room.participant_removed"] == f"meeting {session}, user {people['priya']}"
    assert details["room.meeting_ended"] == f"meeting {session}: ended"


def test_what_people_do_for_themselves_is_not_recorded(app, meeting):
    room, teacher, sam, priya = meeting
    sam.post(f"/rooms/{room}/hand", data={"raised": "1"}, headers=HTMX)
    sam.post(f"/rooms/{room}/chat", data={"body": "Hello"}, headers=HTMX)
    sam.post(f"/rooms/{room}/media/state", data={"kind": "mic", "on": "0"}, headers=HTMX)
    sam.post(f"/rooms/{room}/leave", headers=HTMX)
    assert entries(app) == []


def test_a_deleted_message_is_recorded_only_when_someone_elses(app, meeting):
    room, teacher, sam, priya = meeting
    sam.post(f"/rooms/{room}/chat", data={"body": "Oops"}, headers=HTMX)
    sam.post(f"/rooms/{room}/chat", data={"body": "Rude"}, headers=HTMX)
    with app.app_context():
        from liveroom.models import ChatMessage

        own, rude = db.session.scalars(sa.select(ChatMessage.id).order_by(ChatMessage.id))
    sam.post(f"/rooms/{room}/chat/{own}/delete", headers=HTMX)
    assert entries(app) == []
    teacher.post(f"/rooms/{room}/chat/{rude}/delete", headers=HTMX)
    [(actor, action, detail)] = entries(app)
    assert action == "room.message_deleted" and detail.endswith(f": message {rude}")
    assert actor == ids(app)["people"]["teacher"]


def test_the_settings_page_lists_the_sites_changes_not_the_meetings(app, meeting):
    room, teacher, sam, priya = meeting
    teacher.post(f"/rooms/{room}/lock", data={"locked": "1"}, headers=HTMX)
    admin = as_user(app, "admin")
    admin.post(
        "/admin/settings",
        data={
            "live_room_enabled": "y",
            "private_rooms_enabled": "y",
            "private_room_minimum_role": "privateOnlyRole",
            "default_stage_mode": "everyone",
            "open_in_new_tab": "y",
        },
    )
    page = admin.get("/admin/settings").get_data(as_text=True)
    assert "openInNewTab: false → true" in page
    assert "room_locked" not in page and f"meeting {ids(app)['session']}," not in page
    assert ": meeting " not in page


def test_the_command_lines_accounts_and_channels_are_recorded(app, runner):
    for args in (
        ["users", "create", "maria", "--password", "a-long-password", "--role", "privateOnlyRole"],
        ["channels", "create", "Chemistry"],
        ["channels", "add-member", "Chemistry", "maria", "--role", "manager"],
    ):
        done = runner.invoke(args=args)
        assert done.exit_code == 0, done.output
    assert [(actor, action, detail) for actor, action, detail in entries(app)] == [
        (None, "user_created", "maria: privateOnlyRole (CLI)"),
        (None, "channel_created", "Chemistry (CLI)"),
        (None, "membership_added", "maria: manager of Chemistry (CLI)"),
    ]

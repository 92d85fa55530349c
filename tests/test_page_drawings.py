"""Pages drawn once and reused while their data is the same show a change at once.

The channel list, a channel's members and a meeting's attendance are kept per process
(``templating.Drawings``, and the members' order and the attendance lines kept for
the exact rows read). Each story reads a page, changes what it shows in the database
and reads it again: the next request must show the change.
"""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import Channel, Membership, User
from liveroom.roles import AppRole, ChannelRole
from tests.conftest import as_user, text_of
from tests.test_attendance import START, Meeting, add_stay, rows_of


def members_of(response) -> list[str]:
    html = response.get_data(as_text=True)
    return [
        " ".join(item.split())
        for item in re.findall(r'<span class="person__name"><bdi>(.*?)</bdi></span>', html)
    ]


def rename(app, username: str, name: str) -> None:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == username))
        user.display_name = name
        db.session.commit()


def set_channel_role(app, username: str, channel: int, role: ChannelRole) -> None:
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.username == username))
        db.session.scalar(
            sa.select(Membership).where(
                Membership.user_id == user_id, Membership.channel_id == channel
            )
        ).role = role
        db.session.commit()


def class_of(app, world):
    world.user("teacher", name="Maria Rivera")
    world.user("sam", name="Sam Lee")
    world.user("priya", name="Priya Patel")
    channel = world.channel(
        teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER, priya=ChannelRole.MEMBER
    )
    return channel, as_user(app, "teacher")


def test_renamed_member_shows_on_the_next_channel_page(app, world):
    channel, _ = class_of(app, world)
    member = as_user(app, "priya")  # Managers get the list with its forms, drawn per request
    assert members_of(member.get(f"/channels/{channel}")) == [
        "Maria Rivera",
        "Priya Patel",
        "Sam Lee",
    ]
    rename(app, "sam", "Aaron Sam")
    assert members_of(member.get(f"/channels/{channel}")) == [
        "Maria Rivera",
        "Aaron Sam",
        "Priya Patel",
    ]


def test_changed_role_shows_on_the_next_channel_page(app, world):
    channel, _ = class_of(app, world)
    member = as_user(app, "priya")  # Managers get the list with its forms, drawn per request
    html = member.get(f"/channels/{channel}").get_data(as_text=True)
    assert html.count("badge--strong") == 1
    set_channel_role(app, "sam", channel, ChannelRole.MODERATOR)
    response = member.get(f"/channels/{channel}")
    assert members_of(response)[:2] == ["Maria Rivera", "Sam Lee"], "runs meetings: first"
    assert response.get_data(as_text=True).count("badge--strong") == 2
    assert "Moderator" in text_of(response)


def test_new_member_shows_on_the_next_channel_page(app, world):
    channel, _ = class_of(app, world)
    member = as_user(app, "priya")  # Managers get the list with its forms, drawn per request
    member.get(f"/channels/{channel}")
    world.user("lee", name="Lee Chen")
    world.add_member(channel, "lee", ChannelRole.MEMBER)
    response = member.get(f"/channels/{channel}")
    assert "Lee Chen" in members_of(response)
    assert '<span class="count">4</span>' in response.get_data(as_text=True)


def test_renamed_channel_shows_on_the_next_channel_list(app, world):
    channel, teacher = class_of(app, world)
    assert "Biology 101" in text_of(teacher.get("/channels/"))
    with app.app_context():
        db.session.get(Channel, channel).name = "Chemistry 201"
        db.session.commit()
    listed = text_of(teacher.get("/channels/"))
    assert "Chemistry 201" in listed and "Biology 101" not in listed


def test_added_stay_shows_on_the_next_attendance_page(app, world):
    meeting = Meeting(app, world)
    assert len(rows_of(meeting.page())) == 3
    add_stay(
        app,
        meeting.session,
        "priya",
        START + timedelta(minutes=6, seconds=30),
        START + timedelta(minutes=7),
    )
    priya_row = rows_of(meeting.page())[2]
    assert "2 stays" in priya_row and "4.5" in priya_row


def test_renamed_person_shows_on_the_next_attendance_page(app, world):
    meeting = Meeting(app, world)
    assert rows_of(meeting.page())[1].startswith("Sam Lee")
    rename(app, "sam", "Samuel Lee")
    assert rows_of(meeting.page())[1].startswith("Samuel Lee")


def test_changed_role_shows_on_the_next_channel_list(app, world):
    channel, _ = class_of(app, world)
    sam = as_user(app, "sam")
    assert "Member" in text_of(sam.get("/channels/"))
    set_channel_role(app, "sam", channel, ChannelRole.MODERATOR)
    listed = text_of(sam.get("/channels/"))
    assert "Moderator" in listed and "Member" not in listed


def test_renamed_room_and_its_meeting_show_on_the_next_my_rooms(app, world):
    world.user("teacher", AppRole.PRIVATE_ONLY, name="Maria Rivera")
    world.enable(private=True)
    room = world.private_room("teacher", "Office hours")
    teacher = as_user(app, "teacher")
    html = teacher.get("/my-rooms").get_data(as_text=True)
    assert "Office hours" in html and "badge--live" not in html
    with app.app_context():
        world.room(room).name = "Study group"
        db.session.commit()
    assert teacher.post(f"/rooms/{room}/start").status_code in (200, 302, 303)
    html = teacher.get("/my-rooms").get_data(as_text=True)
    assert "Study group" in html and "Office hours" not in html
    assert "badge--live" in html, "the meeting started: the room is live"


def user_menu_of(response) -> str:
    html = response.get_data(as_text=True)
    menu = re.search(r'<details class="user-menu">(.*?)</details>', html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", menu).split())


def set_role(app, username: str, role: AppRole) -> None:
    with app.app_context():
        db.session.scalar(sa.select(User).where(User.username == username)).role = role
        db.session.commit()


def test_each_person_sees_their_own_header_and_a_rename_at_once(app, world):
    channel, teacher = class_of(app, world)
    sam = as_user(app, "sam")
    assert "Signed in as teacher" in user_menu_of(teacher.get(f"/channels/{channel}"))
    menu = user_menu_of(sam.get(f"/channels/{channel}"))
    assert "Sam Lee" in menu and "Signed in as sam" in menu and "Maria" not in menu
    rename(app, "sam", "Samuel Lee")
    assert "Samuel Lee" in user_menu_of(sam.get(f"/channels/{channel}"))


def test_a_changed_application_role_changes_the_user_menu_at_once(app, world):
    channel, _ = class_of(app, world)
    world.enable(private=True)
    sam = as_user(app, "sam")
    menu = user_menu_of(sam.get(f"/channels/{channel}"))
    assert "Viewer" in menu and "My Rooms" not in menu and "Live Room settings" not in menu
    set_role(app, "sam", AppRole.PRIVATE_ONLY)
    menu = user_menu_of(sam.get(f"/channels/{channel}"))
    assert "Private Only" in menu and "My Rooms" in menu and "Live Room settings" not in menu
    set_role(app, "sam", AppRole.ADMIN)
    assert "Live Room settings" in user_menu_of(sam.get(f"/channels/{channel}"))


def meeting_box_of(response) -> str:
    html = response.get_data(as_text=True)
    box = re.search(r'<section id="meeting".*?</section>', html, re.S).group(0)
    return " ".join(re.sub(r"<[^>]+>", " ", box).split())


def test_the_meeting_box_follows_the_viewer_and_the_meeting(app, world):
    channel, teacher = class_of(app, world)
    world.enable(private=False)
    sam = as_user(app, "sam")
    assert "Start Meeting" in meeting_box_of(teacher.get(f"/channels/{channel}"))
    waiting = meeting_box_of(sam.get(f"/channels/{channel}"))
    assert "No meeting right now" in waiting and "Join Meeting" in waiting
    assert "You will wait here until an instructor starts the meeting." in waiting
    room = world.room_of(channel)
    assert teacher.post(f"/rooms/{room}/start").status_code == 303  # to the room's page
    priya = as_user(app, "priya")
    live = meeting_box_of(priya.get(f"/channels/{channel}"))
    assert "A meeting is in progress" in live and "You will join as a participant." in live
    # A Member made Moderator sees the instructor's box on the next page.
    set_channel_role(app, "priya", channel, ChannelRole.MODERATOR)
    promoted = meeting_box_of(priya.get(f"/channels/{channel}"))
    assert "You will enter with full instructor permissions." in promoted


def test_addresses_and_drawings_follow_the_path_the_app_is_served_under(app, world):
    """Addresses are remembered per process (templates' url_for) and sections drawn
    once: an app behind a path prefix (SCRIPT_NAME) gets its own, never the root's."""
    channel, teacher = class_of(app, world)
    world.enable(private=False)
    at_root = teacher.get(f"/channels/{channel}").get_data(as_text=True)
    under = teacher.get(f"/channels/{channel}", base_url="http://localhost/school/")
    under = under.get_data(as_text=True)
    assert 'href="/channels/"' in at_root and "/school/" not in at_root
    assert 'href="/school/channels/"' in under and 'action="/school/logout"' in under
    assert f'action="/school/rooms/{world.room_of(channel)}/start"' in under
    assert 'href="/channels/"' not in under


def test_two_managers_each_get_their_own_token_in_the_members_rows(tmp_path):
    # The rows are drawn once for both; each page must still carry its own CSRF token,
    # and a role changed with it shows in the rows the other manager gets next.
    from tests.conftest import World, make_app
    from tests.test_security import logged_in

    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    world = World(app)
    world.user("teacher", name="Maria Rivera")
    world.user("cohost", name="Ana Cohost")
    world.user("sam", name="Sam Lee")
    channel = world.channel(
        teacher=ChannelRole.MANAGER, cohost=ChannelRole.MANAGER, sam=ChannelRole.MEMBER
    )
    teacher, cohost = logged_in(app, "teacher"), logged_in(app, "cohost")
    with app.app_context():
        sam_id = db.session.scalar(sa.select(User.id).where(User.username == "sam"))

    def row_tokens(client) -> set[str]:
        html = client.get(f"/channels/{channel}").get_data(as_text=True)
        row = html[html.index(f"/channels/{channel}/members/{sam_id}/role") :]
        return set(re.findall(r'name="csrf_token" value="([^"]+)"', row[:2000]))

    teacher_tokens, cohost_tokens = row_tokens(teacher), row_tokens(cohost)
    assert len(teacher_tokens) == 1 and len(cohost_tokens) == 1
    assert teacher_tokens != cohost_tokens
    changed = cohost.post(
        f"/channels/{channel}/members/{sam_id}/role",
        data={"role": "moderator", "csrf_token": cohost_tokens.pop(), "back": ""},
    )
    assert changed.status_code == 303
    html = teacher.get(f"/channels/{channel}").get_data(as_text=True)
    sam_row = html[html.index(f'id="role-{sam_id}"') :]
    assert re.match(
        r'id="role-\d+" name="role">.*?<option value="moderator" selected>', sam_row, re.S
    )

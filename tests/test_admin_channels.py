"""The admin's channels: the table (search, sort, pages), create, rename, describe,
archive and unarchive; an archived channel starts no meeting."""

from __future__ import annotations

import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import AuditEntry, Channel, LiveSession
from liveroom.roles import AppRole, ChannelRole
from tests.conftest import HTMX, as_user, text_of


def admin_client(app, world):
    world.user("alex", AppRole.ADMIN, name="Alex Admin")
    return as_user(app, "alex")


def audit_actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))


def test_admin_creates_a_channel_with_its_room(app, world):
    admin = admin_client(app, world)
    response = admin.post("/admin/channels", data={"name": " Physics ", "description": "Forces"})
    assert response.status_code == 303
    with app.app_context():
        channel = db.session.scalar(sa.select(Channel).where(Channel.name == "Physics"))
        assert channel.description == "Forces"
        assert channel.room is not None and channel.room.name == "Physics"
    assert "channel_created" in audit_actions(app)


def test_a_taken_or_empty_name_is_refused_with_a_reason(app, world):
    admin = admin_client(app, world)
    world.channel("Physics")
    response = admin.post("/admin/channels", data={"name": "Physics"})
    assert response.status_code == 422
    assert "A channel called “Physics” already exists" in text_of(response)
    response = admin.post("/admin/channels", data={"name": "   "})
    assert response.status_code == 422
    assert "Enter a name for the channel." in text_of(response)


def test_the_table_searches_sorts_and_pages(app, world):
    admin = admin_client(app, world)
    with app.app_context():
        for n in range(60):
            db.session.add(Channel(name=f"Class {n:02d}"))
        db.session.add(Channel(name="Zoology"))
        db.session.commit()
    page = admin.get("/admin/channels")
    assert page.status_code == 200
    assert "61 channels found." in text_of(page)
    assert "Page 1 of 3" in text_of(page)
    found = admin.get("/admin/channels", query_string={"q": "zoo"}, headers=HTMX)
    assert "Zoology" in text_of(found) and "Class 01" not in text_of(found)
    assert "1 channel found" in text_of(found)
    last = admin.get("/admin/channels", query_string={"page": 3})
    assert "Zoology" in text_of(last)
    newest = admin.get("/admin/channels", query_string={"sort": "newest"})
    assert "Zoology" in text_of(newest)  # the newest, on the first page


def test_admin_renames_and_describes_a_channel(app, world):
    admin = admin_client(app, world)
    channel_id = world.channel("Physics")
    world.channel("Chemistry")
    response = admin.post(
        f"/admin/channels/{channel_id}", data={"name": "Physics 2", "description": "New"}
    )
    assert response.status_code == 303
    with app.app_context():
        channel = db.session.get(Channel, channel_id)
        assert (channel.name, channel.description, channel.room.name) == (
            "Physics 2",
            "New",
            "Physics 2",
        )
    taken = admin.post(f"/admin/channels/{channel_id}", data={"name": "Chemistry"})
    assert taken.status_code == 422
    assert "already exists" in text_of(taken)
    assert "channel_renamed" in audit_actions(app)


def test_non_admins_cannot_reach_the_channel_console(app, world):
    world.user("maria", AppRole.PRIVATE_ONLY)
    channel_id = world.channel("Physics", maria=ChannelRole.MANAGER)
    maria = as_user(app, "maria")
    assert maria.get("/admin/channels").status_code == 403
    assert maria.post("/admin/channels", data={"name": "Mine"}).status_code == 403
    assert maria.post(f"/admin/channels/{channel_id}", data={"name": "X"}).status_code == 403
    assert maria.post(f"/admin/channels/{channel_id}/archive").status_code == 403


def start(client, public_id):
    return client.post(f"/rooms/{public_id}/start", headers=HTMX)


def test_archived_channel_cannot_start_a_meeting(app, world):
    world.enable()
    admin = admin_client(app, world)
    world.user("maria", AppRole.PRIVATE_ONLY)
    channel_id = world.channel("Physics", maria=ChannelRole.MANAGER)
    room = world.room_of(channel_id)
    assert (
        admin.post(f"/admin/channels/{channel_id}/archive", data={"archived": "true"}).status_code
        == 303
    )
    maria = as_user(app, "maria")
    refused = start(maria, room)
    assert refused.status_code == 403
    assert "archived" in text_of(refused)
    page = maria.get(f"/channels/{channel_id}")
    assert "This channel is archived" in text_of(page)
    assert "Start Meeting" not in text_of(page)
    # Unarchived, it starts again.
    admin.post(f"/admin/channels/{channel_id}/archive", data={"archived": "false"})
    assert start(maria, room).status_code == 200
    assert [a for a in audit_actions(app) if a.startswith("channel_")] == [
        "channel_archived",
        "channel_unarchived",
    ]


def test_archiving_ends_the_live_meeting_for_everyone(app, world):
    world.enable()
    admin = admin_client(app, world)
    world.user("maria", AppRole.PRIVATE_ONLY)
    world.user("sam")
    channel_id = world.channel("Physics", maria=ChannelRole.MANAGER, sam=ChannelRole.MEMBER)
    room = world.room_of(channel_id)
    maria, sam = as_user(app, "maria"), as_user(app, "sam")
    assert start(maria, room).status_code == 200
    assert sam.post(f"/rooms/{room}/join", headers=HTMX).status_code == 200
    admin.post(f"/admin/channels/{channel_id}/archive", data={"archived": "true"})
    with app.app_context():
        session = db.session.scalar(sa.select(LiveSession))
        assert session.ended_at is not None and session.end_reason == "archived"
    ended = sam.post(f"/rooms/{room}/join", headers=HTMX, query_string={"session": session.id})
    assert "It ended when the site's administrator archived this channel." in text_of(ended)
    assert "channel_archived" in audit_actions(app)


def test_channel_list_marks_archived_channels_and_lists_them_last(app, world):
    world.user("sam")
    world.channel("Algebra", sam=ChannelRole.MEMBER)
    world.channel("Biology", sam=ChannelRole.MEMBER)
    with app.app_context():
        algebra = db.session.scalar(sa.select(Channel).where(Channel.name == "Algebra"))
        from liveroom.models import utcnow

        algebra.archived_at = utcnow()
        db.session.commit()
    text = text_of(as_user(app, "sam").get("/channels/"))
    assert text.index("Biology") < text.index("Algebra")
    assert "Archived" in text

"""Every application role x channel role x action, through the real views.

The expected answers are written out here by hand from the MediaSpace rules, not
computed by the policy code under test.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import Channel, LiveSession, Membership, User
from liveroom.roles import AppRole, ChannelRole
from liveroom.rooms import service
from liveroom.settings import set_setting
from tests.conftest import FAST_HASH, HTMX, PASSWORD, make_app

APP_ROLES = list(AppRole)
CHANNEL_ROLES = [*ChannelRole, None]
ACTIONS = [
    "view channel",
    "start",
    "join",
    "see My Rooms",
    "create room",
    "launch other's room",
    "end",
]

ADMINS = {AppRole.ADMIN, AppRole.UNMODERATED_ADMIN}
RUNS_MEETINGS = {ChannelRole.MANAGER, ChannelRole.MODERATOR}
PRIVATE_ROOMS = {AppRole.PRIVATE_ONLY, AppRole.ADMIN, AppRole.UNMODERATED_ADMIN}


def expected(app_role: AppRole, channel_role: ChannelRole | None, action: str) -> bool:
    if app_role is AppRole.ANONYMOUS:
        return False
    may_start = app_role in ADMINS or channel_role in RUNS_MEETINGS
    return {
        "view channel": True,
        "start": may_start,
        "join": app_role in ADMINS or channel_role is not None,
        "see My Rooms": app_role in PRIVATE_ROOMS,
        "create room": app_role in PRIVATE_ROOMS,
        "launch other's room": False,
        "end": may_start,
    }[action]


def username(app_role: AppRole, channel_role: ChannelRole | None) -> str:
    return f"{app_role.value}-{channel_role.value if channel_role else 'none'}".lower()


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("matrix"))
    with app.app_context():
        set_setting("liveRoomEnabled", "true")
        set_setting("enableUserPrivateLiveRoom", "true")
        channel = Channel(name="Biology 101")
        owner = User(
            username="owner",
            display_name="Owner",
            role=AppRole.PRIVATE_ONLY,
            password_hash=FAST_HASH,
        )
        db.session.add_all([channel, owner])
        for app_role in APP_ROLES:
            for channel_role in CHANNEL_ROLES:
                user = User(
                    username=username(app_role, channel_role),
                    display_name=username(app_role, channel_role),
                    role=app_role,
                    password_hash=FAST_HASH,
                )
                db.session.add(user)
                if channel_role:
                    db.session.add(Membership(channel=channel, user=user, role=channel_role))
        db.session.commit()
        room = service.channel_room(channel)
        db.session.commit()
        private = service.create_private_room(owner, "Owner's room")
        ids = {"channel": channel.id, "room": room.public_id, "private": private.public_id}
    return app, ids


def do(app, ids, user: str, action: str) -> bool:
    client = app.test_client()
    assert client.post("/login", data={"username": user, "password": PASSWORD}).status_code == 302
    room = ids["room"]
    if action == "view channel":
        return client.get(f"/channels/{ids['channel']}").status_code == 200
    if action == "start":
        allowed = client.post(f"/rooms/{room}/start", headers=HTMX).status_code == 200
        end_all(app)
        return allowed
    if action == "join":
        return client.post(f"/rooms/{room}/join", headers=HTMX).status_code == 200
    if action == "see My Rooms":
        menu = client.get("/channels/").get_data(as_text=True)
        page = client.get("/my-rooms").status_code
        assert ("My Rooms" in menu) == (page == 200), "menu entry and page must agree"
        return page == 200
    if action == "create room":
        status = client.post("/my-rooms", data={"name": f"{user} room"}, headers=HTMX).status_code
        return status == 201
    if action == "launch other's room":
        return client.post(f"/rooms/{ids['private']}/start", headers=HTMX).status_code == 200
    if action == "end":
        with app.app_context():
            channel = db.session.get(Channel, ids["channel"])
            owner = db.session.scalar(sa.select(User).where(User.username == "owner"))
            service.start_session(channel.room, owner)
        client.post(f"/rooms/{room}/end", headers=HTMX)
        with app.app_context():
            ended = (
                db.session.scalar(sa.select(sa.func.count()).where(LiveSession.ended_at.is_(None)))
                == 0
            )
        end_all(app)
        return ended
    raise AssertionError(action)


def end_all(app) -> None:
    with app.app_context():
        for session in db.session.scalars(
            sa.select(LiveSession).where(LiveSession.ended_at.is_(None))
        ):
            service.end_session(session, session.started_by)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("channel_role", CHANNEL_ROLES, ids=lambda r: r.value if r else "no-member")
@pytest.mark.parametrize("app_role", APP_ROLES, ids=lambda r: r.value)
def test_role_matrix(matrix, app_role, channel_role, action):
    app, ids = matrix
    allowed = do(app, ids, username(app_role, channel_role), action)
    assert allowed == expected(app_role, channel_role, action)

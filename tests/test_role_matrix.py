"""Every application role x channel role x action, through the real views.

The expected answers are written out here by hand from the MediaSpace rules, not
computed by the policy code under test.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.models import (
    Channel,
    ChatMessage,
    LiveSession,
    Membership,
    Participation,
    User,
    WaitingEntry,
)
from liveroom.roles import AppRole, ChannelRole
from liveroom.rooms import meetings, private
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
        room = meetings.channel_room(channel)
        db.session.commit()
        own = private.create_private_room(owner, "Owner's room")
        ids = {"channel": channel.id, "room": room.public_id, "private": own.public_id}
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
            meetings.start_session(channel.room, owner)
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
            meetings.end_session(session, session.started_by)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("channel_role", CHANNEL_ROLES, ids=lambda r: r.value if r else "no-member")
@pytest.mark.parametrize("app_role", APP_ROLES, ids=lambda r: r.value)
def test_role_matrix(matrix, app_role, channel_role, action):
    app, ids = matrix
    allowed = do(app, ids, username(app_role, channel_role), action)
    assert allowed == expected(app_role, channel_role, action)


# --- Inside a meeting: staff instructors x promoted moderators x participants ----------
# Maria (channel Manager) runs the meeting. The actor is another channel Manager
# ("staff"), a Member given "Set as moderator" ("promoted"), or a Member ("participant").
# Targets: Cora (channel Moderator: staff), Mo (a promoted Member), Pia (a Member with
# her hand up). Each has written a message; Leo waits in the locked room, and so does a
# stale request of Bo's (a channel Manager: staff).

RANKS = ["staff", "promoted", "participant"]
IN_ROOM = {
    # action                              staff  promoted participant
    "lock the room":                      (True, False, False),
    "turn participant chat off":          (True, False, False),
    "end the meeting":                    (True, False, False),
    "lower all hands":                    (True, True, False),
    "set a participant as moderator":     (True, False, False),
    "make a moderator participant":       (True, False, False),
    "make staff participant":             (False, False, False),
    "remove a participant":               (True, True, False),
    "remove a moderator":                 (True, False, False),
    "remove staff":                       (False, False, False),
    "lower a participant's hand":         (True, True, False),
    "delete a participant's message":     (True, True, False),
    "delete a moderator's message":       (True, False, False),
    "delete staff's message":             (True, False, False),
    "admit a newcomer":                   (True, True, False),
    "deny a newcomer":                    (True, True, False),
    "deny staff":                         (False, False, False),
}  # fmt: skip


class InRoom:
    def __init__(self, app, rank: str) -> None:
        self.app = app
        people = {
            "maria": ChannelRole.MANAGER,
            "cora": ChannelRole.MODERATOR,
            "bo": ChannelRole.MANAGER,
            "mo": ChannelRole.MEMBER,
            "pia": ChannelRole.MEMBER,
            "leo": ChannelRole.MEMBER,
            "actor": ChannelRole.MANAGER if rank == "staff" else ChannelRole.MEMBER,
        }
        with app.app_context():
            set_setting("liveRoomEnabled", "true")
            channel = Channel(name="Biology 101")
            db.session.add(channel)
            for name, role in people.items():
                user = User(username=name, display_name=name, password_hash=FAST_HASH)
                db.session.add_all([user, Membership(channel=channel, user=user, role=role)])
            db.session.commit()
            self.room = meetings.channel_room(channel).public_id
            db.session.commit()
        self.clients = {name: self.login(name) for name in people}
        self.post("maria", "start")
        for name in ("cora", "mo", "pia", "actor"):
            self.post(name, "join")
        self.post("maria", f"people/{self.stay('mo')}/role", role="instructor")
        if rank == "promoted":
            self.post("maria", f"people/{self.stay('actor')}/role", role="instructor")
        for name in ("maria", "cora", "mo", "pia"):
            self.post(name, "chat", body=f"hello from {name}")
        self.post("pia", "hand", raised="1")
        self.post("maria", "lock", locked="1")
        self.post("leo", "join")
        with app.app_context():
            session = db.session.scalar(sa.select(LiveSession))
            bo = db.session.scalar(sa.select(User).where(User.username == "bo"))
            db.session.add(WaitingEntry(session_id=session.id, user_id=bo.id))
            db.session.commit()

    def login(self, name):
        client = self.app.test_client()
        client.post("/login", data={"username": name, "password": PASSWORD})
        return client

    def post(self, name, action, **data):
        return self.clients[name].post(f"/rooms/{self.room}/{action}", data=data, headers=HTMX)

    def stay(self, name) -> int:
        with self.app.app_context():
            return db.session.scalar(
                sa.select(Participation.id)
                .join(User, Participation.user_id == User.id)
                .where(User.username == name, Participation.left_at.is_(None))
            )

    def message(self, name) -> int:
        with self.app.app_context():
            return db.session.scalar(
                sa.select(ChatMessage.id)
                .join(User, ChatMessage.author_id == User.id)
                .where(User.username == name)
            )

    def entry(self, name) -> int:
        with self.app.app_context():
            return db.session.scalar(
                sa.select(WaitingEntry.id)
                .join(User, WaitingEntry.user_id == User.id)
                .where(User.username == name)
            )

    def attempt(self, action: str) -> int:
        requests = {
            "lock the room": ("lock", {"locked": "0"}),
            "turn participant chat off": ("chat/enabled", {"enabled": "0"}),
            "end the meeting": ("end", {}),
            "lower all hands": ("hands/lower-all", {}),
            "set a participant as moderator": (
                f"people/{self.stay('pia')}/role",
                {"role": "instructor"},
            ),
            "make a moderator participant": (
                f"people/{self.stay('mo')}/role",
                {"role": "participant"},
            ),
            "make staff participant": (f"people/{self.stay('cora')}/role", {"role": "participant"}),
            "remove a participant": (f"people/{self.stay('pia')}/remove", {}),
            "remove a moderator": (f"people/{self.stay('mo')}/remove", {}),
            "remove staff": (f"people/{self.stay('cora')}/remove", {}),
            "lower a participant's hand": (f"people/{self.stay('pia')}/hand/lower", {}),
            "delete a participant's message": (f"chat/{self.message('pia')}/delete", {}),
            "delete a moderator's message": (f"chat/{self.message('mo')}/delete", {}),
            "delete staff's message": (f"chat/{self.message('cora')}/delete", {}),
            "admit a newcomer": (f"waiting/{self.entry('leo')}/admit", {}),
            "deny a newcomer": (f"waiting/{self.entry('leo')}/deny", {}),
            "deny staff": (f"waiting/{self.entry('bo')}/deny", {}),
        }
        url, data = requests[action]
        return self.post("actor", url, **data).status_code


@pytest.mark.parametrize("action", list(IN_ROOM))
@pytest.mark.parametrize("rank", RANKS)
def test_in_room_matrix(tmp_path, rank, action):
    app = make_app(tmp_path)
    try:
        status = InRoom(app, rank).attempt(action)
    finally:
        hub_of(app).stop()
    allowed = IN_ROOM[action][RANKS.index(rank)]
    assert status in (200, 204) if allowed else status == 403, status

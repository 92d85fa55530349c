"""SQL statements per request stay the same however much data there is.

A page that asks the database once per channel, per room or per person is fast on the
demo data and slow at a school's size, and nothing else in the suite notices. So the
same story runs on two databases, one ten times the other (users, channels,
memberships, private rooms, past meetings and their attendance, people in the live
meeting, chat history), and every page and action it takes must make exactly as many
statements on both, and no more than its ceiling below.

Statements are counted with a ``before_cursor_execute`` listener on the app's real
engine (SQLite), on the requesting thread only, so nothing running in the background
is counted.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.models import (
    Channel,
    ChatMessage,
    LiveSession,
    Membership,
    Participation,
    Room,
    User,
    utcnow,
)
from liveroom.roles import AppRole, ChannelRole, RoomRole
from liveroom.settings import set_setting
from liveroom.text import name_key
from tests.conftest import FAST_HASH, HTMX, as_user, make_app

# How much more data the large database holds than the small one.
SMALL, LARGE = 1, 10

# Ceilings: the most statements each request may make, whatever the data's size.
# Raising one is a decision to review: say in the commit why the page needs more.
# Every signed-in request makes 2 of them (the user with their login session, the site
# settings); the comments name the rest.
CEILINGS = {
    "channel list": 3,  # + one page of the channels I see (role, live, how many in all)
    "channel list (admin)": 3,  # the same, over every channel
    "channel page": 4,  # + channel with room, live session and my role; members
    "My Rooms": 4,  # + my rooms, which of them are live
    "attendance index": 4,  # + room with my role, meetings with who started them
    "attendance page": 4,  # + room with my role and the meeting; every stay with its person
    "room page": 5,  # + room, my roles, live session: the Start button
    "meeting button, nothing changed": 5,  # the idle page's poll, answered 204
    "meeting button, meeting started": 5,
    "Start Meeting": 10,  # the ceiling (22 before): 3 writes, then the panel
    # + room with my role, meeting with the stream's cursor, the way in (stay, waiting,
    # removal: one statement), 2 writes, then the panel: the top of the list with the
    # counts, chat. 23 before the join storm work: the commit no longer reloads what it
    # loaded; 8 before the list came with its counts.
    "Join Meeting": 7,
    # + room with my role, the meeting with my stay, the slot (PostgreSQL: my row locked
    # first; the slot written, then my recent and open slots read), the events since
    # the panel's cursor, and the meeting once more when the lists must be drawn anew.
    # 12 before (room, my role, meeting, stay, lock, two slot reads around the write).
    "opening the room's stream": 10,
    "room page, in the meeting": 12,
    "posting chat": 9,
    "Leave": 10,
    "End": 15,
}


@dataclass
class Counter:
    """Statements the app's engine ran on this thread while ``counting`` was on."""

    statements: list[str] = field(default_factory=list)
    on: bool = False
    thread: int = 0

    def note(self, _conn, _cursor, statement: str, *_rest) -> None:
        if self.on and threading.get_ident() == self.thread:
            self.statements.append(statement)

    def count(self, request: Callable[[], object]) -> int:
        self.statements.clear()
        self.thread, self.on = threading.get_ident(), True
        try:
            request()
        finally:
            self.on = False
        return len(self.statements)


def seed(app: Flask, scale: int) -> dict[str, str | int]:
    """Bulk data ``scale`` times over, around two people who are measured: alice
    manages channels, belongs to more and owns private rooms; bob is a member of
    alice's first channel (the measured one). Returns what the story needs by name."""
    people_per_channel = 10 * scale
    channels = 10 * scale
    with app.app_context():
        for key, value in {"liveRoomEnabled": "true", "enableUserPrivateLiveRoom": "true"}.items():
            set_setting(key, value)
        insert = db.session.execute
        names = ["alice", "bob", "root"] + [f"user{n}" for n in range(people_per_channel * 2)]
        roles = {"alice": AppRole.PRIVATE_ONLY, "root": AppRole.ADMIN}
        insert(
            sa.insert(User),
            [
                {
                    "username": name,
                    "display_name": name.title(),
                    "password_hash": FAST_HASH,
                    "role": roles.get(name, AppRole.VIEWER),
                }
                for name in names
            ],
        )
        user_id = dict(db.session.execute(sa.select(User.username, User.id)).all())
        others = [user_id[f"user{n}"] for n in range(people_per_channel * 2)]
        insert(
            sa.insert(Channel),
            [{"name": f"Channel {n:04}", "description": f"About {n}"} for n in range(channels)],
        )
        channel_ids = list(db.session.scalars(sa.select(Channel.id).order_by(Channel.id)))
        insert(
            sa.insert(Room),
            [
                {
                    "name": f"Channel {n:04}",
                    "name_key": name_key(f"Channel {n:04}"),
                    "channel_id": c,
                }
                for n, c in enumerate(channel_ids)
            ],
        )
        # alice manages a fifth of the channels and is a member of two fifths more.
        memberships = []
        for n, channel_id in enumerate(channel_ids):
            if n % 5 == 0:
                memberships.append((channel_id, user_id["alice"], ChannelRole.MANAGER))
            elif n % 5 in (1, 2):
                memberships.append((channel_id, user_id["alice"], ChannelRole.MEMBER))
            start = (n * 7) % len(others)
            for k in range(people_per_channel):
                role = ChannelRole.MODERATOR if k == 0 else ChannelRole.MEMBER
                memberships.append((channel_id, others[(start + k) % len(others)], role))
        measured = channel_ids[0]
        memberships.append((measured, user_id["bob"], ChannelRole.MEMBER))
        insert(
            sa.insert(Membership),
            [{"channel_id": c, "user_id": u, "role": r} for c, u, r in memberships],
        )
        insert(
            sa.insert(Room),
            [
                {
                    "name": f"Room {n}",
                    "name_key": name_key(f"Room {n}"),
                    "owner_id": user_id["alice"],
                }
                for n in range(5 * scale)
            ]
            + [
                {"name": "Theirs", "name_key": name_key("Theirs"), "owner_id": other}
                for other in others[: 5 * scale]
            ],
        )
        room = db.session.scalar(sa.select(Room).where(Room.channel_id == measured))
        members = [
            u
            for u in db.session.scalars(
                sa.select(Membership.user_id).where(Membership.channel_id == measured)
            )
        ]
        # Past meetings in the measured room, everyone there, some of them twice.
        past = utcnow() - timedelta(days=30)
        for n in range(3 * scale):
            begun = past + timedelta(days=n)
            session_id = insert(
                sa.insert(LiveSession).values(
                    room_id=room.id,
                    # Different people started them: the index names each one.
                    started_by_id=members[n % len(members)],
                    started_at=begun,
                    ended_at=begun + timedelta(hours=1),
                    ended_by_id=user_id["alice"],
                    end_reason="ended",
                )
            ).inserted_primary_key[0]
            stays = [
                {
                    "session_id": session_id,
                    "user_id": member,
                    "room_role": RoomRole.PARTICIPANT,
                    "joined_at": begun + timedelta(minutes=k % 7),
                    "left_at": begun + timedelta(minutes=30 + k % 11),
                }
                for k, member in enumerate(members)
            ]
            stays += [
                dict(stay, joined_at=stay["left_at"], left_at=begun + timedelta(minutes=55))
                for stay in stays[::3]
            ]
            insert(sa.insert(Participation), stays)
        db.session.commit()
        return {
            "room": room.public_id,
            "channel": measured,
            "past_session": session_id,
            "private_room": db.session.scalar(
                sa.select(Room.public_id).where(Room.owner_id == user_id["alice"]).limit(1)
            ),
            "scale": scale,
        }


def fill_meeting(app: Flask, public_id: str, scale: int) -> None:
    """People already in the live meeting before bob joins, and its chat so far."""
    with app.app_context():
        room = db.session.scalar(sa.select(Room).where(Room.public_id == public_id))
        session = db.session.scalar(
            sa.select(LiveSession).where(
                LiveSession.room_id == room.id, LiveSession.ended_at.is_(None)
            )
        )
        bob = db.session.scalar(sa.select(User.id).where(User.username == "bob"))
        present = list(
            db.session.scalars(
                sa.select(Membership.user_id)
                .where(Membership.channel_id == room.channel_id, Membership.user_id != bob)
                .join(User)
                .where(User.username.startswith("user"))
                .limit(5 * scale)
            )
        )
        db.session.execute(
            sa.insert(Participation),
            [
                {"session_id": session.id, "user_id": u, "room_role": RoomRole.PARTICIPANT}
                for u in present
            ],
        )
        db.session.execute(
            sa.insert(ChatMessage),
            [
                {"session_id": session.id, "author_id": present[k % len(present)], "body": f"m{k}"}
                for k in range(10 * scale)
            ],
        )
        db.session.commit()


def story(tmp_path: Path, scale: int) -> dict[str, int]:
    """Every measured page and action once, on a database of the given scale: the
    statements each made, by the names of ``CEILINGS``."""
    app = make_app(tmp_path)
    counter = Counter()
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", counter.note)
    counts: dict[str, int] = {}
    try:
        names = seed(app, scale)
        room = names["room"]
        alice, bob, root = (as_user(app, name) for name in ("alice", "bob", "root"))

        def page(name: str, client: FlaskClient, url: str, status: int = 200, **kw) -> None:
            client.get(url, **kw)  # the first request of a client may set things up
            response = None

            def ask() -> None:
                nonlocal response
                response = client.get(url, **kw)

            counts[name] = counter.count(ask)
            assert response.status_code == status, (name, response.status_code)

        def action(name: str, client: FlaskClient, url: str, status: int = 200, **kw) -> None:
            response = None

            def ask() -> None:
                nonlocal response
                response = client.post(url, headers=HTMX, **kw)

            counts[name] = counter.count(ask)
            assert response.status_code == status, (name, response.get_data(as_text=True))

        page("channel list", alice, "/channels/")
        page("channel list (admin)", root, "/channels/")
        page("channel page", alice, f"/channels/{names['channel']}")
        page("My Rooms", alice, "/my-rooms")
        page("attendance index", alice, f"/rooms/{room}/attendance")
        page("attendance page", alice, f"/rooms/{room}/sessions/{names['past_session']}/attendance")
        page("room page", alice, f"/rooms/{room}")
        button = f"/rooms/{room}/button"
        page("meeting button, nothing changed", bob, f"{button}?live=0", 204, headers=HTMX)
        action("Start Meeting", alice, f"/rooms/{room}/start")
        page("meeting button, meeting started", bob, f"{button}?live=0", headers=HTMX)
        fill_meeting(app, room, scale)
        action("Join Meeting", bob, f"/rooms/{room}/join")
        panel = bob.post(f"/rooms/{room}/join", headers=HTMX).get_data(as_text=True)
        stream_url = html.unescape(re.search(r'sse-connect="([^"]+)"', panel).group(1))

        def open_stream() -> None:
            # Its statements are made before the first byte: the stream is then closed.
            response = bob.get(stream_url, buffered=False)
            assert response.status_code == 200, response.status_code
            response.close()

        counts["opening the room's stream"] = counter.count(open_stream)
        page("room page, in the meeting", bob, f"/rooms/{room}")
        action("posting chat", bob, f"/rooms/{room}/chat", data={"body": "hello"})
        action("Leave", bob, f"/rooms/{room}/leave")
        action("End", alice, f"/rooms/{room}/end")
    finally:
        sa.event.remove(engine, "before_cursor_execute", counter.note)
        hub_of(app).stop()
    return counts


@pytest.fixture(scope="module")
def counts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, dict[str, int]]]:
    """The story's counts on the small and on the large database (built once)."""
    yield {
        scale: story(tmp_path_factory.mktemp(f"scale{scale}"), scale) for scale in (SMALL, LARGE)
    }


@pytest.mark.parametrize("request_name", list(CEILINGS))
def test_statements_stay_the_same_as_the_data_grows(counts, request_name: str) -> None:
    small, large = counts[SMALL][request_name], counts[LARGE][request_name]
    assert small == large, f"{request_name}: {small} statements at 1x, {large} at 10x"


@pytest.mark.parametrize("request_name", list(CEILINGS))
def test_statements_stay_under_their_ceiling(counts, request_name: str) -> None:
    made = counts[LARGE][request_name]
    assert made <= CEILINGS[request_name], f"{request_name}: {made} statements"


def test_an_admin_pages_through_every_channel(app: Flask, world) -> None:
    """A page of the list stays one page however many channels there are; the nav
    below it names the page shown and links the others."""
    world.user("root", AppRole.ADMIN)
    with app.app_context():
        db.session.execute(sa.insert(Channel), [{"name": f"Class {n:03}"} for n in range(60)])
        db.session.commit()
    root = as_user(app, "root")
    first = root.get("/channels/").get_data(as_text=True)
    assert first.count('class="channel-card"') == 50
    assert "Channels 1 to 50 of 60" in first
    assert 'aria-current="page"><span class="visually-hidden">Page </span>1<' in first
    assert 'href="/channels/?page=2" rel="next"' in first
    second = root.get("/channels/?page=2").get_data(as_text=True)
    assert second.count('class="channel-card"') == 10
    assert "Class 059" in second and "Class 049" not in second
    assert root.get("/channels/?page=3").status_code == 404

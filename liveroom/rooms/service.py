"""Room state transitions. Each is one transaction plus one event in the room's log."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.exc import IntegrityError

from liveroom import events
from liveroom.extensions import db
from liveroom.models import Channel, LiveSession, Participation, Room, User, utcnow
from liveroom.roles import RoomRole

ROOM_NAME_MAX = 100
# A heartbeat younger than this is not written again: at 1,000 people polling every
# few seconds, presence must not turn into a stream of writes.
HEARTBEAT_WRITE_INTERVAL = timedelta(seconds=10)
# After the browser says goodbye, how long a reload has to come back before the
# person counts as gone.
GOODBYE_GRACE = timedelta(seconds=5)


class RoomNameError(ValueError):
    """A private room name that cannot be used; the message is shown to the user."""


def live_session(room: Room) -> LiveSession | None:
    return db.session.scalar(
        sa.select(LiveSession).where(LiveSession.room_id == room.id, LiveSession.ended_at.is_(None))
    )


def presence_of(session: LiveSession, user: User) -> Participation | None:
    """The user's current stay in a session, if they are in it."""
    return db.session.scalar(
        sa.select(Participation).where(
            Participation.session_id == session.id,
            Participation.user_id == user.id,
            Participation.left_at.is_(None),
        )
    )


def people_present(session: LiveSession) -> list[Participation]:
    """Who is in the room: instructors first, then by name."""
    rows = db.session.scalars(
        sa.select(Participation)
        .join(User, Participation.user_id == User.id)
        .where(Participation.session_id == session.id, Participation.left_at.is_(None))
        .order_by(Participation.joined_at)
        .options(so.contains_eager(Participation.user))
    )
    instructors_first = {RoomRole.INSTRUCTOR: 0, RoomRole.PARTICIPANT: 1}
    return sorted(
        rows,
        key=lambda p: (instructors_first[p.room_role], p.user.display_name.casefold()),
    )


def channel_room(channel: Channel) -> Room:
    """The channel's room, created the first time anyone needs it."""
    if channel.room is None:
        channel.room = Room(name=channel.name, name_key=channel.name.casefold())
        db.session.commit()
    return channel.room


def clean_room_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise RoomNameError("Enter a name for the room.")
    if len(name) > ROOM_NAME_MAX:
        raise RoomNameError(f"Room names can be at most {ROOM_NAME_MAX} characters.")
    return name


def create_private_room(owner: User, raw_name: str) -> Room:
    """A new private room owned by ``owner``; RoomNameError when the name is unusable."""
    name = clean_room_name(raw_name)
    room = Room(name=name, name_key=name.casefold(), owner_id=owner.id)
    db.session.add(room)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise RoomNameError(f"You already have a room called “{name}”.") from None
    return room


def private_rooms_of(owner: User) -> list[Room]:
    return list(
        db.session.scalars(sa.select(Room).where(Room.owner_id == owner.id).order_by(Room.name_key))
    )


def _enter(session: LiveSession, user: User, role: RoomRole) -> Participation:
    present = presence_of(session, user)
    if present is not None:
        present.last_seen_at = utcnow()
        if present.room_role is not role and role is RoomRole.INSTRUCTOR:
            # Someone made Manager while in the room gets their rights without a rejoin.
            present.room_role = role
            events.append(session.room_id, "role_changed", session.id, user_id=user.id)
        return present
    participation = Participation(session_id=session.id, user_id=user.id, room_role=role)
    db.session.add(participation)
    events.append(
        session.room_id, "participant_joined", session.id, user_id=user.id, role=role.value
    )
    return participation


def start_session(room: Room, user: User) -> tuple[LiveSession, Participation]:
    """Start Meeting: open a live session (or join the one already live) as instructor."""
    session = live_session(room)
    if session is None:
        session = LiveSession(room_id=room.id, started_by_id=user.id)
        db.session.add(session)
        try:
            db.session.flush()
        except IntegrityError:
            # Another instructor started it a moment ago: join theirs.
            db.session.rollback()
            session = live_session(room)
            assert session is not None
        else:
            events.append(room.id, "session_started", session.id, user_id=user.id)
    participation = _enter(session, user, RoomRole.INSTRUCTOR)
    db.session.commit()
    return session, participation


def join_session(session: LiveSession, user: User, role: RoomRole) -> Participation:
    """Join Meeting: enter a live session with the given room role."""
    participation = _enter(session, user, role)
    try:
        db.session.commit()
    except IntegrityError:
        # A double click raced us; the other request already let them in.
        db.session.rollback()
        participation = presence_of(session, user)
        assert participation is not None
    return participation


def leave_session(session: LiveSession, user: User) -> None:
    present = presence_of(session, user)
    if present is None:
        return
    present.left_at = utcnow()
    events.append(session.room_id, "participant_left", session.id, user_id=user.id)
    db.session.commit()


def end_session(session: LiveSession, user: User) -> None:
    """End the meeting for everyone; everyone's stay closes at the same moment."""
    if session.ended_at is not None:
        return
    now = utcnow()
    session.ended_at = now
    session.ended_by_id = user.id
    db.session.execute(
        sa.update(Participation)
        .where(Participation.session_id == session.id, Participation.left_at.is_(None))
        .values(left_at=now)
    )
    events.append(session.room_id, "session_ended", session.id, user_id=user.id)
    db.session.commit()


def heartbeat(participation: Participation) -> None:
    """Note that a participant's page is still open."""
    now = utcnow()
    if participation.goodbye_at is not None or (
        now - participation.last_seen_at >= HEARTBEAT_WRITE_INTERVAL
    ):
        participation.last_seen_at = now
        participation.goodbye_at = None
        db.session.commit()


def say_goodbye(session: LiveSession, user: User) -> None:
    """The browser is leaving the page: they leave unless the page comes right back."""
    present = presence_of(session, user)
    if present is not None:
        present.goodbye_at = utcnow()
        db.session.commit()


def sweep_absent(session: LiveSession, timeout_seconds: int) -> int:
    """Close the stays of people whose page stopped answering. Returns how many left."""
    now = utcnow()
    cutoff = now - timedelta(seconds=timeout_seconds)
    gone = list(
        db.session.scalars(
            sa.select(Participation).where(
                Participation.session_id == session.id,
                Participation.left_at.is_(None),
                sa.or_(
                    Participation.last_seen_at < cutoff,
                    Participation.goodbye_at < now - GOODBYE_GRACE,
                ),
            )
        )
    )
    for participation in gone:
        participation.left_at = participation.goodbye_at or participation.last_seen_at
        events.append(
            session.room_id,
            "participant_left",
            session.id,
            user_id=participation.user_id,
            reason="timeout",
        )
    if gone:
        db.session.commit()
    return len(gone)


def live_channel_ids(channel_ids: list[int]) -> set[int]:
    """Which of these channels have a meeting live now."""
    if not channel_ids:
        return set()
    return set(
        db.session.scalars(
            sa.select(Room.channel_id)
            .join(LiveSession, LiveSession.room_id == Room.id)
            .where(Room.channel_id.in_(channel_ids), LiveSession.ended_at.is_(None))
        )
    )


def describe_changes(room: Room, since: int) -> str:
    """A short sentence for screen readers about who came and went since an event id."""
    changes = [e for e in events.since(room.id, since, limit=50) if e.kind in _CHANGE_WORDS]
    if not changes:
        return ""
    ids = {e.data.get("user_id") for e in changes}
    rows = db.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(ids)))
    names = {row.id: row.display_name for row in rows}
    return " ".join(
        f"{names.get(e.data.get('user_id'), 'Someone')} {_CHANGE_WORDS[e.kind]}." for e in changes
    )


_CHANGE_WORDS = {
    "participant_joined": "joined",
    "participant_left": "left",
    "role_changed": "is now an instructor",
}

"""Room state transitions. Each is one transaction plus one event in the room's log."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.exc import IntegrityError

from liveroom import events
from liveroom.extensions import db
from liveroom.models import (
    Channel,
    LiveSession,
    Participation,
    Removal,
    Room,
    User,
    WaitingEntry,
    utcnow,
)
from liveroom.roles import RoomRole
from liveroom.text import clean_line, name_key

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
    """The channel's room, created the first time anyone needs it. The caller commits
    (a page that only reads must not write)."""
    if channel.room is None:
        channel.room = Room(name=channel.name, name_key=name_key(channel.name))
        db.session.flush()
    return channel.room


def clean_room_name(raw: str) -> str:
    name = clean_line(raw)
    if not name:
        raise RoomNameError("Enter a name for the room.")
    if len(name) > ROOM_NAME_MAX:
        raise RoomNameError(f"Room names can be at most {ROOM_NAME_MAX} characters.")
    return name


def create_private_room(owner: User, raw_name: str) -> Room:
    """A new private room owned by ``owner``; RoomNameError when the name is unusable."""
    name = clean_room_name(raw_name)
    room = Room(name=name, name_key=name_key(name), owner_id=owner.id)
    db.session.add(room)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise RoomNameError(f"You already have a room called “{name}”.") from None
    return room


def private_rooms_of(owner: User) -> list[Room]:
    return list(
        db.session.scalars(sa.select(Room).where(Room.owner_id == owner.id).order_by(Room.name, Room.id))
    )


def _enter(session: LiveSession, user: User, role: RoomRole) -> Participation:
    present = presence_of(session, user)
    if present is not None:
        present.last_seen_at = utcnow()
        return present
    participation = Participation(session_id=session.id, user_id=user.id, room_role=role)
    db.session.add(participation)
    db.session.flush()
    events.append(
        session.room_id,
        "participant_joined",
        session.id,
        user_id=user.id,
        participation_id=participation.id,
        role=role.value,
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
    present.hand_raised_at = None
    events.append(
        session.room_id,
        "participant_left",
        session.id,
        user_id=user.id,
        participation_id=present.id,
    )
    db.session.commit()


def end_session(session: LiveSession, user: User | None, reason: str = "ended") -> None:
    """End the meeting for everyone; everyone's stay closes at the same moment."""
    if session.ended_at is not None:
        return
    now = utcnow()
    session.ended_at = now
    session.ended_by_id = user.id if user else None
    session.end_reason = reason
    db.session.execute(
        sa.update(Participation)
        .where(Participation.session_id == session.id, Participation.left_at.is_(None))
        .values(left_at=now)
    )
    db.session.execute(
        sa.update(WaitingEntry)
        .where(WaitingEntry.session_id == session.id, WaitingEntry.decision.is_(None))
        .values(decision="ended", decided_at=now)
    )
    events.append(
        session.room_id,
        "session_ended",
        session.id,
        user_id=user.id if user else None,
        reason=reason,
    )
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
    """Close the stays of people whose page stopped answering. Returns how many left.

    Several processes may sweep at once: each stay is closed by a conditional update,
    so exactly one of them writes the "left" event.
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=timeout_seconds)
    candidates = list(
        db.session.execute(
            sa.select(
                Participation.id,
                Participation.user_id,
                Participation.last_seen_at,
                Participation.goodbye_at,
            ).where(
                Participation.session_id == session.id,
                Participation.left_at.is_(None),
                sa.or_(
                    Participation.last_seen_at < cutoff,
                    Participation.goodbye_at < now - GOODBYE_GRACE,
                ),
            )
        )
    )
    gone = 0
    for row in candidates:
        closed = db.session.execute(
            sa.update(Participation)
            .where(Participation.id == row.id, Participation.left_at.is_(None))
            .values(left_at=row.goodbye_at or row.last_seen_at, hand_raised_at=None)
        ).rowcount
        if closed:
            gone += 1
            events.append(
                session.room_id,
                "participant_left",
                session.id,
                user_id=row.user_id,
                participation_id=row.id,
                reason="timeout",
            )
    if candidates:
        db.session.commit()
    return gone


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


# --- Entering a session: locks, the waiting room, removals ---------------------------


class Entry(enum.Enum):
    """What happened when someone asked to enter a live session."""

    ENTERED = "entered"
    WAITING_ROOM = "waiting_room"
    REMOVED = "removed"


def removal_of(session: LiveSession, user_id: int) -> Removal | None:
    return db.session.scalar(
        sa.select(Removal).where(Removal.session_id == session.id, Removal.user_id == user_id)
    )


def latest_waiting_entry(session: LiveSession, user_id: int) -> WaitingEntry | None:
    return db.session.scalar(
        sa.select(WaitingEntry)
        .where(WaitingEntry.session_id == session.id, WaitingEntry.user_id == user_id)
        .order_by(WaitingEntry.id.desc())
        .limit(1)
    )


def latest_stay(session: LiveSession, user_id: int) -> Participation | None:
    """The person's most recent stay in this session, present or not."""
    return db.session.scalar(
        sa.select(Participation)
        .where(Participation.session_id == session.id, Participation.user_id == user_id)
        .order_by(Participation.id.desc())
        .limit(1)
    )


def previous_role(session: LiveSession, user_id: int) -> RoomRole | None:
    """The role someone last had in this session: a promotion survives leaving."""
    stay = latest_stay(session, user_id)
    return stay.room_role if stay else None


def enter_session(
    session: LiveSession, user: User, default_role: RoomRole, bypasses_lock: bool
) -> tuple[Entry, Participation | None]:
    """Join Meeting inside a live session, minding removals and the room's lock."""
    present = presence_of(session, user)
    if present is not None:
        return Entry.ENTERED, present
    entry = latest_waiting_entry(session, user.id)
    admitted = entry is not None and entry.decision == "admitted"
    if removal_of(session, user.id) is not None and not admitted:
        # Removed people come back only through the waiting room, if they ask.
        waiting = entry is not None and entry.decision is None
        return (Entry.WAITING_ROOM if waiting else Entry.REMOVED), None
    role = previous_role(session, user.id)
    if session.locked and not (bypasses_lock or admitted or role is not None):
        ask_to_enter(session, user)
        return Entry.WAITING_ROOM, None
    if entry is not None and entry.decision is None:
        # They got in another way (the room was unlocked): they wait no more.
        entry.decision = "entered"
        entry.decided_at = utcnow()
        events.append(session.room_id, "waiting_changed", session.id, user_id=user.id)
    return Entry.ENTERED, join_session(session, user, role or default_role)


def ask_to_enter(session: LiveSession, user: User) -> WaitingEntry:
    """Put someone in the waiting room (once: asking twice keeps their place)."""
    entry = latest_waiting_entry(session, user.id)
    if entry is not None and entry.decision is None:
        return entry
    entry = WaitingEntry(session_id=session.id, user_id=user.id)
    db.session.add(entry)
    db.session.flush()
    events.append(session.room_id, "waiting_changed", session.id, user_id=user.id)
    db.session.commit()
    return entry


def waiting_people(session: LiveSession) -> list[WaitingEntry]:
    """The waiting room, in arrival order."""
    return list(
        db.session.scalars(
            sa.select(WaitingEntry)
            .where(WaitingEntry.session_id == session.id, WaitingEntry.decision.is_(None))
            .order_by(WaitingEntry.id)
            .options(so.joinedload(WaitingEntry.user))
        )
    )


def decide(session: LiveSession, entries: list[WaitingEntry], admit: bool, actor: User) -> int:
    """Admit or deny people in the waiting room. Returns how many were decided."""
    now = utcnow()
    decided = 0
    for entry in entries:
        if entry.decision is not None:
            continue
        entry.decision = "admitted" if admit else "denied"
        entry.decided_at = now
        entry.decided_by_id = actor.id
        decided += 1
        if admit:
            # Admitting someone who had been removed lets them back in.
            db.session.execute(
                sa.delete(Removal).where(
                    Removal.session_id == session.id, Removal.user_id == entry.user_id
                )
            )
        events.append(
            session.room_id,
            "waiting_changed",
            session.id,
            user_id=entry.user_id,
            decision=entry.decision,
        )
    db.session.commit()
    return decided


# --- Moderation ---------------------------------------------------------------------


def set_locked(session: LiveSession, locked: bool, actor: User) -> None:
    if session.locked == locked:
        return
    session.locked = locked
    events.append(session.room_id, "room_locked", session.id, locked=locked, user_id=actor.id)
    db.session.commit()


def set_chat_enabled(session: LiveSession, enabled: bool, actor: User) -> None:
    if session.chat_enabled == enabled:
        return
    session.chat_enabled = enabled
    events.append(session.room_id, "chat_toggled", session.id, enabled=enabled, user_id=actor.id)
    db.session.commit()


def set_room_role(target: Participation, role: RoomRole) -> None:
    """Make someone an instructor, or a participant again: live, no rejoin needed."""
    if target.room_role is role:
        return
    target.room_role = role
    events.append(
        target.session.room_id,
        "role_changed",
        target.session_id,
        user_id=target.user_id,
        participation_id=target.id,
        role=role.value,
    )
    db.session.commit()


def remove_person(target: Participation, actor: User) -> None:
    """Remove someone from the session; they stay out unless admitted again."""
    session = target.session
    now = utcnow()
    target.left_at = now
    target.hand_raised_at = None
    if removal_of(session, target.user_id) is None:
        db.session.add(
            Removal(session_id=session.id, user_id=target.user_id, removed_by_id=actor.id)
        )
    # An earlier admission does not outlive a new removal.
    db.session.execute(
        sa.update(WaitingEntry)
        .where(
            WaitingEntry.session_id == session.id,
            WaitingEntry.user_id == target.user_id,
            WaitingEntry.decision == "admitted",
        )
        .values(decision="used")
    )
    events.append(
        session.room_id,
        "participant_removed",
        session.id,
        user_id=target.user_id,
        participation_id=target.id,
    )
    db.session.commit()


def set_hand(target: Participation, raised: bool) -> None:
    if (target.hand_raised_at is not None) == raised:
        return
    target.hand_raised_at = utcnow() if raised else None
    events.append(
        target.session.room_id,
        "hand_changed",
        target.session_id,
        user_id=target.user_id,
        participation_id=target.id,
        raised=raised,
    )
    db.session.commit()


def lower_all_hands(session: LiveSession) -> int:
    lowered = db.session.execute(
        sa.update(Participation)
        .where(Participation.session_id == session.id, Participation.hand_raised_at.is_not(None))
        .values(hand_raised_at=None)
    ).rowcount
    if lowered:
        events.append(session.room_id, "hands_lowered", session.id)
    db.session.commit()
    return lowered


def raised_hands(session: LiveSession) -> list[Participation]:
    """Raised hands in the order they went up."""
    return list(
        db.session.scalars(
            sa.select(Participation)
            .where(
                Participation.session_id == session.id,
                Participation.left_at.is_(None),
                Participation.hand_raised_at.is_not(None),
            )
            .order_by(Participation.hand_raised_at, Participation.id)
            .options(so.joinedload(Participation.user))
        )
    )


# --- Keeping presence and sessions tidy ----------------------------------------------

NO_INSTRUCTOR_LIMIT = timedelta(minutes=15)


def keep_present(participation_ids: list[int]) -> None:
    """One write for every open stream of a process: these people are still here."""
    if not participation_ids:
        return
    db.session.execute(
        sa.update(Participation)
        .where(Participation.id.in_(participation_ids), Participation.left_at.is_(None))
        .values(last_seen_at=utcnow(), goodbye_at=None)
    )
    db.session.commit()


def say_goodbye_to(participation_id: int) -> None:
    """A stream closed: unless it comes back within seconds, its person has left."""
    db.session.execute(
        sa.update(Participation)
        .where(Participation.id == participation_id, Participation.left_at.is_(None))
        .values(goodbye_at=utcnow())
    )
    db.session.commit()


def end_sessions_without_instructor(now: datetime | None = None) -> int:
    """End every session whose room has had no instructor for 15 minutes."""
    now = now or utcnow()
    ended = 0
    for session in db.session.scalars(sa.select(LiveSession).where(LiveSession.ended_at.is_(None))):
        instructors = db.session.execute(
            sa.select(
                sa.func.count().filter(Participation.left_at.is_(None)),
                sa.func.max(Participation.left_at),
            ).where(
                Participation.session_id == session.id,
                Participation.room_role == RoomRole.INSTRUCTOR,
            )
        ).one()
        present, last_left = instructors
        if present:
            continue
        absent_since = last_left or session.started_at
        if now - absent_since >= NO_INSTRUCTOR_LIMIT:
            end_session(session, None, reason="no_instructor")
            ended += 1
    return ended


def sweep_all(timeout_seconds: int) -> None:
    """Periodic upkeep, run by every process: stale stays, leaderless sessions."""
    for session in db.session.scalars(sa.select(LiveSession).where(LiveSession.ended_at.is_(None))):
        sweep_absent(session, timeout_seconds)
    end_sessions_without_instructor()


# --- Attendance -----------------------------------------------------------------------


def past_sessions(room: Room, limit: int = 20) -> list[LiveSession]:
    return list(
        db.session.scalars(
            sa.select(LiveSession)
            .where(LiveSession.room_id == room.id)
            .order_by(LiveSession.id.desc())
            .limit(limit)
        )
    )


def attendance(session: LiveSession) -> list[Participation]:
    """Every stay in the session: who, in which role, from when to when."""
    return list(
        db.session.scalars(
            sa.select(Participation)
            .where(Participation.session_id == session.id)
            .order_by(Participation.joined_at, Participation.id)
            .options(so.joinedload(Participation.user))
        )
    )


def withdraw(session: LiveSession, user: User) -> None:
    """Someone in the waiting room gave up waiting."""
    entry = latest_waiting_entry(session, user.id)
    if entry is not None and entry.decision is None:
        entry.decision = "withdrawn"
        entry.decided_at = utcnow()
        events.append(session.room_id, "waiting_changed", session.id, user_id=user.id)
        db.session.commit()

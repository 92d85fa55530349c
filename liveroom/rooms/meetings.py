"""Meetings: a room's live session from Start to End, and each person's way in and out.

Each transition is one transaction plus its event in the room's log. Entering is
decided once (a partial unique index lets one stay through however many Join clicks
race), leaving too (a conditional update), and two Starts make one session.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.exc import IntegrityError

from liveroom import audit, events
from liveroom.events import Kind
from liveroom.extensions import commit_keeping_loaded, db
from liveroom.media.backend import backend_for
from liveroom.models import (
    Channel,
    Event,
    LiveSession,
    Participation,
    Removal,
    Room,
    User,
    WaitingEntry,
    sort_name_of,
    utcnow,
)
from liveroom.roles import RoomRole
from liveroom.rooms import captions
from liveroom.rooms.presence import presence_of, sweep_absent
from liveroom.rooms.waiting import ask_to_enter, stop_waiting
from liveroom.settings import get_settings
from liveroom.text import name_key

NO_INSTRUCTOR_LIMIT = timedelta(minutes=15)


class Entry(enum.Enum):
    """What happened when someone asked to enter a live session."""

    ENTERED = "entered"
    WAITING_ROOM = "waiting_room"
    REMOVED = "removed"
    # Their last request was refused: a page refreshing itself shows that answer
    # (asking again is a click).
    DENIED = "denied"


# --- Finding meetings -----------------------------------------------------------------


# Built once: every page with a room's meeting box asks it.
_LIVE_SESSION = sa.select(LiveSession).where(
    LiveSession.room_id == sa.bindparam("room_id"), LiveSession.ended_at.is_(None)
)


def live_session(room: Room) -> LiveSession | None:
    """The room's meeting now, if one is live (at most one: a partial unique index)."""
    return db.session.scalar(_LIVE_SESSION, {"room_id": room.id})


# Built once (Join asks them on every click): the room's newest event id, and a meeting
# of the room by id or the live one, each with that id.
_ROOM_CURSOR = (
    sa.select(sa.func.coalesce(sa.func.max(Event.id), 0))
    .where(Event.room_id == sa.bindparam("room_id"))
    .scalar_subquery()
)
# The panel names who started the meeting: they come with it.
_SESSION_WITH_CURSOR = (
    sa.select(LiveSession, _ROOM_CURSOR)
    .where(
        LiveSession.room_id == sa.bindparam("room_id"),
        LiveSession.id == sa.bindparam("session_id"),
    )
    .options(so.joinedload(LiveSession.started_by))
)
_LIVE_SESSION_WITH_CURSOR = (
    sa.select(LiveSession, _ROOM_CURSOR)
    .where(LiveSession.room_id == sa.bindparam("room_id"), LiveSession.ended_at.is_(None))
    .options(so.joinedload(LiveSession.started_by))
)


def session_with_cursor(room: Room, session_id: int = 0) -> tuple[LiveSession | None, int]:
    """A meeting of the room (the one with ``session_id``; without one, the live one)
    and the room's newest event id, read by one statement.

    The id is the cursor a panel's stream replays from. Read with the session it is no
    newer than anything the panel is drawn from (the session's lock and chat switches
    included), so whatever changes after it reaches the page; and Join, which commits
    between reading the session and drawing the panel, needs no other read for it.
    """
    if session_id:
        statement, values = _SESSION_WITH_CURSOR, {"room_id": room.id, "session_id": session_id}
    else:
        statement, values = _LIVE_SESSION_WITH_CURSOR, {"room_id": room.id}
    row = db.session.execute(statement, values).one_or_none()
    return (None, 0) if row is None else (row[0], row[1])


def live_count() -> int:
    """How many meetings are live, in every room."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(LiveSession).where(LiveSession.ended_at.is_(None))
    )


def past_sessions(room: Room, limit: int = 20) -> list[LiveSession]:
    """The room's meetings, newest first (the live one included), with who started
    each (the attendance index names them)."""
    return list(
        db.session.scalars(
            sa.select(LiveSession)
            .where(LiveSession.room_id == room.id)
            .order_by(LiveSession.id.desc())
            .limit(limit)
            .options(so.joinedload(LiveSession.started_by))
        )
    )


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


def channel_room(channel: Channel) -> Room:
    """The channel's room, created the first time anyone needs it. The caller commits
    (a page that only reads must not write)."""
    if channel.room is None:
        channel.room = Room(name=channel.name, name_key=name_key(channel.name))
        db.session.flush()
    return channel.room


# --- Starting and entering ------------------------------------------------------------


def _enter(session: LiveSession, user: User, role: RoomRole, looked: bool = False) -> Participation:
    """The person's stay in the session: theirs already, or a new one and its event.

    Decided once: when requests of one person race (six Join clicks), the unique index
    on present stays lets one insert through. The others' inserts fail (on PostgreSQL
    after waiting for the first to commit, on SQLite after waiting for its write
    lock); they roll back and take that stay, so there is one stay and one event.
    Rolling back drops the caller's other pending changes too: the winner made them.
    ``looked``: the caller has just found them not present (the insert still decides).
    """
    present = None if looked else presence_of(session, user)
    if present is not None:
        present.last_seen_at = utcnow()
        return present
    participation = Participation(
        session_id=session.id,
        user_id=user.id,
        room_role=role,
        sort_name=sort_name_of(user.display_name),
        # Under a strong "mute all", participants who arrive come in muted too.
        strong_muted=session.strong_mute and role is RoomRole.PARTICIPANT,
    )
    db.session.add(participation)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        present = presence_of(session, user)
        if present is None:
            raise  # not a race for the same stay
        return present
    events.append(
        session.room_id,
        Kind.PARTICIPANT_JOINED,
        session.id,
        user_id=user.id,
        participation_id=participation.id,
        role=role.value,
    )
    return participation


def start_session(room: Room, user: User) -> tuple[LiveSession, Participation]:
    """Start Meeting: open a live session (or join the one already live) as instructor."""
    session, stay, _ = open_session(room, user)
    return session, stay


def open_session(room: Room, user: User) -> tuple[LiveSession, Participation, int | None]:
    """Start Meeting: open a live session with ``user`` in it as instructor, or enter
    the one already live as staff do (see ``enter_session``). Returns the session, the
    stay and, when this call started the meeting, the id of its last event: the state
    up to that event is known without asking (only the instructor is there), which
    the panel uses (``pages.panel_context``).

    The new session is inserted first and looked for only if that fails: the partial
    unique index on live sessions lets one Start through when two instructors click
    at once (or one clicks twice), and the other rolls back, as ``_enter``'s races
    do, and enters it. The starting path makes three writes and keeps what the
    request loaded across its commit (tests/test_query_counts.py counts them).
    """
    for _ in range(3):
        session = LiveSession(
            room_id=room.id,
            started_by_id=user.id,
            stage_mode=get_settings().default_stage_mode.value,
        )
        # Nobody else can be in a session this transaction makes: no stay to look for.
        stay = Participation(
            session=session,
            user_id=user.id,
            room_role=RoomRole.INSTRUCTOR,
            sort_name=sort_name_of(user.display_name),
        )
        db.session.add_all([session, stay])
        try:
            db.session.flush()
        except IntegrityError:
            # Another Start won a moment ago: enter its meeting.
            db.session.rollback()
            session = live_session(room)
            if session is None:
                continue  # and it ended meanwhile: start again
            _, participation = enter_session(session, user, staff=True)
            return session, participation, None
        newest = events.append_together(
            [
                {
                    "room_id": room.id,
                    "session_id": session.id,
                    "kind": Kind.SESSION_STARTED,
                    "data": {"user_id": user.id},
                },
                {
                    "room_id": room.id,
                    "session_id": session.id,
                    "kind": Kind.PARTICIPANT_JOINED,
                    "data": {
                        "user_id": user.id,
                        "participation_id": stay.id,
                        "role": RoomRole.INSTRUCTOR.value,
                    },
                },
            ]
        )[-1]
        commit_keeping_loaded()
        return session, stay, newest
    raise RuntimeError("the room's meeting kept starting and ending")


def join_session(
    session: LiveSession, user: User, role: RoomRole, looked: bool = False, commit: bool = True
) -> Participation:
    """Join Meeting: enter a live session with the given room role (once, however
    many requests ask at the same moment; see ``_enter``).

    The commit keeps what the request loaded (``commit_keeping_loaded``): the panel
    drawn next reads the room, the person, the session and the new stay, and in a
    join storm reloading each of them was a quarter of Join's statements. The session
    was read with the panel's cursor (``session_with_cursor``), so a change to it
    since then reaches the page through its stream.
    """
    participation = _enter(session, user, role, looked)
    if not commit:
        # The caller commits (``commit_keeping_loaded``) once it has read the panel in
        # this same transaction: on PostgreSQL the stay is already written (a double
        # click waits on its unique index, and then finds it), and the panel's reads
        # see it, with one transaction's round trips fewer.
        return participation
    try:
        commit_keeping_loaded()
    except IntegrityError:
        # A double click raced us; the other request already let them in.
        db.session.rollback()
        participation = presence_of(session, user)
        if participation is None:
            raise
    return participation


# Built once (Join asks it on every click); see ``way_in``.
_WAY_IN = sa.select(
    sa.select(Participation.id)
    .where(
        Participation.session_id == sa.bindparam("session_id"),
        Participation.user_id == sa.bindparam("user_id"),
    )
    .order_by(Participation.id.desc())
    .limit(1)
    .scalar_subquery(),
    sa.select(WaitingEntry.id)
    .where(
        WaitingEntry.session_id == sa.bindparam("session_id"),
        WaitingEntry.user_id == sa.bindparam("user_id"),
    )
    .order_by(WaitingEntry.id.desc())
    .limit(1)
    .scalar_subquery(),
    sa.exists().where(
        Removal.session_id == sa.bindparam("session_id"),
        Removal.user_id == sa.bindparam("user_id"),
    ),
)


def way_in(
    session: LiveSession, user_id: int
) -> tuple[Participation | None, WaitingEntry | None, bool]:
    """What decides someone's way into a meeting: their latest stay in it, their latest
    request to enter, and whether they were removed.

    One statement asks for all three (the latest stay is the present one, if any: no
    stay can begin while one is open), and only those that exist are then loaded: a
    newcomer, most of a join storm, has none of them.
    """
    stay_id, entry_id, removed = db.session.execute(
        _WAY_IN, {"session_id": session.id, "user_id": user_id}
    ).one()
    return (
        db.session.get(Participation, stay_id) if stay_id else None,
        db.session.get(WaitingEntry, entry_id) if entry_id else None,
        bool(removed),
    )


def enter_session(
    session: LiveSession, user: User, staff: bool, keep_denied: bool = False, commit: bool = True
) -> tuple[Entry, Participation | None]:
    """Join Meeting inside a live session, minding removals and the room's lock.

    ``staff``: ``policy.is_staff`` for the person in this room, which the caller asks
    (and keeps for the panel). Staff instructors always come back in as instructors:
    no removal, lock or earlier demotion keeps them out of their own meeting. Anyone
    else keeps a promotion ("Set as moderator") across leaving and coming back, and
    nothing more. ``keep_denied``: a page refreshing itself (not a click) after a "no"
    gets ``Entry.DENIED`` rather than asking again. ``commit=False``: a new stay is
    left for the caller to commit (``join_session``); every other way out commits.
    """
    last, entry, removed = way_in(session, user.id)
    if last is not None and last.left_at is None:
        return Entry.ENTERED, last
    if keep_denied and entry is not None and entry.decision == "denied":
        return Entry.DENIED, None
    if staff:
        if removed:
            db.session.execute(
                sa.delete(Removal).where(
                    Removal.session_id == session.id, Removal.user_id == user.id
                )
            )
        stop_waiting(session, entry)
        return Entry.ENTERED, join_session(
            session, user, RoomRole.INSTRUCTOR, looked=True, commit=commit
        )
    admitted = entry is not None and entry.decision == "admitted"
    if removed and not admitted:
        # Removed people come back only through the waiting room, if they ask.
        waiting = entry is not None and entry.decision is None
        return (Entry.WAITING_ROOM if waiting else Entry.REMOVED), None
    if session.locked and not (admitted or last is not None):
        ask_to_enter(session, user)
        return Entry.WAITING_ROOM, None
    stop_waiting(session, entry)
    promoted = last is not None and last.promoted
    role = RoomRole.INSTRUCTOR if promoted else RoomRole.PARTICIPANT
    me = join_session(session, user, role, looked=True, commit=commit)
    if promoted and not me.promoted:
        me.promoted = True
        # Lists show a moderator's badge; the join itself went out a moment ago.
        events.append(
            session.room_id,
            Kind.PERSON_CHANGED,
            session.id,
            user_id=user.id,
            participation_id=me.id,
        )
        db.session.commit()
    return Entry.ENTERED, me


# --- Leaving and ending ---------------------------------------------------------------


# A stay that ends sends nothing any more (its page stops every track and connection).
MEDIA_OFF = {"mic_on": False, "camera_on": False, "screen_on": False}


def close_stay(stay: Participation, reason: str) -> bool:
    """End one stay, once (a conditional update): only the request that closed it
    writes the "left" event. ``reason``: "left", "timeout", "no_access"."""
    closed = db.session.execute(
        sa.update(Participation)
        .where(Participation.id == stay.id, Participation.left_at.is_(None))
        .values(left_at=utcnow(), hand_raised_at=None, **MEDIA_OFF)
    ).rowcount
    if closed:
        backend_for(stay.session).withdraw(stay.session, stay)
        events.append(
            stay.session.room_id,
            Kind.PARTICIPANT_LEFT,
            stay.session_id,
            user_id=stay.user_id,
            participation_id=stay.id,
            reason=reason,
        )
        captions.stop_if_captioner(stay.session, stay.user_id, reason)
    return bool(closed)


def leave_session(session: LiveSession, user: User) -> bool:
    """Leave, once: the stay is closed by a conditional update, so two Leave clicks
    (or a Leave racing the sweep) write one "left" event. Returns whether they were
    in the meeting."""
    present = presence_of(session, user)
    if present is None:
        return False
    close_stay(present, "left")
    # The answer is the Start/Join button, drawn from what the request already read.
    commit_keeping_loaded()
    return True


def say_goodbye(session: LiveSession, user: User) -> None:
    """The browser is leaving the page: they leave unless the page comes right back."""
    present = presence_of(session, user)
    if present is not None:
        present.goodbye_at = utcnow()
        db.session.commit()


def end_session(session: LiveSession, user: User | None, reason: str = "ended") -> None:
    """End the meeting for everyone; everyone's stay closes at the same moment."""
    if session.ended_at is not None:
        return
    now = utcnow()
    session.ended_at = now
    session.ended_by_id = user.id if user else None
    session.end_reason = reason
    session.captioner_id = None  # captioning stops with the meeting
    db.session.execute(
        sa.update(Participation)
        .where(Participation.session_id == session.id, Participation.left_at.is_(None))
        .values(left_at=now, **MEDIA_OFF)
    )
    backend_for(session).close(session)
    db.session.execute(
        sa.update(WaitingEntry)
        .where(WaitingEntry.session_id == session.id, WaitingEntry.decision.is_(None))
        .values(decision="ended", decided_at=now)
    )
    events.append(
        session.room_id,
        Kind.SESSION_ENDED,
        session.id,
        user_id=user.id if user else None,
        reason=reason,
    )
    if user is not None:  # an instructor, or an admin's switch; not the sweep
        audit.in_meeting(user.id, "meeting_ended", session.id, note=reason)
    db.session.commit()


# --- Keeping meetings tidy ------------------------------------------------------------


def end_sessions_without_instructor(now: datetime | None = None) -> int:
    """End every meeting whose room has had no instructor for 15 minutes. One query
    finds them, however many meetings are live; each one found is then ended."""
    now = now or utcnow()
    live = sa.select(LiveSession.id).where(LiveSession.ended_at.is_(None))
    instructors = (
        sa.select(
            Participation.session_id,
            sa.func.count().filter(Participation.left_at.is_(None)).label("present"),
            sa.func.max(Participation.left_at).label("last_left"),
        )
        .where(Participation.session_id.in_(live), Participation.room_role == RoomRole.INSTRUCTOR)
        .group_by(Participation.session_id)
        .subquery()
    )
    leaderless = db.session.scalars(
        sa.select(LiveSession)
        .outerjoin(instructors, instructors.c.session_id == LiveSession.id)
        .where(
            LiveSession.ended_at.is_(None),
            sa.func.coalesce(instructors.c.present, 0) == 0,
            sa.func.coalesce(instructors.c.last_left, LiveSession.started_at)
            <= now - NO_INSTRUCTOR_LIMIT,
        )
    ).all()
    for session in leaderless:
        end_session(session, None, reason="no_instructor")
    return len(leaderless)


def sweep_all(timeout_seconds: int) -> None:
    """Periodic upkeep, run by one process at a time (the hub's sweep lease): stale
    stays, leaderless meetings. A constant number of queries when nothing is due.

    It lives here rather than in ``presence`` because ending a leaderless meeting is
    ``end_session``, and presence sits below this module."""
    sweep_absent(timeout_seconds)
    end_sessions_without_instructor()

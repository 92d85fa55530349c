"""Room state transitions. Each is one transaction plus one event in the room's log."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.exc import IntegrityError

from liveroom import events, ratelimit
from liveroom.events import Kind
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
from liveroom.rooms import policy
from liveroom.rooms.policy import Rank, Rights
from liveroom.settings import get_settings
from liveroom.text import clean_line, name_key

ROOM_NAME_MAX = 100
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
        db.session.scalars(
            sa.select(Room).where(Room.owner_id == owner.id).order_by(Room.name, Room.id)
        )
    )


def _enter(session: LiveSession, user: User, role: RoomRole) -> Participation:
    """The person's stay in the session: theirs already, or a new one and its event.

    Decided once: when requests of one person race (six Join clicks), the unique index
    on present stays lets one insert through. The others' inserts fail (on PostgreSQL
    after waiting for the first to commit, on SQLite after waiting for its write
    lock); they roll back and take that stay, so there is one stay and one event.
    Rolling back drops the caller's other pending changes too: the winner made them.
    """
    present = presence_of(session, user)
    if present is not None:
        present.last_seen_at = utcnow()
        return present
    participation = Participation(session_id=session.id, user_id=user.id, room_role=role)
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
    """Start Meeting: open a live session (or join the one already live) as instructor.

    Two Starts at once make one session: the partial unique index on live sessions
    lets one insert through, and the other joins it.
    """
    for _ in range(3):
        session = live_session(room)
        if session is not None:
            break
        session = LiveSession(room_id=room.id, started_by_id=user.id)
        db.session.add(session)
        try:
            db.session.flush()
        except IntegrityError:
            # Another instructor started it a moment ago: join theirs.
            db.session.rollback()
            continue
        events.append(room.id, Kind.SESSION_STARTED, session.id, user_id=user.id)
        break
    else:
        raise RuntimeError("the room's meeting kept starting and ending")
    participation = _enter(session, user, RoomRole.INSTRUCTOR)
    db.session.commit()
    return session, participation


def join_session(session: LiveSession, user: User, role: RoomRole) -> Participation:
    """Join Meeting: enter a live session with the given room role (once, however
    many requests ask at the same moment; see ``_enter``)."""
    participation = _enter(session, user, role)
    try:
        db.session.commit()
    except IntegrityError:
        # A double click raced us; the other request already let them in.
        db.session.rollback()
        participation = presence_of(session, user)
        if participation is None:
            raise
    return participation


def leave_session(session: LiveSession, user: User) -> None:
    """Leave, once: the stay is closed by a conditional update, so two Leave clicks
    (or a Leave racing the sweep) write one "left" event."""
    present = presence_of(session, user)
    if present is None:
        return
    close_stay(present, "left")
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
        Kind.SESSION_ENDED,
        session.id,
        user_id=user.id if user else None,
        reason=reason,
    )
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
    # Still gone when the update runs: a stream that came back in between keeps its stay.
    gone_now = sa.or_(
        Participation.last_seen_at < cutoff,
        Participation.goodbye_at < now - GOODBYE_GRACE,
    )
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
                gone_now,
            )
        )
    )
    gone = 0
    for row in candidates:
        closed = db.session.execute(
            sa.update(Participation)
            .where(Participation.id == row.id, Participation.left_at.is_(None), gone_now)
            .values(left_at=row.goodbye_at or row.last_seen_at, hand_raised_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if closed:
            gone += 1
            events.append(
                session.room_id,
                Kind.PARTICIPANT_LEFT,
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


def enter_session(
    session: LiveSession, user: User, default_role: RoomRole, bypasses_lock: bool
) -> tuple[Entry, Participation | None]:
    """Join Meeting inside a live session, minding removals and the room's lock.

    Staff instructors always come back in as instructors: no removal, lock or earlier
    demotion keeps them out of their own meeting. Anyone else keeps a promotion
    ("Set as moderator") across leaving and coming back, and nothing more.
    """
    present = presence_of(session, user)
    if present is not None:
        return Entry.ENTERED, present
    entry = latest_waiting_entry(session, user.id)
    if policy.is_staff(user, session.room, get_settings()):
        db.session.execute(
            sa.delete(Removal).where(Removal.session_id == session.id, Removal.user_id == user.id)
        )
        _stop_waiting(session, entry)
        return Entry.ENTERED, join_session(session, user, RoomRole.INSTRUCTOR)
    admitted = entry is not None and entry.decision == "admitted"
    if removal_of(session, user.id) is not None and not admitted:
        # Removed people come back only through the waiting room, if they ask.
        waiting = entry is not None and entry.decision is None
        return (Entry.WAITING_ROOM if waiting else Entry.REMOVED), None
    last = latest_stay(session, user.id)
    if session.locked and not (bypasses_lock or admitted or last is not None):
        ask_to_enter(session, user)
        return Entry.WAITING_ROOM, None
    _stop_waiting(session, entry)
    promoted = last is not None and last.promoted
    me = join_session(session, user, RoomRole.INSTRUCTOR if promoted else default_role)
    if promoted and not me.promoted:
        me.promoted = True
        # Lists show a moderator's badge; the join itself went out a moment ago.
        events.append(
            session.room_id, Kind.PERSON_CHANGED, session.id, user_id=user.id, participation_id=me.id
        )
        db.session.commit()
    return Entry.ENTERED, me


def _stop_waiting(session: LiveSession, entry: WaitingEntry | None) -> None:
    """Someone got in another way (the room was unlocked, or they are staff): they
    wait no more. The caller commits."""
    if entry is not None and entry.decision is None:
        stopped = db.session.execute(
            sa.update(WaitingEntry)
            .where(WaitingEntry.id == entry.id, WaitingEntry.decision.is_(None))
            .values(decision="entered", decided_at=utcnow())
        ).rowcount
        if stopped:
            events.append(session.room_id, Kind.WAITING_CHANGED, session.id, user_id=entry.user_id)


ASK_AGAIN_WINDOW = timedelta(seconds=30)


class AskedTooSoon(Exception):
    """Asking to be let in again, after a "no" or a removal, within 30 seconds of the
    last time. Every way of asking (Ask again, Join, a reload) raises it, and the rooms
    blueprint answers it the same way: 429 and when to try."""

    def __init__(self, seconds: int) -> None:
        unit = "second" if seconds == 1 else "seconds"
        self.message = f"You asked a moment ago. You can ask again in {seconds} {unit}."
        super().__init__(self.message)
        self.retry_after = seconds


def ask_to_enter(session: LiveSession, user: User) -> WaitingEntry:
    """Put someone in the waiting room (once: asking twice keeps their place).

    After a "no" or a removal, asking again is limited to once per 30 seconds, so one
    person cannot keep the instructors' waiting room (and everyone's stream) busy.
    """
    entry = latest_waiting_entry(session, user.id)
    if entry is not None and entry.decision is None:
        return entry
    refused = (entry is not None and entry.decision == "denied") or (
        removal_of(session, user.id) is not None
    )
    if refused:
        wait = ratelimit.hit(f"ask-again:{session.id}:{user.id}", 1, ASK_AGAIN_WINDOW)
        if wait:
            db.session.rollback()
            raise AskedTooSoon(wait)
    entry = WaitingEntry(session_id=session.id, user_id=user.id)
    db.session.add(entry)
    try:
        db.session.flush()
    except IntegrityError:
        # The same person asked in another request a moment ago: theirs is the place.
        db.session.rollback()
        return latest_waiting_entry(session, user.id)
    events.append(session.room_id, Kind.WAITING_CHANGED, session.id, user_id=user.id)
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
    """Admit or deny people in the waiting room. Returns how many were decided.

    Each entry is decided once, by a conditional update: when an Admit and a Deny
    (or two instructors) answer at once, the first wins, the other changes nothing
    and sends no event.
    """
    now = utcnow()
    decision = "admitted" if admit else "denied"
    decided = 0
    for entry in entries:
        won = db.session.execute(
            sa.update(WaitingEntry)
            .where(WaitingEntry.id == entry.id, WaitingEntry.decision.is_(None))
            .values(decision=decision, decided_at=now, decided_by_id=actor.id)
        ).rowcount
        if not won:
            continue
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
            Kind.WAITING_CHANGED,
            session.id,
            user_id=entry.user_id,
            decision=decision,
        )
    db.session.commit()
    return decided


# --- Moderation ---------------------------------------------------------------------


def set_locked(session: LiveSession, locked: bool, actor: User) -> None:
    if session.locked == locked:
        return
    session.locked = locked
    events.append(session.room_id, Kind.ROOM_LOCKED, session.id, locked=locked, user_id=actor.id)
    db.session.commit()


def set_chat_enabled(session: LiveSession, enabled: bool, actor: User) -> None:
    if session.chat_enabled == enabled:
        return
    session.chat_enabled = enabled
    events.append(session.room_id, Kind.CHAT_TOGGLED, session.id, enabled=enabled, user_id=actor.id)
    db.session.commit()


def set_moderator(target: Participation, promoted: bool) -> bool:
    """Set as moderator, or make participant again: live, no rejoin needed.

    Decided once: of two requests at once only the one that changes the stay writes
    an event. Returns whether anything changed.
    """
    changed = _apply_rank(target, Rank.PROMOTED if promoted else Rank.PARTICIPANT)
    db.session.commit()
    return changed


def _apply_rank(stay: Participation, rank: Rank) -> bool:
    """Store ``rank`` on a present stay (its room role and promotion) and tell the room,
    unless it is stored already. The caller commits."""
    role, promoted = rank.room_role, rank is Rank.PROMOTED
    values: dict = {"room_role": role, "promoted": promoted}
    if rank.is_instructor:
        values["hand_raised_at"] = None  # instructors have no hand to raise
    changed = db.session.execute(
        sa.update(Participation)
        .where(
            Participation.id == stay.id,
            Participation.left_at.is_(None),
            sa.or_(Participation.room_role != role, Participation.promoted.is_not(promoted)),
        )
        .values(**values)
    ).rowcount
    if changed:
        events.append(
            stay.session.room_id,
            Kind.ROLE_CHANGED,
            stay.session_id,
            user_id=stay.user_id,
            participation_id=stay.id,
            role=role.value,
            rank=rank.name.lower(),
        )
    return bool(changed)


def rank_of(stay: Participation) -> Rank:
    """Someone's rank in the meeting now, from their current channel and site roles."""
    return policy.room_rank(stay.user, stay.session.room, stay, get_settings())


def rank_in(session: LiveSession, user: User) -> Rank:
    """The current rank of someone who may have left (a message's author, say)."""
    return policy.room_rank(user, session.room, latest_stay(session, user.id), get_settings())


def follow_roles(user: User) -> int:
    """The user's channel or application role changed: each of their stays in a live
    meeting takes its new rank at once (a Manager made Member loses the controls; a
    Member made Manager gets them), and someone who may no longer join leaves.

    Their page refreshes itself through the ``role_changed`` event and reconnects its
    stream under the new rank. Returns how many stays changed.
    """
    settings = get_settings()
    stays = db.session.scalars(
        sa.select(Participation)
        .join(LiveSession, Participation.session_id == LiveSession.id)
        .where(
            Participation.user_id == user.id,
            Participation.left_at.is_(None),
            LiveSession.ended_at.is_(None),
        )
    ).all()
    changed = 0
    for stay in stays:
        room = stay.session.room
        if not policy.may_join(user, room, settings):
            changed += close_stay(stay, "no_access")
        else:
            changed += _apply_rank(stay, policy.room_rank(user, room, stay, settings))
    db.session.commit()
    return changed


def close_stay(stay: Participation, reason: str) -> bool:
    """End one stay, once (a conditional update): only the request that closed it
    writes the "left" event. ``reason``: "left", "timeout", "no_access"."""
    closed = db.session.execute(
        sa.update(Participation)
        .where(Participation.id == stay.id, Participation.left_at.is_(None))
        .values(left_at=utcnow(), hand_raised_at=None)
    ).rowcount
    if closed:
        events.append(
            stay.session.room_id,
            Kind.PARTICIPANT_LEFT,
            stay.session_id,
            user_id=stay.user_id,
            participation_id=stay.id,
            reason=reason,
        )
    return bool(closed)


def rights_of(
    user: User, room: Room, session: LiveSession, me: Participation | None, catch_up: bool = True
) -> Rights:
    """What ``user`` may do in the meeting now, from their current roles.

    With ``catch_up`` (actions, never a page that only reads), a stay whose stored rank
    lags behind the roles (changed where nobody called ``follow_roles``) is brought in
    step here, so everyone's list shows it too. The rights are the current rank's either
    way.
    """
    rank = policy.room_rank(user, room, me, get_settings())
    stale = policy.is_present(me) and policy.shown_rank(me) is not rank
    if catch_up and stale and _apply_rank(me, rank):
        db.session.commit()
    known: dict[str, frozenset[int]] = {}
    if rank is Rank.PROMOTED:
        known["instructor_ids"] = instructor_ids(session)
    if rank.is_instructor:
        known["staff_waiting"] = staff_waiting(session)
    return policy.rights_for(rank, me, **known)


def instructor_ids(session: LiveSession) -> frozenset[int]:
    """Users whose latest stay in the meeting is an instructor's (staff or promoted)."""
    latest = (
        sa.select(sa.func.max(Participation.id))
        .where(Participation.session_id == session.id)
        .group_by(Participation.user_id)
    )
    return frozenset(
        db.session.scalars(
            sa.select(Participation.user_id).where(
                Participation.id.in_(latest), Participation.room_role == RoomRole.INSTRUCTOR
            )
        )
    )


def staff_waiting(session: LiveSession) -> frozenset[int]:
    """People in the waiting room who are the meeting's staff (entries from before
    staff walked straight in): they are admitted, never denied."""
    settings = get_settings()
    return frozenset(
        entry.user_id
        for entry in waiting_people(session)
        if policy.is_staff(entry.user, session.room, settings)
    )


def remove_person(target: Participation, actor: User) -> bool:
    """Remove someone from the session; they stay out unless admitted again.

    Decided once: of two removals at once only one closes the stay and sends the
    event. Returns whether this call removed them.
    """
    session = target.session
    removed = db.session.execute(
        sa.update(Participation)
        .where(Participation.id == target.id, Participation.left_at.is_(None))
        # Removal takes a moderator's role away: if let back in, they come back as a
        # participant (and attendance lists this stay as a participant's).
        .values(
            left_at=utcnow(), hand_raised_at=None, promoted=False, room_role=RoomRole.PARTICIPANT
        )
    ).rowcount
    if not removed:
        db.session.rollback()
        return False
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
        Kind.PARTICIPANT_REMOVED,
        session.id,
        user_id=target.user_id,
        participation_id=target.id,
    )
    db.session.commit()
    return True


HAND_LIMIT = 10
HAND_WINDOW = timedelta(seconds=10)


def toggle_hand(me: Participation, raised: bool) -> int:
    """Raise or lower one's own hand, at most 10 times in 10 seconds (each change is an
    event for everyone in the room). Returns 0 when done, else the seconds to wait."""
    wait = ratelimit.hit(f"hand:{me.session_id}:{me.user_id}", HAND_LIMIT, HAND_WINDOW)
    if wait:
        return wait
    set_hand(me, raised)
    db.session.commit()  # the counted toggle, even when the hand was already so
    return 0


def set_hand(target: Participation, raised: bool) -> None:
    if (target.hand_raised_at is not None) == raised:
        return
    target.hand_raised_at = utcnow() if raised else None
    events.append(
        target.session.room_id,
        Kind.HAND_CHANGED,
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
        events.append(session.room_id, Kind.HANDS_LOWERED, session.id)
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


def keep_present(participation_ids: list[int], commit: bool = True) -> None:
    """One write for every open stream of a process: these people are still here.

    A stay another transaction is writing right now (a Leave, the end of the meeting)
    is skipped this time on PostgreSQL rather than waited for: the refresh comes
    again in seconds, and a bulk update that waits on rows can deadlock with another.
    """
    if not participation_ids:
        return
    busy_skipped = (
        sa.select(Participation.id)
        .where(Participation.id.in_(participation_ids))
        .with_for_update(skip_locked=True)
    )
    db.session.execute(
        sa.update(Participation)
        .where(Participation.id.in_(busy_skipped), Participation.left_at.is_(None))
        .values(last_seen_at=utcnow(), goodbye_at=None)
        .execution_options(synchronize_session=False)
    )
    if commit:
        db.session.commit()


def say_goodbye_to(participation_ids: list[int]) -> None:
    """Streams closed: unless one comes back within seconds, their people have left.
    (One write for all the streams a process saw close since its last upkeep.)"""
    if not participation_ids:
        return
    db.session.execute(
        sa.update(Participation)
        .where(Participation.id.in_(participation_ids), Participation.left_at.is_(None))
        .values(goodbye_at=utcnow())
        .execution_options(synchronize_session=False)
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
    live = list(db.session.scalars(sa.select(LiveSession).where(LiveSession.ended_at.is_(None))))
    for session in live:
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
        events.append(session.room_id, Kind.WAITING_CHANGED, session.id, user_id=user.id)
        db.session.commit()

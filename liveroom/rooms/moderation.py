"""Ranks and moderation inside a meeting: who is an instructor now, promoting and
demoting, removing someone, locking the room, turning chat off, and raised hands.

Ranks come from each person's *current* channel and site roles (``policy.room_rank``)
on every action; what is stored on a stay follows them (``follow_roles``), so lists
and audiences read the effective role.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from liveroom import audit, events, ratelimit
from liveroom.events import Kind
from liveroom.extensions import db
from liveroom.media.backend import backend_for
from liveroom.media.rules import StageMode
from liveroom.models import LiveSession, Participation, Removal, Room, User, WaitingEntry, utcnow
from liveroom.roles import RoomRole
from liveroom.rooms import captions, policy
from liveroom.rooms.meetings import MEDIA_OFF, close_stay
from liveroom.rooms.policy import Rank, Rights
from liveroom.rooms.presence import latest_stay
from liveroom.rooms.waiting import removal_of, staff_waiting
from liveroom.settings import get_settings

HAND_LIMIT = 10
HAND_WINDOW = timedelta(seconds=10)


# --- Ranks --------------------------------------------------------------------------


def rank_of(stay: Participation) -> Rank:
    """Someone's rank in the meeting now, from their current channel and site roles."""
    return policy.room_rank(stay.user, stay.session.room, stay, get_settings())


def rank_in(session: LiveSession, user: User) -> Rank:
    """The current rank of someone who may have left (a message's author, say)."""
    return policy.room_rank(user, session.room, latest_stay(session, user.id), get_settings())


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


def _apply_rank(stay: Participation, rank: Rank) -> bool:
    """Store ``rank`` on a present stay (its room role and promotion) and tell the room,
    unless it is stored already. The caller commits."""
    role, promoted = rank.room_role, rank is Rank.PROMOTED
    values: dict = {"room_role": role, "promoted": promoted}
    if rank.is_instructor:
        values["hand_raised_at"] = None  # instructors have no hand to raise
    else:
        # A participant again: a screen share without leave stops, and outside the
        # "everyone" mode so does what they send without an invitation onto the stage.
        values["screen_on"] = sa.and_(Participation.screen_on, Participation.may_share)
        if stay.session.stage_mode != StageMode.EVERYONE.value:
            for column in ("mic_on", "camera_on", "screen_on"):
                values[column] = sa.and_(
                    values.get(column, getattr(Participation, column)), Participation.on_stage
                )
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


def rights_of(
    user: User,
    room: Room,
    session: LiveSession,
    me: Participation | None,
    catch_up: bool = True,
    rank: Rank | None = None,
) -> Rights:
    """What ``user`` may do in the meeting now, from their current roles.

    With ``catch_up`` (actions, never a page that only reads), a stay whose stored rank
    lags behind the roles (changed where nobody called ``follow_roles``) is brought in
    step here, so everyone's list shows it too. The rights are the current rank's either
    way. ``rank``: their rank, when this request has just worked it out from their roles
    (Join, before its commit: after it the roles would be read again).
    """
    if rank is None:
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


# --- Acting on people and on the room -------------------------------------------------


def set_moderator(target: Participation, promoted: bool, actor: User | None = None) -> bool:
    """Set as moderator, or make participant again: live, no rejoin needed.

    Decided once: of two requests at once only the one that changes the stay writes
    an event (and an audit entry). Returns whether anything changed.
    """
    changed = _apply_rank(target, Rank.PROMOTED if promoted else Rank.PARTICIPANT)
    if changed and actor is not None:
        action = "moderator_set" if promoted else "moderator_unset"
        audit.in_meeting(actor.id, action, target.session_id, target.user_id)
    db.session.commit()
    return changed


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
            left_at=utcnow(),
            hand_raised_at=None,
            promoted=False,
            room_role=RoomRole.PARTICIPANT,
            **MEDIA_OFF,
        )
    ).rowcount
    if not removed:
        db.session.rollback()
        return False
    # Their signals are refused from now on; the backend lets go of them too.
    backend_for(session).withdraw(session, target)
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
    captions.stop_if_captioner(session, target.user_id, "removed")
    audit.in_meeting(actor.id, "participant_removed", session.id, target.user_id)
    db.session.commit()
    return True


def set_locked(session: LiveSession, locked: bool, actor: User) -> None:
    """Lock or unlock the room: while locked, newcomers wait in the waiting room."""
    if session.locked == locked:
        return
    session.locked = locked
    events.append(session.room_id, Kind.ROOM_LOCKED, session.id, locked=locked, user_id=actor.id)
    audit.in_meeting(actor.id, "room_locked" if locked else "room_unlocked", session.id)
    db.session.commit()


def set_chat_enabled(session: LiveSession, enabled: bool, actor: User) -> None:
    """Turn participants' chat off or on (instructors can always write)."""
    if session.chat_enabled == enabled:
        return
    session.chat_enabled = enabled
    events.append(session.room_id, Kind.CHAT_TOGGLED, session.id, enabled=enabled, user_id=actor.id)
    audit.in_meeting(actor.id, "chat_turned_on" if enabled else "chat_turned_off", session.id)
    db.session.commit()


# --- Hands --------------------------------------------------------------------------


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
    """Raise or lower someone's hand (an instructor lowers others'); no event if it
    already is so."""
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
    """Every raised hand down, with one event. Returns how many were up."""
    lowered = db.session.execute(
        sa.update(Participation)
        .where(Participation.session_id == session.id, Participation.hand_raised_at.is_not(None))
        .values(hand_raised_at=None)
    ).rowcount
    if lowered:
        events.append(session.room_id, Kind.HANDS_LOWERED, session.id)
    db.session.commit()
    return lowered


def raised_hands(session: LiveSession, limit: int | None = None) -> list[Participation]:
    """Raised hands in the order they went up (the first ``limit``: a large room's list)."""
    return list(
        db.session.scalars(
            sa.select(Participation)
            .where(
                Participation.session_id == session.id,
                Participation.left_at.is_(None),
                Participation.hand_raised_at.is_not(None),
            )
            .order_by(Participation.hand_raised_at, Participation.id)
            .limit(limit)
            .options(so.joinedload(Participation.user))
        )
    )

"""The waiting room: people who asked to enter a locked meeting (or to come back after
a removal) wait here until an instructor admits or denies them.

Each entry is decided once, by a conditional update, so two instructors answering at
once (or an Admit racing a Deny) write one decision and one event.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import ngettext
from sqlalchemy.exc import IntegrityError

from liveroom import audit, events, ratelimit
from liveroom.events import Kind
from liveroom.extensions import db
from liveroom.models import LiveSession, Removal, User, WaitingEntry, utcnow
from liveroom.rooms import policy
from liveroom.settings import get_settings

ASK_AGAIN_WINDOW = timedelta(seconds=30)


class AskedTooSoon(Exception):
    """Asking to be let in again, after a "no" or a removal, within 30 seconds of the
    last time. Every way of asking (Ask again, Join, a reload) raises it, and the rooms
    blueprint answers it the same way: 429 and when to try."""

    def __init__(self, seconds: int) -> None:
        self.message = ngettext(
            "You asked a moment ago. You can ask again in %(num)d second.",
            "You asked a moment ago. You can ask again in %(num)d seconds.",
            seconds,
        )
        super().__init__(self.message)
        self.retry_after = seconds


def removal_of(session: LiveSession, user_id: int) -> Removal | None:
    """The person's removal from this meeting, if an instructor removed them."""
    return db.session.scalar(
        sa.select(Removal).where(Removal.session_id == session.id, Removal.user_id == user_id)
    )


def latest_waiting_entry(session: LiveSession, user_id: int) -> WaitingEntry | None:
    """The person's last request to enter, decided or not (its decision is their answer)."""
    return db.session.scalar(
        sa.select(WaitingEntry)
        .where(WaitingEntry.session_id == session.id, WaitingEntry.user_id == user_id)
        .order_by(WaitingEntry.id.desc())
        .limit(1)
    )


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


def staff_waiting(session: LiveSession) -> frozenset[int]:
    """People in the waiting room who are the meeting's staff (entries from before
    staff walked straight in): they are admitted, never denied."""
    settings = get_settings()
    return frozenset(
        entry.user_id
        for entry in waiting_people(session)
        if policy.is_staff(entry.user, session.room, settings)
    )


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


def stop_waiting(session: LiveSession, entry: WaitingEntry | None) -> None:
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


def withdraw(session: LiveSession, user: User) -> None:
    """Someone in the waiting room gave up waiting."""
    entry = latest_waiting_entry(session, user.id)
    if entry is not None and entry.decision is None:
        entry.decision = "withdrawn"
        entry.decided_at = utcnow()
        events.append(session.room_id, Kind.WAITING_CHANGED, session.id, user_id=user.id)
        db.session.commit()


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
        audit.in_meeting(actor.id, f"waiting_{decision}", session.id, entry.user_id)
    db.session.commit()
    return decided

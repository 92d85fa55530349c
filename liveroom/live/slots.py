"""Stream slots: at most a few open room streams per person per meeting, counted
across every worker in the ``room_stream`` table.

Opening a stream takes a slot. When a person has more than ``STREAMS_PER_PERSON``
open, the oldest are closed and a ``stream_displaced`` event names each; the hub of
whichever worker holds that stream tells its tab "This room is open in another tab"
and hangs up. The worker holding a stream refreshes its slot's ``seen_at`` with the
presence write every few seconds, so a crashed worker's slots go stale and stop
counting.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from liveroom import events
from liveroom.extensions import db
from liveroom.models import RoomStream, User, utcnow

STREAMS_PER_PERSON = 5
DISPLACED = "stream_displaced"


def open_slot(room_id: int, session_id: int, user_id: int, stale_after: timedelta) -> int:
    """Take a slot for a new stream and displace the oldest beyond the limit. Returns
    the slot's id; the caller commits.

    Two tabs opening at once must not both count five others and both stay: the
    person's row is locked first on PostgreSQL, and on SQLite the insert takes the
    database's write lock before anything is counted.
    """
    db.session.execute(sa.select(User.id).where(User.id == user_id).with_for_update())
    now = utcnow()
    slot = RoomStream(session_id=session_id, user_id=user_id, opened_at=now, seen_at=now)
    db.session.add(slot)
    db.session.flush()
    open_slots = db.session.scalars(
        sa.select(RoomStream)
        .where(
            RoomStream.session_id == session_id,
            RoomStream.user_id == user_id,
            RoomStream.closed_at.is_(None),
        )
        .order_by(RoomStream.opened_at.desc(), RoomStream.id.desc())
    )
    kept = 0
    for other in open_slots:
        if other.id != slot.id and other.seen_at < now - stale_after:
            other.closed_at = now  # its worker stopped answering: nobody to tell
        elif kept < STREAMS_PER_PERSON:
            kept += 1
        else:
            other.closed_at = now
            events.append(room_id, DISPLACED, session_id, stream_id=other.id, user_id=user_id)
    return slot.id


def keep_open(slot_ids: list[int]) -> None:
    """The streams of these slots are still open (one write for a whole worker)."""
    if not slot_ids:
        return
    db.session.execute(
        sa.update(RoomStream)
        .where(RoomStream.id.in_(_unlocked(RoomStream, slot_ids)), RoomStream.closed_at.is_(None))
        .values(seen_at=utcnow())
    )
    db.session.commit()


def close(slot_ids: list[int]) -> None:
    """These streams ended."""
    if not slot_ids:
        return
    db.session.execute(
        sa.update(RoomStream)
        .where(RoomStream.id.in_(slot_ids), RoomStream.closed_at.is_(None))
        .values(closed_at=utcnow())
    )
    db.session.commit()


def open_count(session_id: int, user_id: int, stale_after: timedelta) -> int:
    """How many streams a person has open in a session (what the limit counts)."""
    return db.session.scalar(
        sa.select(sa.func.count()).where(
            RoomStream.session_id == session_id,
            RoomStream.user_id == user_id,
            RoomStream.closed_at.is_(None),
            RoomStream.seen_at >= utcnow() - stale_after,
        )
    )


def _unlocked(model: type, ids: list[int]) -> sa.Select:
    """Those of ``ids`` no other transaction is writing: a periodic refresh skips a
    busy row this time rather than wait for it (or deadlock with a bulk update) on
    PostgreSQL. SQLite has one writer at a time and no row locks."""
    return sa.select(model.id).where(model.id.in_(ids)).with_for_update(skip_locked=True)

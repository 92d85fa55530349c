"""Stream slots: at most a few open room streams per person per meeting, counted
across every worker in the ``room_stream`` table.

Opening a stream takes a slot. When a person has more than ``STREAMS_PER_PERSON``
open, the oldest are closed and a ``stream_displaced`` event names each; the hub of
whichever worker holds that stream tells its tab "This room is open in another tab"
and hangs up. The worker holding a stream refreshes its slot's ``seen_at`` with the
presence write every few seconds, so a crashed worker's slots go stale and stop
counting.

Opening is limited too: more than ``OPENS_PER_MINUTE`` opens by one person in one
meeting within a minute are refused (429), counted from the same rows, so a loop of
opens cannot fill everyone's event log with "displaced" events. A real tab reconnects
every few seconds at most, far below the limit. Closed slots are deleted a day later
by the live hub's upkeep (``forget_old``).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import sqlalchemy as sa

from liveroom import events
from liveroom.events import Kind
from liveroom.extensions import db
from liveroom.models import RoomStream, User, utcnow

STREAMS_PER_PERSON = 5
# Stream opens per person per meeting within OPENS_WINDOW; the next one waits.
OPENS_PER_MINUTE = 30
OPENS_WINDOW = timedelta(seconds=60)
# Closed slots are kept this long (to look at), then deleted.
KEEP_CLOSED = timedelta(days=1)


class OpeningTooOften(Exception):
    """This person opened the room's stream too often just now; ``retry_after`` says
    in how many seconds one more open fits."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"opening too often, retry after {retry_after} s")
        self.retry_after = retry_after


def open_slot(room_id: int, session_id: int, user_id: int, stale_after: timedelta) -> int:
    """Take a slot for a new stream and displace the oldest beyond the limit. Returns
    the slot's id; the caller commits. Raises ``OpeningTooOften`` beyond
    ``OPENS_PER_MINUTE``; the caller then rolls back the slot this wrote.

    Two tabs opening at once must not both count five others and both stay: the
    person's row is locked first on PostgreSQL, and on SQLite the insert takes the
    database's write lock before anything is counted.
    """
    if db.session.get_bind().dialect.name != "sqlite":  # SQLite has no row locks
        db.session.execute(sa.select(User.id).where(User.id == user_id).with_for_update())
    now = utcnow()
    # Written first: on SQLite the insert takes the database's write lock, so what is
    # read next is not changing under us (PostgreSQL has the person's row locked).
    slot = RoomStream(session_id=session_id, user_id=user_id, opened_at=now, seen_at=now)
    db.session.add(slot)
    db.session.flush()
    # Then one read for both questions: the opens of the last minute (the limit) and
    # the slots still open (five are kept), newest first.
    mine = [
        row
        for row in db.session.execute(
            _RECENT_OR_OPEN,
            {"session_id": session_id, "user_id": user_id, "since": now - OPENS_WINDOW},
        )
        if row.id != slot.id
    ]
    if wait := _wait_before_opening([row.opened_at for row in mine], now):
        raise OpeningTooOften(wait)  # the caller rolls the new slot back
    kept = 1  # the new slot, newest of all
    closing = []
    for other in mine:
        if other.closed_at is not None:
            continue
        if other.seen_at < now - stale_after:
            closing.append(other.id)  # its worker stopped answering: nobody to tell
        elif kept < STREAMS_PER_PERSON:
            kept += 1
        else:
            closing.append(other.id)
            events.append(
                room_id, Kind.STREAM_DISPLACED, session_id, stream_id=other.id, user_id=user_id
            )
    if closing:
        db.session.execute(
            sa.update(RoomStream)
            .where(RoomStream.id.in_(closing))
            .values(closed_at=now)
            .execution_options(synchronize_session=False)
        )
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


# A person's slots in a meeting opened within a window, or still open: newest first.
_RECENT_OR_OPEN = (
    sa.select(RoomStream.id, RoomStream.opened_at, RoomStream.seen_at, RoomStream.closed_at)
    .where(
        RoomStream.session_id == sa.bindparam("session_id"),
        RoomStream.user_id == sa.bindparam("user_id"),
        sa.or_(RoomStream.opened_at > sa.bindparam("since"), RoomStream.closed_at.is_(None)),
    )
    .order_by(RoomStream.opened_at.desc(), RoomStream.id.desc())
)


def _wait_before_opening(opened: list[datetime], now: datetime) -> int:
    """Seconds until one more open fits in the person's last minute, given when their
    slots were opened (newest first); 0 when it fits now. The slots themselves are the
    count: no write of its own."""
    recent = [moment for moment in opened if moment > now - OPENS_WINDOW][:OPENS_PER_MINUTE]
    if len(recent) < OPENS_PER_MINUTE:
        return 0
    # The oldest of the last OPENS_PER_MINUTE opens must leave the window first.
    return max(1, math.ceil((recent[-1] + OPENS_WINDOW - now).total_seconds()))


def forget_old() -> int:
    """Delete slots closed more than a day ago, and those nobody refreshed for a day
    (their worker stopped; the slot counted for nothing since), run by the live hub's
    upkeep; the caller commits. Open slots stay however old they are: their streams
    are still listening. Returns how many rows went."""
    cutoff = utcnow() - KEEP_CLOSED
    return db.session.execute(
        sa.delete(RoomStream)
        .where(
            sa.or_(
                RoomStream.closed_at < cutoff,
                sa.and_(RoomStream.closed_at.is_(None), RoomStream.seen_at < cutoff),
            )
        )
        .execution_options(synchronize_session=False)
    ).rowcount


def _unlocked(model: type, ids: list[int]) -> sa.Select:
    """Those of ``ids`` no other transaction is writing: a periodic refresh skips a
    busy row this time rather than wait for it (or deadlock with a bulk update) on
    PostgreSQL. SQLite has one writer at a time and no row locks."""
    return sa.select(model.id).where(model.id.in_(ids)).with_for_update(skip_locked=True)

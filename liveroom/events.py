"""The room event log.

Services append one event per state change, in the same transaction as the change.
Browsers catch up by event id, so the log is both the record of what happened and
the cursor clients use to ask "anything new since N?". Nothing here knows about
HTTP or templates.
"""

from __future__ import annotations

import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import Event


def append(room_id: int, kind: str, session_id: int | None = None, **data: object) -> Event:
    """Add an event to the current transaction; the caller commits."""
    event = Event(room_id=room_id, session_id=session_id, kind=kind, data=data)
    db.session.add(event)
    return event


def latest_id(room_id: int) -> int:
    """The newest event id of a room, 0 when nothing happened yet."""
    return db.session.scalar(sa.select(sa.func.max(Event.id)).where(Event.room_id == room_id)) or 0


def since(room_id: int, after_id: int, limit: int = 500) -> list[Event]:
    """Events of a room newer than ``after_id``, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Event)
            .where(Event.room_id == room_id, Event.id > after_id)
            .order_by(Event.id)
            .limit(limit)
        )
    )

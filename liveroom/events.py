"""The room event log.

Services append one event per state change, in the same transaction as the change.
Browsers catch up by event id, so the log is both the record of what happened and
the cursor clients use to ask "anything new since N?". Nothing here knows about
HTTP or templates.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask, current_app, has_app_context

from liveroom import metrics
from liveroom.extensions import db
from liveroom.models import Event, utcnow


class Kind(enum.StrEnum):
    """Every kind of event the log holds, in one place. Stored as its string value."""

    SESSION_STARTED = "session_started"
    SESSION_ENDED = "session_ended"
    PARTICIPANT_JOINED = "participant_joined"
    PARTICIPANT_LEFT = "participant_left"
    PARTICIPANT_REMOVED = "participant_removed"
    ROLE_CHANGED = "role_changed"
    PERSON_CHANGED = "person_changed"
    HAND_CHANGED = "hand_changed"
    HANDS_LOWERED = "hands_lowered"
    CHAT_POSTED = "chat_posted"
    CHAT_DELETED = "chat_deleted"
    CHAT_TOGGLED = "chat_toggled"
    ROOM_LOCKED = "room_locked"
    WAITING_CHANGED = "waiting_changed"
    STREAM_DISPLACED = "stream_displaced"
    # The site's switches changed (live rooms or private rooms on or off): no room.
    SITE_CHANGED = "site_changed"
    # Someone's microphone, camera or screen, a strong mute, the stage mode or an
    # invitation onto the stage changed (liveroom/media/).
    MEDIA_CHANGED = "media_changed"
    # An offer, answer or ICE candidate for one person (liveroom/media/signals.py):
    # delivered once, never replayed, deleted after a few minutes.
    SIGNAL = "signal"
    # Live captions (liveroom/rooms/captions.py): the captioner was named or stopped
    # (the people lists follow: their menus offer "Make captioner" or "Stop captions"),
    # and a line of captions for everyone under the stage.
    CAPTIONS_CHANGED = "captions_changed"
    CAPTION_POSTED = "caption_posted"


# How many events the session's transaction stored (counted when it commits).
_PENDING = "liveroom_events_pending"
_LISTENERS = "liveroom_commit_listeners"


def on_commit(app: Flask, listener: Callable[[], None]) -> None:
    """Call ``listener`` after every commit of ``app`` that stored events."""
    app.extensions.setdefault(_LISTENERS, []).append(listener)


def append(room_id: int | None, kind: Kind, session_id: int | None = None, **data: object) -> Event:
    """Add an event to the current transaction; the caller commits."""
    event = Event(room_id=room_id, session_id=session_id, kind=Kind(kind).value, data=data)
    db.session.add(event)
    _stored(1)
    return event


def append_many(rows: list[dict]) -> None:
    """Add many events to the current transaction in one statement; each row holds
    ``room_id``, ``kind``, ``session_id`` and ``data``. The caller commits."""
    if not rows:
        return
    stamped = [{**row, "kind": Kind(row["kind"]).value, "created_at": utcnow()} for row in rows]
    db.session.execute(sa.insert(Event), stamped)
    _stored(len(rows))


def append_together(rows: list[dict]) -> list[int]:
    """Add a few events to the current transaction in one statement (rows as for
    ``append_many``) and return their ids in order: one request's events, such as a
    meeting's start and its instructor's arrival. The caller commits."""
    stamped = [{**row, "kind": Kind(row["kind"]).value, "created_at": utcnow()} for row in rows]
    # One multi-row INSERT; ids grow in row order, whatever order RETURNING gives them.
    ids = sorted(db.session.scalars(sa.insert(Event).values(stamped).returning(Event.id)))
    _stored(len(rows))
    return ids


def _stored(count: int) -> None:
    info = db.session.info
    info[_PENDING] = info.get(_PENDING, 0) + count


@sa.event.listens_for(so.Session, "after_commit")
def _announce_commit(session: so.Session) -> None:
    stored = session.info.pop(_PENDING, 0)
    if stored:
        metrics.events_stored(stored)
        if has_app_context():
            for listener in current_app.extensions.get(_LISTENERS, ()):
                listener()


@sa.event.listens_for(so.Session, "after_rollback")
def _forget_rollback(session: so.Session) -> None:
    session.info.pop(_PENDING, None)


def not_the_newest() -> sa.ColumnElement[bool]:
    """A condition for deleting old events: never the newest row of the log. SQLite
    (no AUTOINCREMENT) numbers a new row max(id) + 1, so deleting the newest would
    hand its id out again, and every watcher and page that had seen it would take the
    new event for one already delivered."""
    return Event.id < sa.select(sa.func.max(Event.id)).scalar_subquery()


def newest_id() -> int:
    """The newest event id of all rooms, 0 when the log is empty."""
    return db.session.scalar(sa.select(sa.func.max(Event.id))) or 0


def session_after(
    session_id: int, after_id: int, limit: int, leaving_out: frozenset[Kind] = frozenset()
) -> list[Event]:
    """One session's events newer than ``after_id`` (a reconnecting client's gap),
    but for those of the kinds ``leaving_out``."""
    statement = sa.select(Event).where(Event.session_id == session_id, Event.id > after_id)
    if leaving_out:
        statement = statement.where(Event.kind.not_in(sorted(leaving_out)))
    return list(db.session.scalars(statement.order_by(Event.id).limit(limit)))


def latest_id(room_id: int) -> int:
    """The newest event id of a room, 0 when nothing happened yet."""
    return db.session.scalar(sa.select(sa.func.max(Event.id)).where(Event.room_id == room_id)) or 0


def after_or_among(after_id: int, missing: list[int], limit: int = 1000) -> list[Event]:
    """Events newer than ``after_id``, and those of the ``missing`` older ids that have
    committed since (the hub's watcher reads with this), oldest first."""
    newer = Event.id > after_id
    return list(
        db.session.scalars(
            sa.select(Event)
            .where(sa.or_(newer, Event.id.in_(missing)) if missing else newer)
            .order_by(Event.id)
            .limit(limit)
        )
    )

"""Retention: what is kept of meetings that ended, and for how long.

- An ended meeting's **event log** goes ``LIVEROOM_EVENT_RETENTION_DAYS`` (7) after
  its end: replay only serves live meetings. Site-wide events (``site_changed``, no
  meeting) go the same time after they happened.
- Its **chat, captions and attendance** (stays, waiting-room entries, removals, stream
  slots, media passes and rooms) go ``LIVEROOM_RETENTION_DAYS`` (365) after its end. A message
  deleted for everyone stays as a tombstone: its text is emptied, who wrote it, who
  deleted it and when are kept for the audit. The meeting's own row (room, start, end,
  who started it) stays, so the meetings list says a meeting happened.

The live hub's sweep prunes a few bounded batches per run (``prune(batches=...)``):
each statement deletes at most ``BATCH`` rows and commits, so no worker holds the
database for long. ``flask --app liveroom prune`` runs until nothing is left.

The newest event row is never deleted (``events.not_the_newest``): on SQLite it keeps
ids growing. The hub's watcher reads only ids above the newest it delivered, and a
meeting's events are never pruned while it is live, so pruning neither hides an event
from it nor delivers one twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from liveroom import events
from liveroom.extensions import db
from liveroom.models import (
    Caption,
    ChatMessage,
    Event,
    LiveSession,
    MediaPass,
    MediaRoom,
    Participation,
    Removal,
    RoomStream,
    WaitingEntry,
    utcnow,
)

# Rows per statement: each is one short transaction.
BATCH = 1000
# Statements per run of the hub's sweep; the command runs until done.
BATCHES_PER_SWEEP = 4


@dataclass
class Pruned:
    """What one run removed, by kind."""

    events: int = 0
    chat_messages: int = 0
    deleted_texts: int = 0
    captions: int = 0
    attendance: int = 0
    waiting_entries: int = 0
    removals: int = 0
    other: int = 0

    def add(self, other: Pruned) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    @property
    def total(self) -> int:
        return sum(getattr(self, field.name) for field in fields(self))


def _ended_before(cutoff_days: int) -> sa.Select:
    cutoff = utcnow() - timedelta(days=cutoff_days)
    return sa.select(LiveSession.id).where(LiveSession.ended_at < cutoff)


def _delete_some(model: type, where: list[sa.ColumnElement[bool]], key: str = "id") -> int:
    """Delete up to BATCH rows of ``model`` matching ``where``; one statement."""
    column = getattr(model, key)
    chosen = sa.select(column).where(*where).limit(BATCH)
    return db.session.execute(
        sa.delete(model).where(column.in_(chosen)).execution_options(synchronize_session=False)
    ).rowcount


def _steps() -> list[tuple[str, Callable[[], int]]]:
    """Every kind of pruning, in an order that respects the foreign keys (a stay's
    media pass before the stay). Each step deletes at most one batch."""
    config = current_app.config
    log_done = _ended_before(config["LIVEROOM_EVENT_RETENTION_DAYS"])
    site_cutoff = utcnow() - timedelta(days=config["LIVEROOM_EVENT_RETENTION_DAYS"])
    done = _ended_before(config["LIVEROOM_RETENTION_DAYS"])
    return [
        (
            "events",
            lambda: _delete_some(Event, [Event.session_id.in_(log_done), events.not_the_newest()]),
        ),
        (
            "events",
            lambda: _delete_some(
                Event,
                [
                    Event.session_id.is_(None),
                    Event.created_at < site_cutoff,
                    events.not_the_newest(),
                ],
            ),
        ),
        (
            "chat_messages",
            lambda: _delete_some(
                ChatMessage, [ChatMessage.session_id.in_(done), ChatMessage.deleted_at.is_(None)]
            ),
        ),
        ("deleted_texts", _empty_deleted_texts(done)),
        # Live captions are kept with the chat, for the same period.
        ("captions", lambda: _delete_some(Caption, [Caption.session_id.in_(done)])),
        (
            "other",
            lambda: _delete_some(MediaPass, [MediaPass.session_id.in_(done)], "participation_id"),
        ),
        ("other", lambda: _delete_some(MediaRoom, [MediaRoom.session_id.in_(done)], "session_id")),
        ("other", lambda: _delete_some(RoomStream, [RoomStream.session_id.in_(done)])),
        ("attendance", lambda: _delete_some(Participation, [Participation.session_id.in_(done)])),
        (
            "waiting_entries",
            lambda: _delete_some(WaitingEntry, [WaitingEntry.session_id.in_(done)]),
        ),
        ("removals", lambda: _delete_some(Removal, [Removal.session_id.in_(done)])),
    ]


def _empty_deleted_texts(done: sa.Select) -> Callable[[], int]:
    def step() -> int:
        chosen = (
            sa.select(ChatMessage.id)
            .where(
                ChatMessage.session_id.in_(done),
                ChatMessage.deleted_at.is_not(None),
                ChatMessage.body != "",
            )
            .limit(BATCH)
        )
        return db.session.execute(
            sa.update(ChatMessage)
            .where(ChatMessage.id.in_(chosen))
            .values(body="")
            .execution_options(synchronize_session=False)
        ).rowcount

    return step


def prune(batches: int | None = BATCHES_PER_SWEEP) -> Pruned:
    """Remove what the retention periods say is due, at most ``batches`` statements
    that found something (None: until nothing is left). Each statement commits."""
    pruned = Pruned()
    spent = 0
    while batches is None or spent < batches:
        found = False
        for name, step in _steps():
            if batches is not None and spent >= batches:
                break
            count = step()
            db.session.commit()
            if count:
                found = True
                spent += 1
                setattr(pruned, name, getattr(pruned, name) + count)
        if not found:
            break
    return pruned

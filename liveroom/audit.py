"""The admin's record of who did what (``AuditEntry``): site settings and roles
(``settings.change_settings``, the command line), and what instructors do to people
and rooms during a meeting: remove, set as moderator or back, admit or deny, lock,
chat off, delete someone's message, mute, turn a camera off, stop a share, the stage,
end the meeting.

An entry is added to the transaction of the change it records, so it is stored
exactly when the change is (a decision that lost a race writes none). Meeting actions
are named ``room.<what>`` and name the meeting and the people by id (no query to
look names up); the admin's settings page lists the others.
"""

from __future__ import annotations

from liveroom.extensions import db
from liveroom.models import AuditEntry

ROOM_PREFIX = "room."


def record(actor_id: int | None, action: str, detail: str) -> None:
    """Add an entry to the current transaction (the caller commits)."""
    db.session.add(AuditEntry(actor_id=actor_id, action=action, detail=detail))


def in_meeting(
    actor_id: int | None, action: str, session_id: int, user_id: int | None = None, note: str = ""
) -> None:
    """A moderation action in a meeting, on ``user_id`` when it concerns one person."""
    detail = f"meeting {session_id}"
    if user_id is not None:
        detail += f", user {user_id}"
    if note:
        detail += f": {note}"
    record(actor_id, ROOM_PREFIX + action, detail)

"""Private rooms: a person's own live rooms (My Rooms), named by their owner."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from liveroom import audit
from liveroom.extensions import db
from liveroom.models import Event, LiveSession, Room, User, utcnow
from liveroom.text import clean_line, name_key

ROOM_NAME_MAX = 100


class RoomNameError(ValueError):
    """A private room name that cannot be used; the message is shown to the user."""


def clean_room_name(raw: str) -> str:
    """The name as it will be stored (one clean line), or RoomNameError saying why not."""
    name = clean_line(raw)
    if not name:
        raise RoomNameError(_("Enter a name for the room."))
    if len(name) > ROOM_NAME_MAX:
        raise RoomNameError(
            _("Room names can be at most %(limit)s characters.", limit=ROOM_NAME_MAX)
        )
    return name


def create_private_room(owner: User, raw_name: str) -> Room:
    """A new private room owned by ``owner``; RoomNameError when the name is unusable
    (names are unique per owner by ``text.name_key``, so the index decides a race)."""
    name = clean_room_name(raw_name)
    room = Room(name=name, name_key=name_key(name), owner_id=owner.id)
    db.session.add(room)
    _commit_name(name)
    return room


def _commit_name(name: str) -> None:
    """Commit a room's new name: the owner's unique index decides a race."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise RoomNameError(_("You already have a room called “%(name)s”.", name=name)) from None


def private_rooms_of(owner: User) -> list[Room]:
    """The owner's rooms, by name, as My Rooms lists them."""
    return list(
        db.session.scalars(
            sa.select(Room)
            .where(Room.owner_id == owner.id, Room.archived_at.is_(None))
            .order_by(Room.name, Room.id)
        )
    )


def rename_private_room(room: Room, raw_name: str, actor: User) -> bool:
    """Rename one of the owner's rooms, by the rules of a new room's name (unique per
    owner, by ``text.name_key``). Nothing else keeps a copy of a room's name: pages,
    attendance and the audit log read it from the room. Returns whether it changed."""
    name = clean_room_name(raw_name)
    if name == room.name:
        return False
    before = room.name
    room.name = name
    room.name_key = name_key(name)
    audit.record(actor.id, "private_room_renamed", f"{before} → {name}")
    _commit_name(name)
    return True


def delete_private_room(room: Room, actor: User) -> str:
    """Delete one of the owner's rooms, or archive it if a meeting was ever held in it
    (its attendance stays, for its owner's record and the school's admins; a meeting
    live in it ends first). Returns "deleted" or "archived".

    An archived room frees its name (its key becomes its own), so the owner can make
    a new room of the same name."""
    from liveroom.rooms.meetings import end_session

    held = db.session.scalar(
        sa.select(LiveSession.id).where(LiveSession.room_id == room.id).limit(1)
    )
    if held is None:
        db.session.execute(sa.delete(Event).where(Event.room_id == room.id))
        db.session.delete(room)
        audit.record(actor.id, "private_room_deleted", room.name)
        db.session.commit()
        return "deleted"
    live = db.session.scalar(
        sa.select(LiveSession).where(LiveSession.room_id == room.id, LiveSession.ended_at.is_(None))
    )
    if live is not None:
        end_session(live, actor)
    room.archived_at = utcnow()
    room.name_key = f"archived:{room.public_id}"
    audit.record(actor.id, "private_room_archived", room.name)
    db.session.commit()
    return "archived"

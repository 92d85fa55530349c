"""Private rooms: a person's own live rooms (My Rooms), named by their owner."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from liveroom.extensions import db
from liveroom.models import Room, User
from liveroom.text import clean_line, name_key

ROOM_NAME_MAX = 100


class RoomNameError(ValueError):
    """A private room name that cannot be used; the message is shown to the user."""


def clean_room_name(raw: str) -> str:
    """The name as it will be stored (one clean line), or RoomNameError saying why not."""
    name = clean_line(raw)
    if not name:
        raise RoomNameError("Enter a name for the room.")
    if len(name) > ROOM_NAME_MAX:
        raise RoomNameError(f"Room names can be at most {ROOM_NAME_MAX} characters.")
    return name


def create_private_room(owner: User, raw_name: str) -> Room:
    """A new private room owned by ``owner``; RoomNameError when the name is unusable
    (names are unique per owner by ``text.name_key``, so the index decides a race)."""
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
    """The owner's rooms, by name, as My Rooms lists them."""
    return list(
        db.session.scalars(
            sa.select(Room).where(Room.owner_id == owner.id).order_by(Room.name, Room.id)
        )
    )

"""My Rooms: a person's private live rooms, + New Room, and launching one in the page."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import sqlalchemy as sa
from flask import Response, abort, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from liveroom.auth.sessions import signed_in_user
from liveroom.extensions import db
from liveroom.models import LiveSession, Room, User
from liveroom.rooms import bp, policy
from liveroom.rooms.forms import DeleteRoomForm, NewRoomForm, RenameRoomForm
from liveroom.rooms.pages import require_my_rooms
from liveroom.rooms.private import (
    RoomNameError,
    create_private_room,
    delete_private_room,
    rename_private_room,
)
from liveroom.settings import get_settings
from liveroom.templating import page_or_fragment, wants_fragment
from liveroom.text import clean_line


class RoomRow(NamedTuple):
    """One of my rooms as the list shows it: its name, its address, whether it is live.
    A named tuple: built, hashed and compared (as the key of its drawing) in C."""

    id: int
    public_id: str
    name: str
    live: bool


# Built once; the owner is a parameter. Plain rows with the live state in the same
# statement: a teacher with fifty rooms would otherwise load fifty room objects and
# ask again which of them are live.
_MY_ROOMS = (
    sa.select(
        Room.id,
        Room.public_id,
        Room.name,
        sa.exists()
        .where(LiveSession.room_id == Room.id, LiveSession.ended_at.is_(None))
        .label("live"),
    )
    .where(Room.owner_id == sa.bindparam("owner_id"), Room.archived_at.is_(None))
    .order_by(Room.name, Room.id)  # as private.private_rooms_of lists them
)


def my_room_rows(owner: User) -> tuple[RoomRow, ...]:
    """The owner's private rooms, by name, each with whether a meeting is live in it."""
    # Plain rows, on the session's connection: the ORM's handling of a result would
    # cost as much again as the statement.
    rows = db.session.connection().execute(_MY_ROOMS, {"owner_id": owner.id}).all()
    return rooms_of(tuple(map(tuple, rows)))


@lru_cache(maxsize=1024)
def rooms_of(rows: tuple[tuple[int, str, str, bool], ...]) -> tuple[RoomRow, ...]:
    """The rows read, as the list's items: kept for the exact rows, so a list that did
    not change is not built again, and the same tuple each time makes its drawing's
    key compare at once. A renamed room or a meeting going live is other rows."""
    return tuple(RoomRow(*row) for row in rows)


def room_list_context(form: NewRoomForm | None = None, **extra: object) -> dict:
    return {
        "rooms": my_room_rows(current_user._get_current_object()),
        "form": form,
        "new_tab": get_settings().open_in_new_tab,
        **extra,
    }


@bp.get("/my-rooms")
def my_rooms() -> str:
    require_my_rooms()
    return page_or_fragment("rooms/my_rooms.html", "rooms/_room_list.html", **room_list_context())


@bp.get("/my-rooms/new")
def new_room() -> str:
    require_my_rooms()
    return page_or_fragment(
        "rooms/my_rooms.html", "rooms/_room_list.html", **room_list_context(NewRoomForm())
    )


@bp.post("/my-rooms")
def create_room() -> Response | tuple[str, int]:
    require_my_rooms()
    form = NewRoomForm()
    if form.validate_on_submit():
        try:
            room = create_private_room(current_user, form.name.data or "")
        except RoomNameError as error:
            form.name.errors = [str(error)]
        else:
            if wants_fragment():
                return render_template(
                    "rooms/_room_list.html", **room_list_context(created=room)
                ), 201
            return redirect(url_for("rooms.my_rooms"), 303)
    # Shown again in the field: what would have been stored, never raw control characters.
    form.name.data = clean_line(form.name.data or "")
    return page_or_fragment(
        "rooms/my_rooms.html", "rooms/_room_list.html", **room_list_context(form)
    ), 422


def my_room(public_id: str) -> Room:
    """One of my rooms, for renaming or deleting it (404 if it is not, or is archived)."""
    require_my_rooms()
    room = db.session.scalar(sa.select(Room).where(Room.public_id == public_id))
    if room is None or not policy.may_manage_private_room(signed_in_user(), room, get_settings()):
        abort(404)
    return room


@bp.post("/my-rooms/<room:public_id>/rename")
def rename_room(public_id: str) -> Response | tuple[str, int] | str:
    room = my_room(public_id)
    form = RenameRoomForm()
    if form.validate_on_submit():
        try:
            changed = rename_private_room(room, form.name.data or "", current_user)
        except RoomNameError as error:
            message, status = str(error), 422
        else:
            message = (
                _("Renamed to “%(name)s”.", name=room.name)
                if changed
                else _("The name did not change.")
            )
            status = 200
    else:
        message, status = _("The form expired: reload the page and try again."), 400
    if wants_fragment():
        return render_template(
            "rooms/_room_list.html", **room_list_context(notice=message, notice_error=status != 200)
        ), status
    if status == 200:
        return redirect(url_for("rooms.my_rooms"), 303)
    return render_template(
        "rooms/my_rooms.html", **room_list_context(notice=message, notice_error=True)
    ), status


@bp.post("/my-rooms/<room:public_id>/delete")
def delete_room(public_id: str) -> Response | str:
    room = my_room(public_id)
    if not DeleteRoomForm().validate_on_submit():
        abort(400, _("The form expired: reload the page and try again."))
    name = room.name
    outcome = delete_private_room(room, current_user)
    if outcome == "archived":
        message = f"“{name}” is archived: it had meetings, so its attendance is kept. Its link now says it is archived."
    else:
        message = f"“{name}” is deleted."
    if wants_fragment():
        return render_template("rooms/_room_list.html", **room_list_context(notice=message))
    return redirect(url_for("rooms.my_rooms"), 303)

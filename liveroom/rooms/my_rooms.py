"""My Rooms: a person's private live rooms, + New Room, and launching one in the page."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, abort, redirect, render_template, url_for
from flask_login import current_user

from liveroom.extensions import db
from liveroom.models import LiveSession
from liveroom.rooms import policy, service
from liveroom.rooms.forms import NewRoomForm
from liveroom.rooms.routes import bp
from liveroom.settings import get_settings
from liveroom.templating import page_or_fragment, wants_fragment
from liveroom.text import clean_line


def require_my_rooms() -> None:
    settings = get_settings()
    if not (settings.live_room_enabled and settings.private_rooms_enabled):
        abort(404)
    if not policy.may_see_my_rooms(current_user, settings):
        abort(403, "Your role does not include private rooms. Ask your administrator.")


def room_list_context(form: NewRoomForm | None = None, **extra: object) -> dict:
    rooms = service.private_rooms_of(current_user)
    live_ids = set(
        db.session.scalars(
            sa.select(LiveSession.room_id).where(
                LiveSession.room_id.in_([r.id for r in rooms]), LiveSession.ended_at.is_(None)
            )
        )
    )
    return {
        "rooms": rooms,
        "live_ids": live_ids,
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
            room = service.create_private_room(current_user, form.name.data or "")
        except service.RoomNameError as error:
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

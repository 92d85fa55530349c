"""Rooms: Start Meeting, Join Meeting, the room panel, and My Rooms."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from liveroom import events
from liveroom.extensions import db
from liveroom.models import LiveSession, Participation, Room
from liveroom.rooms import policy, service
from liveroom.rooms.forms import NewRoomForm
from liveroom.settings import get_settings
from liveroom.templating import page_or_fragment, wants_fragment

bp = Blueprint("rooms", __name__)


def no_content() -> Response:
    """HTMX leaves the page as it is on 204."""
    return Response(status=204)


@bp.before_request
@login_required
def require_login() -> None:
    """Every room URL is for signed-in people only."""


def load_room(public_id: str) -> Room:
    room = db.session.scalar(sa.select(Room).where(Room.public_id == public_id))
    if room is None or not policy.room_reachable(room, get_settings()):
        abort(404)
    return room


def require_join(room: Room) -> None:
    if not policy.may_join(current_user, room, get_settings()):
        abort(403, "Only members of this channel can join its meetings.")


def button_context(room: Room) -> dict:
    settings = get_settings()
    return {
        "room": room,
        "live": service.live_session(room) is not None,
        "can_start": policy.may_start(current_user, room, settings),
        "can_join": policy.may_join(current_user, room, settings),
        "new_tab": settings.open_in_new_tab,
        "enabled": policy.room_reachable(room, settings),
    }


def panel_context(
    room: Room, session: LiveSession, me: Participation, announcement: str = ""
) -> dict:
    return {
        "announcement": announcement,
        "room": room,
        "session": session,
        "me": me,
        "people": service.people_present(session),
        "can_end": policy.may_end(current_user, room, me, get_settings()),
        "since": events.latest_id(room.id),
        "share_url": url_for("rooms.room_page", public_id=room.public_id, _external=True)
        if room.is_private
        else None,
        "poll_seconds": current_app.config["LIVEROOM_POLL_SECONDS"],
    }


def room_page_response(state: str, **context: object) -> str:
    """The whole room page with the meeting section in the given state."""
    return render_template("rooms/room.html", state=state, **context)


def render_panel(
    room: Room, session: LiveSession, me: Participation, announcement: str = ""
) -> str:
    context = panel_context(room, session, me, announcement)
    if wants_fragment():
        return render_template("rooms/_panel.html", **context)
    return room_page_response("panel", **context)


def render_ended(room: Room) -> str:
    context = button_context(room)
    if wants_fragment():
        return render_template("rooms/_ended.html", **context)
    return room_page_response("ended", **context)


def entered(room: Room, session: LiveSession, me: Participation) -> Response | str:
    """After Start or Join: the panel in place for HTMX, the room page otherwise."""
    if wants_fragment():
        return render_panel(room, session, me)
    return redirect(url_for("rooms.room_page", public_id=room.public_id), 303)


@bp.get("/rooms/<public_id>")
def room_page(public_id: str) -> str:
    room = load_room(public_id)
    require_join(room)
    session = service.live_session(room)
    me = service.presence_of(session, current_user) if session else None
    if session and me:
        return room_page_response("panel", **panel_context(room, session, me))
    context = button_context(room)
    # Opening a room's link joins it (once the page has loaded: joining is a POST),
    # except for someone who may start it: they choose when to start.
    autojoin = session is not None or not context["can_start"]
    return room_page_response("button", autojoin=autojoin, **context)


@bp.post("/rooms/<public_id>/start")
def start_meeting(public_id: str) -> Response | str:
    room = load_room(public_id)
    if not policy.may_start(current_user, room, get_settings()):
        if room.is_private:
            abort(403, "Only the room's owner can start this room.")
        abort(403, "Only the channel's Managers and Moderators can start its meeting.")
    session, me = service.start_session(room, current_user)
    return entered(room, session, me)


@bp.post("/rooms/<public_id>/join")
def join_meeting(public_id: str) -> Response | str:
    room = load_room(public_id)
    require_join(room)
    settings = get_settings()
    session = service.live_session(room)
    if session is None:
        if request.args.get("waiting"):
            return no_content()  # still waiting: the page keeps its waiting state
        return page_or_fragment(
            "rooms/room.html", "rooms/_waiting.html", room=room, state="waiting"
        )
    me = service.join_session(
        session, current_user, policy.room_role_for(current_user, room, settings)
    )
    return entered(room, session, me)


@bp.post("/rooms/<public_id>/presence")
def presence(public_id: str) -> Response | str:
    """The open panel's heartbeat: answers 204 unless the room changed since ``since``."""
    room = load_room(public_id)
    require_join(room)
    session = db.session.get(LiveSession, request.args.get("session", type=int) or 0)
    if session is None or session.room_id != room.id:
        abort(400, "That meeting does not belong to this room.")
    if session.ended_at is not None:
        return render_ended(room)
    me = service.presence_of(session, current_user)
    if me is None:
        # Their stay timed out (a sleeping laptop) but the page is open: they are back.
        role = policy.room_role_for(current_user, room, get_settings())
        me = service.join_session(session, current_user, role)
    else:
        service.heartbeat(me)
    service.sweep_absent(session, current_app.config["LIVEROOM_PRESENCE_TIMEOUT"])
    since = request.args.get("since", 0, type=int)
    if events.latest_id(room.id) <= since:
        return no_content()
    return render_panel(room, session, me, service.describe_changes(room, since))


@bp.post("/rooms/<public_id>/leave")
def leave_meeting(public_id: str) -> Response | str:
    room = load_room(public_id)
    require_join(room)
    session = service.live_session(room)
    if request.args.get("beacon"):
        # The tab is going away, or reloading: a reload comes back within seconds.
        if session is not None:
            service.say_goodbye(session, current_user)
        return no_content()
    if session is not None:
        service.leave_session(session, current_user)
    if wants_fragment():
        return render_template("rooms/_meeting_button.html", **button_context(room))
    return redirect(back_to(room), 303)


@bp.post("/rooms/<public_id>/end")
def end_meeting(public_id: str) -> Response | str:
    room = load_room(public_id)
    require_join(room)
    session = service.live_session(room)
    if session is not None:
        me = service.presence_of(session, current_user)
        if not policy.may_end(current_user, room, me, get_settings()):
            abort(403, "Only the room's instructors can end the meeting.")
        service.end_session(session, current_user)
    return render_ended(room)


@bp.get("/rooms/<public_id>/button")
def meeting_button(public_id: str) -> Response | str:
    """Start/Join button refresh: 204 while the room's state matches what the page shows."""
    room = load_room(public_id)
    require_join(room)
    context = button_context(room)
    shown = request.args.get("live")
    if shown is not None and (shown == "1") == context["live"]:
        return no_content()
    if not wants_fragment():
        return redirect(url_for("rooms.room_page", public_id=room.public_id))
    return render_template("rooms/_meeting_button.html", **context)


def back_to(room: Room) -> str:
    if room.channel_id is not None:
        return url_for("channels.show", channel_id=room.channel_id)
    if room.owner_id == current_user.id:
        return url_for("rooms.my_rooms")
    return url_for("rooms.room_page", public_id=room.public_id)


# --- My Rooms -------------------------------------------------------------------


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
    return page_or_fragment(
        "rooms/my_rooms.html", "rooms/_room_list.html", **room_list_context(form)
    ), 422

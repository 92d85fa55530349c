"""Rooms: the room page, Start Meeting, Join Meeting, Leave and End.

The in-room actions (chat, hands, moderation), My Rooms and attendance live in the
sibling modules imported at the bottom; they all belong to this one blueprint.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from liveroom import events
from liveroom.extensions import db
from liveroom.models import LiveSession, Participation, Room
from liveroom.params import int_arg
from liveroom.rooms import chat, policy, service
from liveroom.rooms.service import Entry
from liveroom.settings import get_settings
from liveroom.templating import wants_fragment

bp = Blueprint("rooms", __name__)


@bp.before_request
@login_required
def require_login() -> None:
    """Every room URL is for signed-in people only."""


def no_content() -> Response:
    """HTMX leaves the page as it is on 204."""
    return Response(status=204)


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
        "can_view_attendance": policy.may_view_attendance(current_user, room, settings),
        "new_tab": settings.open_in_new_tab,
        "enabled": policy.room_reachable(room, settings),
    }


def panel_context(room: Room, session: LiveSession, me: Participation) -> dict:
    # The cursor is read before the state, so the stream replays anything newer.
    since = events.latest_id(room.id)
    instructor = policy.is_instructor(me)
    return {
        "room": room,
        "session": session,
        "me": me,
        "instructor": instructor,
        "since": since,
        "people": service.people_present(session),
        "hands": service.raised_hands(session),
        "waiting": service.waiting_people(session) if instructor else [],
        "messages": chat.recent_messages(session, me.user_id, instructor),
        "can_chat": policy.may_chat(me, session),
        "can_end": policy.may_end(current_user, room, me, get_settings()),
        "can_view_attendance": policy.may_view_attendance(current_user, room, get_settings()),
        "share_url": url_for("rooms.room_page", public_id=room.public_id, _external=True)
        if room.is_private
        else None,
    }


def render_state(room: Room, state: str, **context: object) -> str:
    """One meeting state: the fragment for HTMX, inside the whole room page otherwise."""
    if wants_fragment():
        return render_template(f"rooms/_{state}.html", room=room, **context)
    return render_template("rooms/room.html", room=room, state=state, **context)


def render_panel(room: Room, session: LiveSession, me: Participation) -> str:
    context = panel_context(room, session, me)
    context.pop("room")
    return render_state(room, "panel", **context)


def render_ended(room: Room, session: LiveSession) -> str:
    context = button_context(room)
    context.pop("room")
    return render_state(room, "ended", ended_session=session, **context)


def entered(room: Room, session: LiveSession, me: Participation) -> Response | str:
    """After Start or Join: the panel in place for HTMX, the room page otherwise."""
    if wants_fragment():
        return render_panel(room, session, me)
    return redirect(url_for("rooms.room_page", public_id=room.public_id), 303)


def state_for(room: Room, session: LiveSession, outcome: Entry, me: Participation | None):
    """The answer to someone asking to enter a live session."""
    if outcome is Entry.ENTERED:
        return entered(room, session, me)
    if outcome is Entry.WAITING_ROOM:
        return render_state(room, "lobby", session=session, since=events.latest_id(room.id))
    return render_state(room, "removed", session=session)


@bp.get("/rooms/<public_id>")
def room_page(public_id: str) -> str:
    room = load_room(public_id)
    require_join(room)
    session = service.live_session(room)
    me = service.presence_of(session, current_user) if session else None
    if session and me:
        return render_template("rooms/room.html", state="panel", **panel_context(room, session, me))
    context = button_context(room)
    # Opening a room's link joins it (once the page has loaded: joining is a POST),
    # except for someone who may start it: they choose when to start.
    autojoin = session is not None or not context["can_start"]
    return render_template("rooms/room.html", state="meeting_button", autojoin=autojoin, **context)


@bp.post("/rooms/<public_id>/start")
def start_meeting(public_id: str) -> Response | str:
    room = load_room(public_id)
    if not policy.may_start(current_user, room, get_settings()):
        if room.is_private:
            abort(403, "Only the room's owner can start this room.")
        abort(403, "Only the channel's Managers and Moderators can start its meeting.")
    session = service.live_session(room)
    if session is not None:
        # Already live (a second instructor, or a double click): enter like Join does,
        # so a removal or a demotion in this meeting still holds.
        outcome, me = service.enter_session(
            session, current_user, policy.room_role_for(current_user, room, get_settings()), True
        )
        return state_for(room, session, outcome, me)
    session, me = service.start_session(room, current_user)
    return entered(room, session, me)


@bp.post("/rooms/<public_id>/join")
def join_meeting(public_id: str) -> Response | str:
    """Join Meeting; also how an open page re-reads its state after a "refresh" event."""
    room = load_room(public_id)
    require_join(room)
    shown = db.session.get(LiveSession, int_arg("session"))
    if shown is not None and shown.room_id == room.id and shown.ended_at is not None:
        return render_ended(room, shown)
    session = service.live_session(room)
    if session is None:
        if request.args.get("waiting"):
            return no_content()  # still waiting: the page keeps its waiting state
        return render_state(room, "waiting")
    if request.args.get("auto") and service.presence_of(session, current_user) is None:
        entry = service.latest_waiting_entry(session, current_user.id)
        if entry is not None and entry.decision == "denied":
            # A page refreshing itself after a "no" shows it; asking again is a click.
            return render_state(room, "denied", session=session)
    outcome, me = service.enter_session(
        session,
        current_user,
        policy.room_role_for(current_user, room, get_settings()),
        policy.bypasses_lock(current_user, room, get_settings()),
    )
    return state_for(room, session, outcome, me)


@bp.post("/rooms/<public_id>/ask")
def ask_to_enter(public_id: str) -> Response | str:
    """Ask again to be let in (after a "no", or after being removed)."""
    room = load_room(public_id)
    require_join(room)
    session = service.live_session(room)
    if session is None:
        return render_state(room, "waiting")
    if service.presence_of(session, current_user) is None:
        service.ask_to_enter(session, current_user)
    return join_meeting(public_id)


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
        service.withdraw(session, current_user)
    if wants_fragment():
        return render_template("rooms/_meeting_button.html", **button_context(room))
    return redirect(back_to(room), 303)


@bp.post("/rooms/<public_id>/end")
def end_meeting(public_id: str) -> Response | str:
    room = load_room(public_id)
    require_join(room)
    session = service.live_session(room)
    if session is None:
        last = service.past_sessions(room, limit=1)
        if not last:
            abort(409, "This room has no meeting to end.")
        return render_ended(room, last[0])
    # Someone who left still ends as what they were here: a demoted or removed Manager
    # cannot end the meeting by stepping out first.
    me = service.presence_of(session, current_user) or service.latest_stay(session, current_user.id)
    removed = service.removal_of(session, current_user.id) is not None
    if removed or not policy.may_end(current_user, room, me, get_settings()):
        abort(403, "Only the room's instructors can end the meeting.")
    service.end_session(session, current_user)
    return render_ended(room, session)


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


from liveroom.rooms import attendance, in_room, my_rooms  # noqa: E402, F401  (routes on bp)

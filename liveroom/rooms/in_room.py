"""Inside a live session: chat, raised hands, and the instructors' moderation.

Every action answers 204 to HTMX: everyone, the actor included, sees its effect
through the room's event stream. Errors answer a readable fragment (4xx).
"""

from __future__ import annotations

from flask import Response, abort, redirect, request, url_for
from flask_login import current_user

from liveroom.extensions import db
from liveroom.models import ChatMessage, LiveSession, Participation, Room, WaitingEntry
from liveroom.params import parse_id
from liveroom.roles import RoomRole
from liveroom.rooms import chat, policy, service
from liveroom.rooms.routes import bp, load_room, no_content, require_join


def live_context(public_id: str) -> tuple[Room, LiveSession, Participation | None]:
    room = load_room(public_id)
    require_join(room)
    session = service.live_session(room)
    if session is None:
        abort(409, "This meeting has ended.")
    return room, session, service.presence_of(session, current_user)


def require_moderator(me: Participation | None) -> Participation:
    if not policy.may_moderate(me):
        abort(403, "Only the room's instructors can do that.")
    return me


def done(room: Room) -> Response:
    if request.htmx:
        return no_content()
    return redirect(url_for("rooms.room_page", public_id=room.public_id), 303)


def flag(name: str) -> bool:
    value = request.form.get(name, "")
    if value not in ("0", "1"):
        abort(400, f"“{name}” must be 1 or 0.")
    return value == "1"


def target_in(session: LiveSession, participation_id: int) -> Participation:
    target = db.session.get(Participation, participation_id)
    if target is None or target.session_id != session.id or target.left_at is not None:
        abort(404, "That person is not in the room any more.")
    return target


# --- Chat ---------------------------------------------------------------------------


@bp.post("/rooms/<public_id>/chat")
def post_chat(public_id: str) -> Response | tuple[str, int]:
    room, session, me = live_context(public_id)
    to = request.form.get("to", "").strip()
    if to == "instructors" or to == "":
        to_user_id = me.user_id if (to and me is not None) else None
    elif to.isascii() and to.isdigit():
        to_user_id = parse_id(to, "to")
    else:
        abort(400, "Choose who the message is for.")
    try:
        chat.post_message(session, me, request.form.get("body", ""), to_user_id)
    except chat.ChatError as error:
        return str(error), error.status
    if request.htmx:
        return "", 200  # clears the composer's error line; the message comes by stream
    return done(room)


@bp.post("/rooms/<public_id>/chat/<id:message_id>/delete")
def delete_chat(public_id: str, message_id: int) -> Response:
    room, session, me = live_context(public_id)
    require_moderator(me)
    message = db.session.get(ChatMessage, message_id)
    if message is None or message.session_id != session.id:
        abort(404, "That message is not in this meeting.")
    chat.delete_message(message, current_user)
    return done(room)


@bp.post("/rooms/<public_id>/chat/enabled")
def toggle_chat(public_id: str) -> Response:
    room, session, me = live_context(public_id)
    require_moderator(me)
    service.set_chat_enabled(session, flag("enabled"), current_user)
    return done(room)


# --- Hands --------------------------------------------------------------------------


@bp.post("/rooms/<public_id>/hand")
def my_hand(public_id: str) -> Response:
    room, session, me = live_context(public_id)
    if me is None:
        abort(403, "Join the meeting to raise your hand.")
    service.set_hand(me, flag("raised"))
    return done(room)


@bp.post("/rooms/<public_id>/people/<id:participation_id>/hand/lower")
def lower_hand(public_id: str, participation_id: int) -> Response:
    room, session, me = live_context(public_id)
    require_moderator(me)
    service.set_hand(target_in(session, participation_id), False)
    return done(room)


@bp.post("/rooms/<public_id>/hands/lower-all")
def lower_all_hands(public_id: str) -> Response:
    room, session, me = live_context(public_id)
    require_moderator(me)
    service.lower_all_hands(session)
    return done(room)


# --- Moderation -----------------------------------------------------------------------


@bp.post("/rooms/<public_id>/people/<id:participation_id>/role")
def change_role(public_id: str, participation_id: int) -> Response:
    room, session, me = live_context(public_id)
    require_moderator(me)
    target = target_in(session, participation_id)
    try:
        role = RoomRole(request.form.get("role", ""))
    except ValueError:
        abort(400, "Choose instructor or participant.")
    if not policy.may_change_role(me, target, room):
        abort(
            403, "The room's owner is always its instructor, and you cannot change your own role."
        )
    service.set_room_role(target, role)
    return done(room)


@bp.post("/rooms/<public_id>/people/<id:participation_id>/remove")
def remove_person(public_id: str, participation_id: int) -> Response:
    room, session, me = live_context(public_id)
    require_moderator(me)
    target = target_in(session, participation_id)
    if not policy.may_remove(me, target, room):
        abort(403, "The room's owner cannot be removed, and you cannot remove yourself.")
    service.remove_person(target, current_user)
    return done(room)


@bp.post("/rooms/<public_id>/lock")
def lock_room(public_id: str) -> Response:
    room, session, me = live_context(public_id)
    require_moderator(me)
    service.set_locked(session, flag("locked"), current_user)
    return done(room)


@bp.post("/rooms/<public_id>/waiting/<id:entry_id>/<any(admit, deny):decision>")
def decide_waiting(public_id: str, entry_id: int, decision: str) -> Response:
    room, session, me = live_context(public_id)
    require_moderator(me)
    entry = db.session.get(WaitingEntry, entry_id)
    if entry is None or entry.session_id != session.id:
        abort(404, "That person is not in the waiting room.")
    if entry.decision is not None:
        abort(409, "Someone already answered that request.")
    service.decide(session, [entry], decision == "admit", current_user)
    return done(room)


@bp.post("/rooms/<public_id>/waiting/admit-all")
def admit_all(public_id: str) -> Response:
    room, session, me = live_context(public_id)
    require_moderator(me)
    service.decide(session, service.waiting_people(session), True, current_user)
    return done(room)

"""Rooms: the room page, Start Meeting, Join Meeting, Leave and End.

The in-room actions (chat, hands, moderation), My Rooms and attendance live in the
sibling modules imported at the bottom; they all belong to this one blueprint.
"""

from __future__ import annotations

import dataclasses
import time

import sqlalchemy as sa
from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask import session as browser_session
from flask_login import current_user, login_required

from liveroom import events
from liveroom.extensions import db
from liveroom.models import LiveSession, Participation, Room, WaitingEntry
from liveroom.params import int_arg
from liveroom.rooms import chat, policy, service
from liveroom.rooms.service import Entry
from liveroom.settings import SiteSettings, get_settings
from liveroom.templating import wants_fragment

bp = Blueprint("rooms", __name__)


@bp.before_request
@login_required
def require_login() -> None:
    """Every room URL is for signed-in people only."""


def no_content() -> Response:
    """HTMX leaves the page as it is on 204."""
    return Response(status=204)


LIVE_ROOMS_OFF = "Live rooms were turned off by the site's administrator."
PRIVATE_ROOMS_OFF = "Private rooms were turned off by the site's administrator."


def find_room(public_id: str) -> Room:
    """The room, whether or not live rooms are switched on; 404 if there is none."""
    room = db.session.scalar(sa.select(Room).where(Room.public_id == public_id))
    if room is None:
        abort(404)
    return room


def switched_off(room: Room) -> str | None:
    """Why the room cannot be used now (a sentence to show), or None when it can."""
    settings = get_settings()
    if policy.room_reachable(room, settings):
        return None
    return LIVE_ROOMS_OFF if not settings.live_room_enabled else PRIVATE_ROOMS_OFF


def load_room(public_id: str) -> Room:
    """The room for an action in it: 404, saying why, while its kind is switched off."""
    room = find_room(public_id)
    reason = switched_off(room)
    if reason:
        abort(404, reason)
    return room


def switched_on(settings: SiteSettings) -> SiteSettings:
    return dataclasses.replace(settings, live_room_enabled=True, private_rooms_enabled=True)


def attendance_visible(room: Room) -> bool:
    """Attendance records meetings that happened: switching live rooms off does not
    hide it from the people who saw it (the policy asks as if the rooms were on)."""
    return policy.may_view_attendance(current_user, room, switched_on(get_settings()))


# --- Waiting for the start, remembered across reloads ---------------------------------
# Before a meeting starts there is no session to hold a waiting place in the database,
# so the browser's signed session remembers it: room public id -> when last confirmed.

WAITING_KEY = "waiting_for_start"
# A waiting page confirms every 2 s; one that stopped asking this long ago was closed.
WAITING_FORGOTTEN_AFTER = 15 * 60
WAITING_CONFIRM_EVERY = 60
WAITING_ROOMS_KEPT = 20


def waiting_for_start(room: Room) -> bool:
    since = browser_session.get(WAITING_KEY, {}).get(room.public_id)
    return since is not None and time.time() - since < WAITING_FORGOTTEN_AFTER


def remember_waiting(room: Room) -> None:
    """Note (in the cookie session, only when it changed) that this person waits here."""
    waiting = dict(browser_session.get(WAITING_KEY, {}))
    now = int(time.time())
    if now - waiting.get(room.public_id, 0) < WAITING_CONFIRM_EVERY:
        return
    waiting[room.public_id] = now
    newest = sorted(waiting.items(), key=lambda item: item[1])[-WAITING_ROOMS_KEPT:]
    browser_session[WAITING_KEY] = dict(newest)


def forget_waiting(room: Room) -> None:
    waiting = browser_session.get(WAITING_KEY, {})
    if room.public_id in waiting:
        browser_session[WAITING_KEY] = {k: v for k, v in waiting.items() if k != room.public_id}


def require_join(room: Room, settings: SiteSettings | None = None) -> None:
    if not policy.may_join(current_user, room, settings or get_settings()):
        abort(403, "Only members of this channel can join its meetings.")


def require_member_while_off(room: Room) -> None:
    """While rooms are switched off, only those who could join hear that they are."""
    require_join(room, switched_on(get_settings()))


def button_context(room: Room) -> dict:
    settings = get_settings()
    return {
        "room": room,
        "live": service.live_session(room) is not None,
        "can_start": policy.may_start(current_user, room, settings),
        "can_join": policy.may_join(current_user, room, settings),
        "can_view_attendance": attendance_visible(room),
        "new_tab": settings.open_in_new_tab,
        "enabled": policy.room_reachable(room, settings),
    }


def panel_context(room: Room, session: LiveSession, me: Participation) -> dict:
    # The cursor is read before the state, so the stream replays anything newer.
    since = events.latest_id(room.id)
    # Current roles; a page that only reads (GET) leaves the stored rank as it is.
    rights = service.rights_of(current_user, room, session, me, request.method != "GET")
    instructor = rights.instructor
    return {
        "room": room,
        "session": session,
        "me": me,
        "instructor": instructor,
        "rights": rights,
        "since": since,
        "people": service.people_present(session),
        "hands": service.raised_hands(session),
        "waiting": service.waiting_people(session) if instructor else [],
        "messages": chat.recent_messages(session, me.user_id, rights.reads_all_threads),
        "can_chat": policy.may_chat(me, session),
        "can_end": policy.may_end(current_user, room, me, get_settings()),
        "can_view_attendance": attendance_visible(room),
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


def render_lobby(room: Room, session: LiveSession) -> str:
    # A decision made after this cursor is replayed to the stream; one made before the
    # stream connects makes it answer "refresh" at once: either way the page moves on.
    return render_state(room, "lobby", session=session, since=events.latest_id(room.id))


def render_turned_off(room: Room, reason: str, ended_session: LiveSession | None = None) -> str:
    """The meeting box while live rooms are off: it says so, and keeps asking (GET
    button?off=1) so that it turns back into the button when they are on again."""
    return render_state(
        room,
        "turned_off",
        off_reason=reason,
        ended_session=ended_session,
        can_view_attendance=attendance_visible(room),
    )


def admission_unused(session: LiveSession, entry: WaitingEntry | None) -> bool:
    """An instructor let them in while their page was away (a reload): enter on load."""
    if entry is None or entry.decision != "admitted":
        return False
    stay = service.latest_stay(session, entry.user_id)
    return stay is None or (entry.decided_at is not None and stay.joined_at < entry.decided_at)


def meeting_state(room: Room) -> tuple[str, dict]:
    """What a page opening this room's meeting box shows, so a person's place survives
    a reload: in the room, in the waiting room, or waiting for the start."""
    if switched_off(room):
        return "meeting_button", button_context(room)  # the page shows no meeting box
    session = service.live_session(room)
    if session is None:
        if waiting_for_start(room) and policy.may_join(current_user, room, get_settings()):
            return "waiting", {"room": room}
        return "meeting_button", button_context(room)
    since = events.latest_id(room.id)
    me = service.presence_of(session, current_user)
    if me is not None:
        return "panel", panel_context(room, session, me)
    entry = service.latest_waiting_entry(session, current_user.id)
    if entry is not None and entry.decision is None:
        return "lobby", {"room": room, "session": session, "since": since}
    context = button_context(room)
    # Waiting for the start, and it started (or they were admitted) during the reload.
    context["autojoin"] = context["can_join"] and (
        waiting_for_start(room) or admission_unused(session, entry)
    )
    return "meeting_button", context


def entered(room: Room, session: LiveSession, me: Participation) -> Response | str:
    """After Start or Join: the panel in place for HTMX, the room page otherwise."""
    forget_waiting(room)
    if wants_fragment():
        return render_panel(room, session, me)
    return redirect(url_for("rooms.room_page", public_id=room.public_id), 303)


def state_for(room: Room, session: LiveSession, outcome: Entry, me: Participation | None):
    """The answer to someone asking to enter a live session."""
    if outcome is Entry.ENTERED:
        return entered(room, session, me)
    forget_waiting(room)  # from now on the waiting room (or the removal) is in the database
    if outcome is Entry.WAITING_ROOM:
        return render_lobby(room, session)
    return render_state(room, "removed", session=session)


@bp.get("/rooms/<public_id>")
def room_page(public_id: str) -> str:
    room = load_room(public_id)
    require_join(room)
    state, context = meeting_state(room)
    if state == "meeting_button":
        # Opening a room's link joins it (once the page has loaded: joining is a POST),
        # except for someone who may start it: they choose when to start.
        context["autojoin"] = (
            context["live"] or not context["can_start"] or context.get("autojoin", False)
        )
    return render_template("rooms/room.html", state=state, **context)


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
    room = find_room(public_id)
    shown = db.session.get(LiveSession, int_arg("session"))
    if shown is not None and shown.room_id != room.id:
        shown = None
    if reason := switched_off(room):
        require_member_while_off(room)
        forget_waiting(room)
        return render_turned_off(room, reason, shown if shown and shown.ended_at else None)
    require_join(room)
    if shown is not None and shown.ended_at is not None:
        return render_ended(room, shown)
    session = service.live_session(room)
    if session is None:
        remember_waiting(room)
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
        remember_waiting(room)
        return render_state(room, "waiting")
    if service.presence_of(session, current_user) is None:
        service.ask_to_enter(session, current_user)
    return join_meeting(public_id)


@bp.errorhandler(service.AskedTooSoon)
def asked_too_soon(error: service.AskedTooSoon) -> Response:
    """However they asked (Ask again, Join, a reload), someone refused a moment ago
    keeps their "removed" or "not let in" screen, with the time they must wait."""
    room = load_room(request.view_args["public_id"])
    session = service.live_session(room)
    if session is None:
        return render_state(room, "waiting")
    removed = service.removal_of(session, current_user.id) is not None
    body = render_state(
        room, "removed" if removed else "denied", session=session, retry=error.message
    )
    return Response(body, 429, {"Retry-After": str(error.retry_after)})


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
    forget_waiting(room)  # "Stop waiting" comes here too
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
    # Ending is for staff by their current roles, whether or not they are in the room
    # (an old removal from before they were staff does not stop them).
    me = service.presence_of(session, current_user) or service.latest_stay(session, current_user.id)
    if not policy.may_end(current_user, room, me, get_settings()):
        abort(403, "Only the room's instructors can end the meeting.")
    service.end_session(session, current_user)
    return render_ended(room, session)


@bp.get("/rooms/<public_id>/button")
def meeting_button(public_id: str) -> Response | str:
    """Start/Join button refresh: 204 while the room's state matches what the page shows
    (live or not, or switched off: ``off=1``)."""
    room = find_room(public_id)
    showing_off = bool(request.args.get("off"))
    if reason := switched_off(room):
        require_member_while_off(room)
        return no_content() if showing_off else render_turned_off(room, reason)
    require_join(room)
    context = button_context(room)
    shown = request.args.get("live")
    if not showing_off and shown is not None and (shown == "1") == context["live"]:
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

"""Rooms: the room page, Start Meeting, Join Meeting, Leave and End.

The blueprint is ``liveroom.rooms.bp``; the in-room actions (``in_room.py``), My Rooms
(``my_rooms.py``) and attendance (``attendance_routes.py``) are its other route
modules. What these pages show is built in ``pages.py``.
"""

from __future__ import annotations

from flask import Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _

from liveroom.auth.sessions import signed_in_user
from liveroom.extensions import db
from liveroom.media.backend import close_media, open_media_room, withdraw_media
from liveroom.media.sfu import sfu_of
from liveroom.models import LiveSession, Participation, Room
from liveroom.params import int_arg
from liveroom.rooms import bp, meetings, policy, waiting
from liveroom.rooms.meetings import Entry
from liveroom.rooms.pages import (
    Standing,
    attendance_visible,
    button_context,
    drawn_button_box,
    find_room,
    forget_waiting,
    load_room,
    meeting_state,
    no_content,
    remember_waiting,
    render_ended,
    render_lobby,
    render_panel,
    render_state,
    render_turned_off,
    require_join,
    require_member_while_off,
    standing_in,
    switched_off,
)
from liveroom.rooms.presence import latest_stay, presence_of
from liveroom.settings import get_settings
from liveroom.templating import wants_fragment


def entered(
    room: Room,
    session: LiveSession,
    me: Participation,
    started: int | None = None,
    since: int | None = None,
    standing: Standing | None = None,
    commit_after: bool = False,
) -> Response | str:
    """After Start or Join: the panel in place for HTMX, the room page otherwise
    (the rest: see ``pages.panel_context``). ``commit_after``: the stay is not
    committed yet; it is, once the panel's state is read."""
    forget_waiting(room)
    if wants_fragment():
        return render_panel(room, session, me, started, since, standing, commit_after)
    if commit_after:
        meetings.commit_keeping_loaded()
    return redirect(url_for("rooms.room_page", public_id=room.public_id), 303)


def state_for(
    room: Room,
    session: LiveSession,
    outcome: Entry,
    me: Participation | None,
    since: int,
    standing: Standing,
) -> Response | str:
    """The answer to someone asking to enter a live session."""
    if outcome is Entry.ENTERED:
        return entered(room, session, me, since=since, standing=standing)
    if outcome is Entry.DENIED:
        # A page refreshing itself after a "no" shows it; asking again is a click.
        return render_state(room, "denied", session=session)
    forget_waiting(room)  # from now on the waiting room (or the removal) is in the database
    if outcome is Entry.WAITING_ROOM:
        return render_lobby(room, session)
    return render_state(room, "removed", session=session)


@bp.get("/rooms/<room:public_id>")
def room_page(public_id: str) -> str:
    room = load_room(public_id)
    require_join(room)
    if policy.is_archived(room):
        # Its history stays (attendance, for those who may see it); no meeting starts.
        return render_template(
            "rooms/room.html",
            archived=True,
            room=room,
            can_view_attendance=attendance_visible(room),
        )
    state, context = meeting_state(room)
    if state == "meeting_button":
        # Opening a room's link joins it (once the page has loaded: joining is a POST),
        # except for someone who may start it: they choose when to start.
        context["autojoin"] = (
            context["live"] or not context["can_start"] or context.get("autojoin", False)
        )
    return render_template(
        "rooms/room.html", state=state, button_box=drawn_button_box(state, context), **context
    )


@bp.post("/rooms/<room:public_id>/start")
def start_meeting(public_id: str) -> Response | str:
    room = load_room(public_id)
    if not policy.may_start(signed_in_user(), room, get_settings()):
        if policy.is_archived(room):
            if room.is_private:
                abort(
                    403, _("This room is archived: its history is kept, but no meeting can start.")
                )
            abort(
                403, _("This channel is archived: its history is kept, but no meeting can start.")
            )
        if room.is_private:
            abort(403, _("Only the room's owner can start this room."))
        abort(403, _("Only the channel's Managers and Moderators can start its meeting."))
    # Already live (a second instructor, or a double click): it enters that meeting as
    # Join does, so a removal or a demotion in it still holds.
    session, me, started = meetings.open_session(room, signed_in_user())
    if started is not None:
        # A new meeting: its room on the media server, if one is configured.
        open_media_room(session)
        meetings.commit_keeping_loaded()
    return entered(room, session, me, started)


@bp.post("/rooms/<room:public_id>/join")
def join_meeting(public_id: str) -> Response | str:
    """Join Meeting; also how an open page re-reads its state after a "refresh" event.

    A storm of joins (a class arriving at once) runs this a thousand times in seconds,
    so it reads each thing once: the meeting with the stream's cursor, the way in
    (stay, waiting entry, removal) in one statement, the roles before its commit, and
    the commit keeps what it loaded (tests/test_query_counts.py counts them).
    """
    room = find_room(public_id)
    shown_id = int_arg("session")
    session, since = meetings.session_with_cursor(room, shown_id)
    if reason := switched_off(room):
        require_member_while_off(room)
        forget_waiting(room)
        ended = session if session is not None and session.ended_at else None
        return render_turned_off(room, reason, ended)
    require_join(room)
    if session is not None and session.ended_at is not None:
        return render_ended(room, session)
    if session is None and shown_id:
        session, since = meetings.session_with_cursor(room)  # not this room's: the live one
    if session is None:
        remember_waiting(room)
        if request.args.get("waiting"):
            return no_content()  # still waiting: the page keeps its waiting state
        return render_state(room, "waiting")
    standing = standing_in(room)
    # On PostgreSQL the new stay is committed after the panel's reads, in one
    # transaction with them (see meetings.join_session). SQLite's write lock is the
    # whole database's: there the stay is committed first, and the reads follow.
    together = db.session.get_bind().dialect.name == "postgresql"
    outcome, me = meetings.enter_session(
        session,
        signed_in_user(),
        standing.staff,
        keep_denied=bool(request.args.get("auto")),
        commit=not together,
    )
    if outcome is Entry.ENTERED:
        return entered(room, session, me, since=since, standing=standing, commit_after=together)
    return state_for(room, session, outcome, me, since, standing)


@bp.post("/rooms/<room:public_id>/ask")
def ask_to_enter(public_id: str) -> Response | str:
    """Ask again to be let in (after a "no", or after being removed)."""
    room = load_room(public_id)
    require_join(room)
    session = meetings.live_session(room)
    if session is None:
        remember_waiting(room)
        return render_state(room, "waiting")
    if presence_of(session, signed_in_user()) is None:
        waiting.ask_to_enter(session, signed_in_user())
    return join_meeting(public_id)


@bp.errorhandler(waiting.AskedTooSoon)
def asked_too_soon(error: waiting.AskedTooSoon) -> Response:
    """However they asked (Ask again, Join, a reload), someone refused a moment ago
    keeps their "removed" or "not let in" screen, with the time they must wait."""
    room = load_room(request.view_args["public_id"])
    session = meetings.live_session(room)
    if session is None:
        return render_state(room, "waiting")
    removed = waiting.removal_of(session, signed_in_user().id) is not None
    body = render_state(
        room, "removed" if removed else "denied", session=session, retry=error.message
    )
    return Response(body, 429, {"Retry-After": str(error.retry_after)})


@bp.post("/rooms/<room:public_id>/leave")
def leave_meeting(public_id: str) -> Response | str:
    room = load_room(public_id)
    require_join(room)
    session = meetings.live_session(room)
    if request.args.get("beacon"):
        # The tab is going away, or reloading: a reload comes back within seconds.
        if session is not None:
            meetings.say_goodbye(session, signed_in_user())
        return no_content()
    forget_waiting(room)  # "Stop waiting" comes here too
    # Someone who was in the meeting was not waiting to enter it (entering ends that).
    if session is not None and not meetings.leave_session(session, signed_in_user()):
        waiting.withdraw(session, signed_in_user())
    elif session is not None and sfu_of() is not None:
        # They left: their pass to the meeting's room on the media server goes too.
        stay = latest_stay(session, signed_in_user().id)
        if stay is not None:
            withdraw_media(session, stay)
    if wants_fragment():
        # The meeting they left goes on (its end reaches the button by its own stream).
        context = button_context(room, live=session is not None)
        return render_template("rooms/_meeting_button.html", **context)
    return redirect(back_to(room), 303)


@bp.post("/rooms/<room:public_id>/end")
def end_meeting(public_id: str) -> Response | str:
    room = load_room(public_id)
    require_join(room)
    session = meetings.live_session(room)
    if session is None:
        last = meetings.past_sessions(room, limit=1)
        if not last:
            abort(409, _("This room has no meeting to end."))
        return render_ended(room, last[0])
    # Ending is for staff by their current roles, whether or not they are in the room
    # (an old removal from before they were staff does not stop them).
    me = presence_of(session, signed_in_user()) or latest_stay(session, signed_in_user().id)
    if not policy.may_end(signed_in_user(), room, me, get_settings()):
        abort(403, _("Only the room's instructors can end the meeting."))
    meetings.end_session(session, signed_in_user())
    close_media(session)
    return render_ended(room, session)


@bp.get("/rooms/<room:public_id>/button")
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
    if room.owner_id == signed_in_user().id:
        return url_for("rooms.my_rooms")
    return url_for("rooms.room_page", public_id=room.public_id)

"""The room's Server-Sent Events stream."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import sqlalchemy as sa
from flask import Response, abort, current_app, request
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required

from liveroom import request_log
from liveroom.auth.sessions import current_login_id, signed_in_user
from liveroom.errors import error_page
from liveroom.extensions import db
from liveroom.live import bp, slots
from liveroom.live.hub import REFRESH_PRESENT_EVERY, HubNotReady, hub_of
from liveroom.live.render import (
    STREAM_HEADERS,
    WAITING,
    Listener,
    listener_role,
    request_language,
    sse_message,
)
from liveroom.models import LiveSession, Participation, utcnow
from liveroom.params import MAX_ID, int_arg
from liveroom.rooms.pages import load_room, require_join
from liveroom.rooms.presence import keep_present
from liveroom.rooms.waiting import latest_waiting_entry

# The meeting a stream asks for, and the person's present stay in it (if any), in one
# statement: built once, since every page in a meeting opens one.
_SESSION_AND_STAY = (
    sa.select(LiveSession, Participation)
    .outerjoin(
        Participation,
        sa.and_(
            Participation.session_id == LiveSession.id,
            Participation.user_id == sa.bindparam("user_id"),
            Participation.left_at.is_(None),
        ),
    )
    .where(
        LiveSession.id == sa.bindparam("session_id"), LiveSession.room_id == sa.bindparam("room_id")
    )
)


def last_event_id() -> int:
    """Where the browser is: the EventSource's Last-Event-ID, or the page's own cursor."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or "0"
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
        abort(400, _("Last-Event-ID must be an event number."))
    return int(raw)


def refresh_only(event_id: int) -> Response:
    """Tell a page that is out of date to fetch its panel again, then end the stream."""
    body = b"retry: 5000\n\n" + sse_message(event_id, "refresh", "refresh")
    return Response(body, mimetype="text/event-stream", headers=STREAM_HEADERS)


@bp.get("/rooms/<room:public_id>/stream")
@login_required
def room_stream(public_id: str) -> Response:
    room = load_room(public_id)
    require_join(room)
    found = db.session.execute(
        _SESSION_AND_STAY,
        {"session_id": int_arg("session"), "room_id": room.id, "user_id": signed_in_user().id},
    ).one_or_none()
    if found is None:
        abort(404)
    session, me = found
    after = last_event_id()
    if request.method == "HEAD":
        # Nothing streams to a HEAD request: subscribing would leave a listener behind.
        return Response(mimetype="text/event-stream", headers=STREAM_HEADERS)
    if session.ended_at is not None:
        return refresh_only(after)
    if me is not None:
        role = listener_role(signed_in_user(), room, me)  # staff, promoted or participant, now
    elif (entry := latest_waiting_entry(session, signed_in_user().id)) and entry.decision is None:
        role = WAITING
    else:
        return refresh_only(after)
    listener = Listener(
        room_id=room.id,
        session_id=session.id,
        user_id=signed_in_user().id,
        role=role,
        participation_id=me.id if me else None,
        login_id=current_login_id(),
        language=request_language(),
    )
    try:
        slot_id = take_slot(listener, me)
    except slots.OpeningTooOften as error:
        return opening_too_often(error.retry_after)
    # From here on, hold no database connection while waiting: not for the hub (whose
    # watcher may need one to start), and not while the stream is open.
    db.session.remove()
    hub = hub_of(current_app)
    try:
        cursor = hub.subscribe(listener, slot_id)
    except HubNotReady:
        hub.slot_unused(slot_id)
        abort(503, _("Live updates are not available yet. The page will try again."))
    # Subscribed first, then the gap is read: nothing falls between the two.
    try:
        missed, displaced = hub.replay(listener, after, cursor, slot_id)
    except Exception:
        hub.unsubscribe(listener)
        raise
    finally:
        db.session.remove()

    def stream() -> Iterator[bytes]:
        try:
            yield b"retry: 2000\n\n" + missed
            if displaced:
                return
            while True:
                item = listener.queue.get()  # the hub adds a keep-alive when idle
                if item is None:  # closed by the hub: displaced, moved, or too slow
                    return
                event_id, message = item
                # The browser has what it asked after (a watcher lagging behind another
                # worker's sends it again); not a late event this hub had not seen yet.
                if 0 < event_id <= after and event_id not in cursor.missing:
                    continue
                yield message
        finally:
            hub.unsubscribe(listener)

    response = Response(stream(), mimetype="text/event-stream", headers=STREAM_HEADERS)
    # However the response ends (even unread), the listener goes.
    response.call_on_close(lambda: hub.unsubscribe(listener))
    # The request log's second line, when the stream closes.
    request_log.remember_stream(response)
    if current_app.debug:
        # Which worker holds the stream: for the multi-worker tests, never in production.
        response.headers["X-Liveroom-Worker"] = str(os.getpid())
    return response


def opening_too_often(wait: int) -> Response:
    """429 for a loop of opens (a real tab reconnects every few seconds at most). The
    page's EventSource gives up on a non-200 answer, and htmx-ext-sse opens it again
    after 0.5, 1, 2, 4 … up to 64 seconds, so a real page backs off by itself and
    comes back once the minute has passed."""
    response = error_page(
        429,
        ngettext(
            "This room's live updates were opened too often in the last minute. They "
            "start again by themselves; you can also reload the page in %(num)d second.",
            "This room's live updates were opened too often in the last minute. They "
            "start again by themselves; you can also reload the page in %(num)d seconds.",
            wait,
        ),
    )
    response.headers["Retry-After"] = str(wait)
    return response


def take_slot(listener: Listener, me: Participation | None) -> int:
    """One write as the stream opens: its slot (displacing this person's oldest stream
    beyond five) and, for someone in the room whose stay needs it, "still here" (a
    reload comes back). Raises ``slots.OpeningTooOften`` beyond 30 opens a minute,
    having rolled back what it wrote."""
    try:
        slot_id = slots.open_slot(
            listener.room_id,
            listener.session_id,
            listener.user_id,
            timedelta(seconds=current_app.config["LIVEROOM_PRESENCE_TIMEOUT"]),
        )
    except slots.OpeningTooOften:
        db.session.rollback()
        raise
    if me is not None and needs_keeping(me):
        keep_present([listener.participation_id], commit=False)
    db.session.commit()
    return slot_id


def needs_keeping(me: Participation) -> bool:
    """Whether opening a stream must write "still here" for this stay: after a goodbye
    (a reload coming back), or when it was last seen longer ago than the hub's upkeep
    refreshes it. A stay that has just begun (the stream a Join's panel opens, the
    storm's case) was seen at its start and said no goodbye: nothing to write, and
    the upkeep keeps it from here on like every other open stream's."""
    if me.goodbye_at is not None:
        return True
    return me.last_seen_at < utcnow() - timedelta(seconds=REFRESH_PRESENT_EVERY)

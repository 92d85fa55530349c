"""The room's Server-Sent Events stream."""

from __future__ import annotations

import os
from collections.abc import Iterator

from flask import Blueprint, Response, abort, current_app, request
from flask_login import current_user, login_required

from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.live.render import INSTRUCTOR, PARTICIPANT, WAITING, Listener, sse_message
from liveroom.models import LiveSession
from liveroom.params import MAX_ID, int_arg
from liveroom.roles import RoomRole
from liveroom.rooms import service
from liveroom.rooms.routes import load_room, require_join

bp = Blueprint("live", __name__, url_prefix="/live")

STREAM_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    # nginx must pass each event on at once instead of buffering the response.
    "X-Accel-Buffering": "no",
}


def last_event_id() -> int:
    """Where the browser is: the EventSource's Last-Event-ID, or the page's own cursor."""
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or "0"
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
        abort(400, "Last-Event-ID must be an event number.")
    return int(raw)


def refresh_only(event_id: int) -> Response:
    """Tell a page that is out of date to fetch its panel again, then end the stream."""
    body = b"retry: 5000\n\n" + sse_message(event_id, "refresh", "refresh")
    return Response(body, mimetype="text/event-stream", headers=STREAM_HEADERS)


@bp.get("/rooms/<public_id>/stream")
@login_required
def room_stream(public_id: str) -> Response:
    room = load_room(public_id)
    require_join(room)
    session = db.session.get(LiveSession, int_arg("session"))
    if session is None or session.room_id != room.id:
        abort(404)
    after = last_event_id()
    if request.method == "HEAD":
        # Nothing streams to a HEAD request: subscribing would leave a listener behind.
        return Response(mimetype="text/event-stream", headers=STREAM_HEADERS)
    if session.ended_at is not None:
        return refresh_only(after)
    me = service.presence_of(session, current_user)
    if me is not None:
        role = INSTRUCTOR if me.room_role is RoomRole.INSTRUCTOR else PARTICIPANT
    elif (
        entry := service.latest_waiting_entry(session, current_user.id)
    ) and entry.decision is None:
        role = WAITING
    else:
        return refresh_only(after)
    hub = hub_of(current_app)
    listener = Listener(
        room_id=room.id,
        session_id=session.id,
        user_id=current_user.id,
        role=role,
        participation_id=me.id if me else None,
    )
    # Subscribe first, then read the gap: nothing falls between the two, and whatever
    # arrives twice is dropped by event id below.
    hub.subscribe(listener)
    try:
        missed, replayed_to = hub.replay(listener, after)
        if me is not None:
            service.keep_present([me.id])
    except Exception:
        hub.unsubscribe(listener)
        raise
    db.session.remove()  # a stream holds no database connection while it waits

    def stream() -> Iterator[bytes]:
        try:
            yield b"retry: 2000\n\n" + missed
            while True:
                item = listener.queue.get()  # the hub adds a keep-alive when idle
                if item is None:  # cut off as too slow: the browser reconnects and catches up
                    return
                event_id, message = item
                if 0 < event_id <= replayed_to:
                    continue
                yield message
        finally:
            hub.unsubscribe(listener)

    response = Response(stream(), mimetype="text/event-stream", headers=STREAM_HEADERS)
    # However the response ends (even unread), the listener goes.
    response.call_on_close(lambda: hub.unsubscribe(listener))
    response.headers["X-Liveroom-Worker"] = str(os.getpid())
    return response

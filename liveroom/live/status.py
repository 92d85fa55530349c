"""Status streams: pages that show rooms without being in their meetings hear when a
meeting starts or ends, instead of asking every few seconds.

A channel page, a room's link and a pupil waiting for the start hold one stream for
their room (``/live/rooms/<id>/status``); My Rooms holds one for all of its rooms
(``/live/my-rooms/status``). The stream says ``meeting`` and the page asks for its own
view of the room (its Start/Join button, or it joins), so one start costs each open
page one small request, and an idle page costs nothing. The state a page shows is
checked when the stream opens, so a page that reconnects after a restart catches up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import sqlalchemy as sa
from flask import Response, abort, current_app, request
from flask_babel import gettext as _
from flask_login import login_required

from liveroom import request_log
from liveroom.auth.sessions import current_login_id, signed_in_user
from liveroom.errors import error_page
from liveroom.extensions import db
from liveroom.live import bp
from liveroom.live.hub import HubNotReady, TooManyWatchers, hub_of
from liveroom.live.render import (
    STREAM_HEADERS,
    Watcher,
    render_template,
    request_language,
    sse_message,
)
from liveroom.models import LiveSession, Room
from liveroom.rooms import meetings, pages, private

SHOWN = ("live", "idle", "off")


def room_state(room: Room) -> str:
    if pages.switched_off(room):
        return "off"
    return "live" if meetings.live_session(room) is not None else "idle"


def open_watch(watcher: Watcher, first: Callable[[], bytes]) -> Response:
    """Subscribe (holding no database connection: the hub may need one to start),
    then stream what the hub queues for this page."""
    hub = hub_of(current_app)
    try:
        hub.watch(watcher)
    except HubNotReady:
        abort(503, _("Live updates are not available yet. The page will try again."))
    except TooManyWatchers as error:
        response = error_page(429, str(error))
        response.headers["Retry-After"] = "60"
        return response
    try:
        opening = b"retry: 2000\n\n" + first()
    except Exception:
        hub.unwatch(watcher)
        raise

    def stream() -> Iterator[bytes]:
        try:
            yield opening
            while True:
                item = watcher.queue.get()  # the hub adds a keep-alive when idle
                if item is None:
                    return
                yield item[1]
        finally:
            hub.unwatch(watcher)

    response = Response(stream(), mimetype="text/event-stream", headers=STREAM_HEADERS)
    response.call_on_close(lambda: hub.unwatch(watcher))
    # The request log's second line, when the stream closes.
    request_log.remember_stream(response)
    return response


@bp.get("/rooms/<room:public_id>/status")
@login_required
def room_status(public_id: str) -> Response:
    """One room's meeting starting or ending, for a page that shows it as ``shown``."""
    room = pages.find_room(public_id)
    pages.require_member_while_off(room)
    shown = request.args.get("shown", "")
    if shown not in SHOWN:
        abort(400, _("shown must be live, idle or off."))
    if request.method == "HEAD":
        return Response(mimetype="text/event-stream", headers=STREAM_HEADERS)
    if request.args.get("waiting") and not pages.switched_off(room):
        pages.remember_waiting(room)  # a reload keeps the waiting place
    watcher = Watcher(
        room_ids=frozenset({room.id}),
        user_id=signed_in_user().id,
        login_id=current_login_id(),
        language=request_language(),
    )
    room_id = room.id
    db.session.remove()

    def first() -> bytes:
        # Read after subscribing: a start between the page's render and now is either
        # seen here or queued, never lost.
        try:
            now = room_state(db.session.get(Room, room_id))
        finally:
            db.session.remove()
        return sse_message(None, "meeting", "") if now != shown else b""

    return open_watch(watcher, first)


@bp.get("/my-rooms/status")
@login_required
def my_rooms_status() -> Response:
    """The "Live" badges of My Rooms: all of them when the stream opens, then each one
    as its meeting starts or ends."""
    pages.require_my_rooms()
    if request.method == "HEAD":
        return Response(mimetype="text/event-stream", headers=STREAM_HEADERS)
    room_ids = frozenset(room.id for room in private.private_rooms_of(signed_in_user()))
    watcher = Watcher(
        room_ids=room_ids,
        user_id=signed_in_user().id,
        login_id=current_login_id(),
        language=request_language(),
    )
    db.session.remove()

    def first() -> bytes:
        try:
            rooms = db.session.scalars(sa.select(Room).where(Room.id.in_(room_ids))).all()
            live = set(
                db.session.scalars(
                    sa.select(LiveSession.room_id).where(
                        LiveSession.room_id.in_(room_ids), LiveSession.ended_at.is_(None)
                    )
                )
            )
            badges = "".join(
                render_template("rooms/_live_badge.html", room=r, live=r.id in live, oob=True)
                for r in rooms
            )
        finally:
            db.session.remove()
        return sse_message(None, "meeting", badges) if badges else b""

    return open_watch(watcher, first)

"""Rooms: live meetings in a channel's room or a person's private room.

The blueprint is defined here and its route modules import it from here, so no route
module imports another: ``routes.py`` (the room page, Start, Join, Leave, End),
``in_room.py`` (chat, hands, moderation), ``my_rooms.py`` and ``attendance_routes.py``.
What their pages show is built in ``pages.py``; the state transitions are
``meetings``, ``presence``, ``waiting``, ``moderation``, ``chat`` and ``private``, and
who may do what is ``policy``.
"""

from __future__ import annotations

from flask import Blueprint, Flask
from flask_login import login_required

bp = Blueprint("rooms", __name__)


@bp.before_request
@login_required
def require_login() -> None:
    """Every room URL is for signed-in people only."""


def register(app: Flask) -> None:
    """Attach the views to the blueprint and the blueprint to the app.

    The route modules are imported here, when the app is built, not at the bottom of
    this file (microblog's way): lower layers import this package's rules and services
    (``templating`` reads ``policy``, the live hub ``meetings``), and importing those
    must not import every view, which imports them back.
    """
    from liveroom.rooms import attendance_routes, in_room, my_rooms, routes  # noqa: F401  (their views attach to bp)

    app.register_blueprint(bp)

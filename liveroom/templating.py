"""Rendering helpers shared by the blueprints."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, render_template, request
from flask_login import current_user

from liveroom.rooms.policy import may_see_my_rooms, shown_rank
from liveroom.settings import get_settings
from liveroom.text import initial, linkify


def wants_fragment() -> bool:
    """HTMX asked for a piece of a page (a history restore wants the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def page_or_fragment(page: str, fragment: str, **context: object) -> str:
    """The fragment for HTMX, the full page (which includes the fragment) otherwise."""
    return render_template(fragment if wants_fragment() else page, **context)


def iso_utc(moment: datetime | None) -> str:
    """A ``<time datetime>`` value: ISO 8601 in UTC to the second ("2026-11-28T09:16:05Z").

    The database keeps naive UTC times with microseconds, which HTML does not allow (at
    most three fraction digits); static/js/time.js turns these into the viewer's zone.
    """
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


def register(app: Flask) -> None:
    app.jinja_env.filters["linkify"] = linkify
    app.jinja_env.filters["initial"] = initial
    # What a stay's person was in the room: Instructor (staff), Moderator, Participant.
    app.jinja_env.filters["room_badge"] = lambda stay: shown_rank(stay).badge
    app.jinja_env.filters["iso_utc"] = iso_utc

    @app.context_processor
    def menu_flags() -> dict:
        if not current_user.is_authenticated:
            return {"show_my_rooms": False, "show_admin": False}
        return {
            "show_my_rooms": may_see_my_rooms(current_user, get_settings()),
            "show_admin": current_user.role.is_admin,
        }

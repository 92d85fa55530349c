"""Numbers from URLs and forms: bad or out-of-range values are a 400, never a 500."""

from __future__ import annotations

from flask import abort, request
from flask_babel import gettext
from werkzeug.routing import BaseConverter, IntegerConverter

# Database ids are 64-bit signed integers everywhere (SQLite and PostgreSQL).
MAX_ID = 2**63 - 1


class IdConverter(IntegerConverter):
    """``<id:name>``: a positive id that fits the database; anything else is a 404."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 (werkzeug's name)
        super().__init__(map, min=1, max=MAX_ID)


class RoomIdConverter(BaseConverter):
    """``<room:name>``: what a room's public id can be (``secrets.token_urlsafe``);
    anything else is a 404 before any view or query (PostgreSQL refuses a NUL)."""

    regex = r"[A-Za-z0-9_-]{1,32}"


def int_arg(name: str, default: int = 0) -> int:
    """A non-negative integer query argument, or a readable 400."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    return parse_id(raw, name)


def parse_id(raw: str, name: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
        abort(400, gettext("“%(name)s” must be a whole number.", name=name))
    return int(raw)

"""Exporting users and channel memberships as CSV, in exactly the formats the import
reads (``csv_import.FORMATS``), so that an export imports back unchanged.

The rows are streamed: a school of 10,000 is never held in memory at once. A cell a
spreadsheet would run as a formula (starting with = + - @, a tab or a carriage
return) gets a leading apostrophe, and so does a cell that starts with an apostrophe,
so that the import, which takes one such apostrophe off, gives back the exact text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import Channel, Membership, User

USERS_HEADER = ["username", "display_name", "role", "email", "active"]
MEMBERSHIPS_HEADER = ["channel", "username", "channel_role"]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
_BATCH = 500


def guard(value: str) -> str:
    """The value as a CSV cell no spreadsheet runs as a formula."""
    return "'" + value if value[:1] in _FORMULA_STARTS else value


def users_rows() -> Iterator[list[str]]:
    yield USERS_HEADER
    query = sa.select(User).order_by(User.username).execution_options(yield_per=_BATCH)
    for user in db.session.scalars(query):
        yield [
            user.username,
            user.display_name,
            user.role.value,
            user.email or "",
            "no" if user.deactivated_at else "yes",
        ]


def memberships_rows() -> Iterator[list[str]]:
    yield MEMBERSHIPS_HEADER
    query = (
        sa.select(Channel.name, User.username, Membership.role)
        .join(Channel, Membership.channel_id == Channel.id)
        .join(User, Membership.user_id == User.id)
        .order_by(Channel.name, User.username)
        .execution_options(yield_per=_BATCH)
    )
    for name, username, role in db.session.execute(query):
        yield [name, username, role.value]


def csv_chunks(rows: Iterable[list[str]]) -> Iterator[str]:
    """The rows as CSV text, guarded, a few hundred rows per chunk."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for number, row in enumerate(rows, start=1):
        writer.writerow([guard(cell) for cell in row])
        if number % _BATCH == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    if out.getvalue():
        yield out.getvalue()

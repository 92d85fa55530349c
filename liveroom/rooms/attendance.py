"""Attendance: who was in a meeting, for how long, and each of their stays.

A person who reloads, loses their connection or steps out has several stays. The page
and the summary CSV start from one line per person (``people``); the stays come below
it. The views are in ``attendance_routes.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from liveroom.extensions import db
from liveroom.models import LiveSession, Participation, User, utcnow
from liveroom.roles import RoomRole

# Why a meeting ended, for the sentence under its attendance ("ended because ...").
END_REASONS = {
    "no_instructor": _l("no instructor was in the room for 15 minutes"),
    "disabled": _l("live rooms were turned off"),
}


def end_reason(reason: str | None) -> str | None:
    """Why a meeting ended, in the reader's language (None when it simply ended)."""
    said = END_REASONS.get(reason or "")
    return str(said) if said is not None else None


@dataclass(frozen=True, slots=True)
class Attendee:
    """Who a stay was: what the page and the CSV files name them by."""

    id: int
    display_name: str
    username: str


@dataclass(slots=True)
class Stay:
    """One stay as the attendance shows it: who, in which role, from when to when.

    Plain values rather than the ``Participation`` rows themselves: a meeting has a
    stay or more per person, and loading each as a database object (with its person)
    cost more than the whole rest of the attendance page.
    """

    user_id: int
    user: Attendee
    room_role: RoomRole
    promoted: bool
    joined_at: datetime
    left_at: datetime | None


# Built once: the attendance page and both CSV files ask it.
_STAYS = (
    sa.select(
        Participation.user_id,
        User.display_name,
        User.username,
        # As stored ("instructor"): the rows are the key of what is worked out from
        # them, read on every attendance page, and a string costs no conversion.
        sa.type_coerce(Participation.room_role, sa.String),
        Participation.promoted,
        Participation.joined_at,
        Participation.left_at,
    )
    .join(User, User.id == Participation.user_id)
    .where(Participation.session_id == sa.bindparam("session_id"))
    .order_by(Participation.joined_at, Participation.id)
)


StayRow = tuple[int, str, str, str, bool, datetime, datetime | None]


def stay_rows(session: LiveSession) -> tuple[StayRow, ...]:
    """Every stay in the session as plain values, in order of joining: (user id,
    name, username, room role as stored, promoted, joined, left). A key for what is worked out
    from them: the same rows are the same attendance."""
    # Plain rows, on the session's connection: the ORM's handling of a result cost
    # as much again as the statement.
    rows = db.session.connection().execute(_STAYS, {"session_id": session.id}).all()
    return tuple(map(tuple, rows))


def stays(session: LiveSession, rows: Iterable[StayRow] | None = None) -> list[Stay]:
    """Every stay in the session (read as ``rows``, if given), in order of joining."""
    attendees: dict[int, Attendee] = {}
    found = []
    for user_id, name, username, room_role, promoted, joined_at, left_at in (
        stay_rows(session) if rows is None else rows
    ):
        attendee = attendees.get(user_id)
        if attendee is None:
            attendee = attendees[user_id] = Attendee(user_id, name, username)
        found.append(Stay(user_id, attendee, RoomRole(room_role), promoted, joined_at, left_at))
    return found


def counts_up(session: LiveSession, rows: Iterable[StayRow]) -> bool:
    """The meeting is live and someone is still in it: their time grows with the clock."""
    return session.ended_at is None and any(row[-1] is None for row in rows)


def stay_end(p: Stay, session: LiveSession, now: datetime) -> datetime:
    """When a stay ended; an open stay counts up to now (or the meeting's end)."""
    return p.left_at or session.ended_at or now


def minutes(p: Stay, session: LiveSession, now: datetime | None = None) -> str:
    """A stay's length in minutes, one decimal, as the page and the CSV show it."""
    end = stay_end(p, session, now or utcnow())
    return f"{max((end - p.joined_at).total_seconds(), 0) / 60:.1f}"


@dataclass(slots=True)
class PersonAttendance:
    """One person's line: first join, last leave, time present, and their stays."""

    user: Attendee
    stays: list[Stay] = field(default_factory=list)
    # Worked out once by ``people`` from the stays: the page reads them on every line.
    seconds_present: float = 0.0
    still_here: bool = False
    last_left: datetime | None = None

    @property
    def first_joined(self) -> datetime:
        return self.stays[0].joined_at

    @property
    def room_role(self) -> RoomRole:
        """The role of their latest stay (a promotion shows as what they ended as)."""
        return self.stays[-1].room_role

    @property
    def minutes_present(self) -> str:
        return f"{self.seconds_present / 60:.1f}"


def seconds_covered(spans: Iterable[tuple[datetime, datetime]]) -> float:
    """Total time covered by the spans, overlaps counted once (two tabs at once)."""
    total = 0.0
    current_start = current_end = None
    for start, end in sorted(spans):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total


def people(
    session: LiveSession, stays: list[Stay], now: datetime | None = None
) -> list[PersonAttendance]:
    """One line per person, in order of first arrival (open stays counted up to
    ``now``, the present unless given)."""
    now = now or utcnow()
    by_user: dict[int, PersonAttendance] = {}
    for stay in stays:  # already in order of joining
        person = by_user.get(stay.user_id)
        if person is None:
            person = by_user[stay.user_id] = PersonAttendance(stay.user)
        person.stays.append(stay)
    for person in by_user.values():
        person.seconds_present = seconds_covered(
            (p.joined_at, max(stay_end(p, session, now), p.joined_at)) for p in person.stays
        )
        person.still_here = any(p.left_at is None for p in person.stays)
        if not person.still_here:
            person.last_left = max(p.left_at for p in person.stays)
    return list(by_user.values())


def csv_cell(value: str) -> str:
    """The value as a CSV cell: a spreadsheet must never run a formula from someone's
    display name."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
